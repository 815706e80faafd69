"""One patient's history read in the same query as the row that needs it (the send-time check).

`monitoring.history.load_histories` reads ten queries whatever the number of patients: right
for batches, but the sender checks one patient per message, so those ten round trips were
most of a send. `with_history(queryset)` adds to a query over reminders one column,
`history_json`: the reminder's patient's current course and records as JSON arrays, each a
correlated subquery, so reading the reminder, its patient, its clinic and the history is a
single query. `history_of(reminder)` turns that column into the rules engine's snapshot with
the same code as every other reader: the rows are the fields of `history.SNAPSHOT_FIELDS`, in
each model's default ordering (what `load_snapshot_rows` gets), grouped by `history._group`
and built by `history.snapshot`. tests/reminders/test_history_row.py checks that the two
readers give equal snapshots.

The SQL is built once per database vendor from the models' metadata (tables, columns,
orderings); the only value in it is the outer row's patient column. PostgreSQL and SQLite.
"""

import datetime as dt
import decimal
import json
import weakref
from collections import namedtuple
from functools import cache

from django.db import connections, models, router
from django.db.models import F, Func, TextField

import rules
from clinic.models import Clinic
from monitoring import history
from monitoring.models import MoodReview, Reminder, Visit
from patients.models import Patient
from patients.records import RECORD_TYPES

# The record types of history.SNAPSHOT_FIELDS and their models (the registry's), in the
# column's order: the course first, as history_of reads it.
MODELS = {
    key: RECORD_TYPES[key].model
    for key in sorted(history.SNAPSHOT_FIELDS, key=lambda key: key != "courses")
}


def _field(model, name: str) -> models.Field:
    if name == "pk":
        return model._meta.pk
    return model._meta.get_field(name.removesuffix("_id") if name.endswith("_id") else name)


def _order_by(model, *, reverse: bool = False) -> list[tuple[str, bool]]:
    """(column, descending) of the model's default ordering: the order the ORM reads rows in."""
    ordering = []
    for item in model._meta.ordering:
        if not isinstance(item, str):
            raise NotImplementedError(f"{model.__name__}: ordering by an expression")
        descending = item.startswith("-")
        name = item.lstrip("-")
        column = _field(model, "pk" if name in ("pk", "id") else name).column
        ordering.append((column, descending != reverse))
    return ordering


def _converter(field: models.Field):
    """JSON value -> what values_list gives for that field."""
    if isinstance(field, models.DateTimeField):
        raise NotImplementedError(f"{field}: no datetimes in the snapshot yet")
    if isinstance(field, models.DateField):
        return lambda v: None if v is None else dt.date.fromisoformat(v)
    if isinstance(field, models.DecimalField):
        step = decimal.Decimal(1).scaleb(-field.decimal_places)
        return lambda v: None if v is None else decimal.Decimal(v).quantize(step)
    if isinstance(field, models.BooleanField):
        return lambda v: None if v is None else bool(v)
    return lambda v: v


class _Kind:
    """How one record type travels: its columns, its row type, its converters."""

    def __init__(self, key: str):
        self.key = key
        self.model = MODELS[key]
        self.names = history.SNAPSHOT_FIELDS[key]
        self.fields = [_field(self.model, name) for name in self.names]
        self.row = namedtuple(f"{key}_row", self.names, rename=False)  # noqa: PYI024
        self.converters = [_converter(field) for field in self.fields]

    def make(self, values: list):
        return self.row(*(convert(v) for convert, v in zip(self.converters, values, strict=True)))


@cache
def _kinds() -> dict[str, _Kind]:
    return {key: _Kind(key) for key in MODELS}


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _columns(kind: _Kind, vendor: str) -> list[str]:
    out = []
    for field in kind.fields:
        column = f"t.{_quote(field.column)}"
        if vendor == "sqlite" and isinstance(field, models.JSONField):
            column = f"json({column})"  # stored as text: embed it as JSON, not as a string
        out.append(column)
    return out


def _order_sql(ordering, prefix: str = "t") -> str:
    return ", ".join(f"{prefix}.{_quote(c)}{' DESC' if desc else ''}" for c, desc in ordering)


@cache
def history_sql(vendor: str) -> str:
    """The JSON text of one patient's records, `{patient}` standing for the patient column.

    A JSON array: the current course (an array of its fields, or null), then for each other
    record type an array of rows, then the mood reviews as [visit id, date] pairs."""
    if vendor not in ("postgresql", "sqlite"):
        raise NotImplementedError(f"the send-time history query is not written for {vendor}")
    pg = vendor == "postgresql"
    array = "json_build_array" if pg else "json_array"
    parts = []
    for key, kind in _kinds().items():
        table = _quote(kind.model._meta.db_table)
        row = f"{array}({', '.join(_columns(kind, vendor))})"
        where = f"t.{_quote(kind.model._meta.get_field('patient').column)} = {{patient}}"
        if key == "courses":  # the latest course, as load_snapshot_rows keeps the last one
            order = _order_sql(_order_by(kind.model, reverse=True))
            # Tables and columns from the models' metadata, no values (so no injection).
            latest = f"SELECT {row} FROM {table} t WHERE {where} ORDER BY {order}"  # noqa: S608  # nosec B608
            parts.append(f"({latest} LIMIT 1)")
            continue
        order = _order_sql(_order_by(kind.model))
        parts.append(_aggregate(row, f"FROM {table} t WHERE {where}", order, pg=pg))
    visit, review = Visit._meta, MoodReview._meta
    mood_from = (
        f"FROM {_quote(review.db_table)} t JOIN {_quote(visit.db_table)} v"
        f" ON v.{_quote(visit.pk.column)} = t.{_quote(review.get_field('visit').column)}"
        f" WHERE v.{_quote(visit.get_field('patient').column)} = {{patient}}"
    )
    reviewed_on = _quote(review.get_field("reviewed_on").column)
    mood_row = f"{array}(t.{_quote(review.get_field('visit').column)}, t.{reviewed_on})"
    parts.append(_aggregate(mood_row, mood_from, f"t.{reviewed_on}", pg=pg))
    if pg:
        return f"json_build_array({', '.join(parts)})::text"
    return f"json_array({', '.join(f'json({part})' for part in parts)})"


def _aggregate(row: str, source: str, order: str, *, pg: bool) -> str:
    if pg:
        return f"(SELECT coalesce(json_agg({row} ORDER BY {order}), '[]') {source})"
    # SQLite keeps a subquery's order through json_group_array; a JSON value that crosses a
    # subquery is text again, hence json().
    inner = f"SELECT {row} AS x {source} ORDER BY {order}"  # noqa: S608  # metadata only
    return f"(SELECT json_group_array(json(x)) FROM ({inner}))"  # noqa: S608  # nosec B608


class PatientHistoryJSON(Func):
    """The history JSON of the patient in the outer row's patient column (see history_sql)."""

    output_field = TextField()

    def __init__(self, patient: str = "patient_id"):
        super().__init__(F(patient))

    def as_sql(self, compiler, connection, **extra):
        column, params = compiler.compile(self.source_expressions[0])
        if params:
            raise ValueError("the patient column compiles with parameters")
        return history_sql(connection.vendor).replace("{patient}", column), []


def with_history(queryset):
    """`queryset` (over reminders) with each row's patient history in `history_json`."""
    return queryset.annotate(history_json=PatientHistoryJSON())


def history_of(patient, text: str) -> rules.History:
    """The rules engine's snapshot of `patient` (with its clinic) from a `history_json` value."""
    values = json.loads(text, parse_float=decimal.Decimal)
    kinds = _kinds()
    course_values, *lists, moods = values
    if course_values is None:
        raise KeyError(patient.pk)  # no course: load_histories fails the same way
    keys = [key for key in kinds if key != "courses"]
    rows = {
        key: [kinds[key].make(v) for v in items] for key, items in zip(keys, lists, strict=True)
    }
    reviews: dict[int, list] = {}
    for visit_id, reviewed_on in moods:
        reviews.setdefault(visit_id, []).append(dt.date.fromisoformat(reviewed_on))
    records = history._group(
        [patient.pk],
        courses={patient.pk: kinds["courses"].make(course_values)},
        mood_reviews={visit_id: tuple(dates) for visit_id, dates in reviews.items()},
        **rows,
    )
    return history.snapshot(patient, records[patient.pk])


# The send-time read --------------------------------------------------------------------------
# What `with_history(Reminder.objects.select_related("patient__clinic").filter(pk=...))` reads,
# as SQL written once per process: building and compiling that queryset for every message cost
# more than running it. The rows become model instances as the ORM makes them (the backend's
# and the fields' converters, then Model.from_db).
_JOINED = ((Reminder, "r"), (Patient, "p"), (Clinic, "c"))


@cache
def claimed_row_sql(vendor: str) -> str:
    reminder, patient, clinic = (model._meta for model, _ in _JOINED)
    columns = [
        f"{alias}.{_quote(field.column)}"
        for model, alias in _JOINED
        for field in model._meta.concrete_fields
    ]
    history_json = history_sql(vendor).replace(
        "{patient}", f"r.{_quote(reminder.get_field('patient').column)}"
    )
    return (
        f"SELECT {', '.join(columns)}, {history_json}"  # noqa: S608  # nosec B608  # metadata
        f" FROM {_quote(reminder.db_table)} r"
        f" JOIN {_quote(patient.db_table)} p"
        f" ON p.{_quote(patient.pk.column)} = r.{_quote(reminder.get_field('patient').column)}"
        f" JOIN {_quote(clinic.db_table)} c"
        f" ON c.{_quote(clinic.pk.column)} = p.{_quote(patient.get_field('clinic').column)}"
        f" WHERE r.{_quote(reminder.pk.column)} IN ({{ids}})"
    )


_converters: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _row_converters(connection) -> list:
    """Per model, (attnames, [(position, converters, column)]) for this database connection."""
    found = _converters.get(connection)
    if found is None:
        found = []
        for model, alias in _JOINED:
            fields = model._meta.concrete_fields
            steps = []
            for index, field in enumerate(fields):
                column = field.get_col(alias)
                chain = connection.ops.get_db_converters(column) + column.get_db_converters(
                    connection
                )
                if chain:
                    steps.append((index, chain, column))
            found.append(([field.attname for field in fields], steps))
        _converters[connection] = found
    return found


def claimed_reminders(ids) -> dict[int, Reminder]:
    """The reminders of `ids` that exist, by id, each with its patient and clinic attached and
    `history_json` set: one query for the whole batch the sender was handed."""
    ids = tuple(dict.fromkeys(ids))
    if not ids:
        return {}
    connection = connections[router.db_for_read(Reminder)]
    sql = claimed_row_sql(connection.vendor).replace("{ids}", ", ".join(["%s"] * len(ids)))
    with connection.cursor() as cursor:
        cursor.execute(sql, ids)
        rows = cursor.fetchall()
    converters = _row_converters(connection)
    found = {}
    for row in rows:
        instances, start = [], 0
        for (model, _), (names, steps) in zip(_JOINED, converters, strict=True):
            values = list(row[start : start + len(names)])
            for index, chain, column in steps:
                for convert in chain:
                    values[index] = convert(values[index], column, connection)
            instances.append(model.from_db(connection.alias, names, values))
            start += len(names)
        reminder, patient, clinic = instances
        patient.clinic = clinic
        reminder.patient = patient
        reminder.history_json = row[start]
        found[reminder.pk] = reminder
    return found


def claimed_reminder(reminder_id: int) -> Reminder | None:
    """The one reminder of `claimed_reminders`, or None."""
    return claimed_reminders([reminder_id]).get(reminder_id)
