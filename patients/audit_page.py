"""The audit page as people read it: names instead of ids, the clinic's local time, one line
per event, and the burst of access events one visit writes folded into one line.

A page of the patient record writes an access event for each part it shows (the page, the
checklist, the prescription form), so a single visit left five lines within seconds; lines of
the same user and record within a minute are one line, with the count.
"""

import datetime
from dataclasses import dataclass, field

from auditlog.models import LogEntry
from django import forms
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import FieldDoesNotExist
from django.core.paginator import Paginator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_date

from clinic import dates
from clinic.audit import person
from patients.models import Patient
from patients.records import RECORD_TYPES as RECORDS

FOLD_WITHIN = datetime.timedelta(minutes=1)
PAGE_SIZE = 50
ACTION_WORDS = {
    LogEntry.Action.CREATE: "Created",
    LogEntry.Action.UPDATE: "Changed",
    LogEntry.Action.DELETE: "Deleted",
    LogEntry.Action.ACCESS: "Viewed",
}
# The record types a filter offers, as content-type model names: the registry's, then the
# clinic's own settings.
RECORD_TYPES = [(t.content_type_model, t.label) for t in RECORDS.values()] + [
    ("clinic", "Clinic settings")
]
# Records the patient writes on the self-service page, where no one is signed in.
BY_PATIENT = {t.content_type_model for t in RECORDS.values() if t.by_patient}
# Bookkeeping columns every record has: naming them on a "Created" line says nothing.
QUIET_FIELDS = {
    "id",
    "patient",
    "clinic",
    "course",
    "visit",
    "created_at",
    "updated_at",
    "recorded_by",
    "created_by",
    "verified_by",
}


# The largest id a column holds (a bigint); a larger number matches no record.
MAX_ID = 2**63 - 1
# No clinic kept audit events from before this; an earlier date is a typo (and the year 1 in a
# zone east of UTC does not fit in a datetime).
EARLIEST_SINCE = datetime.date(2000, 1, 1)


class AuditFilters(forms.Form):
    """The page's filters, parsed as the API parses its query parameters (api): the text
    refuses NUL, which PostgreSQL refuses in any parameter; a number is ASCII digits (str.isdigit
    says yes to "²", int() says no); a choice is one of those offered. A bad value is named on
    the page and left out of the filter, never a 500 (docs/security.md)."""

    actor = forms.CharField(
        required=False,
        max_length=150,
        label="Who",
        error_messages={
            "null_characters_not_allowed": "a name cannot hold a NUL character.",
            "max_length": "a name or username of at most 150 characters.",
        },
    )
    action = forms.TypedChoiceField(
        required=False,
        label="Action",
        choices=[(value, ACTION_WORDS[value]) for value, _ in LogEntry.Action.choices],
        coerce=int,
        empty_value=None,
        error_messages={"invalid_choice": "choose one of the actions listed."},
    )
    model = forms.ChoiceField(
        required=False,
        label="Record",
        choices=RECORD_TYPES,
        error_messages={"invalid_choice": "choose one of the record types listed."},
    )
    patient = forms.IntegerField(
        required=False,
        label="Patient",
        min_value=1,
        max_value=MAX_ID,
        error_messages={
            key: "not a patient number." for key in ("invalid", "min_value", "max_value")
        },
    )
    since = forms.DateField(
        required=False,
        label="Since",
        error_messages={"invalid": "enter a valid date (year-month-day)."},
    )

    def clean_since(self):
        since = self.cleaned_data["since"]
        if since and since < EARLIEST_SINCE:
            raise forms.ValidationError(f"enter a date from {EARLIEST_SINCE.year} on.")
        return since

    def problems(self) -> list[str]:
        """ "Who: …" for each filter left out."""
        return [
            f"{self.fields[name].label}: {message}"
            for name, messages in self.errors.items()
            for message in messages
        ]

    def shown(self) -> dict[str, str]:
        """The valid filters as the form's inputs show them again; a bad one is cleared."""
        data = self.cleaned_data
        return {
            "actor": data.get("actor") or "",
            "action": "" if data.get("action") is None else str(data["action"]),
            "model": data.get("model") or "",
            "patient": str(data["patient"]) if data.get("patient") else "",
            "since": data["since"].isoformat() if data.get("since") else "",
        }


def filtered(entries: models.QuerySet, filters: AuditFilters, clinic) -> models.QuerySet:
    """The entries the form's valid filters select (call filters.is_valid() first)."""
    data = filters.cleaned_data
    if actor := data.get("actor"):
        entries = entries.filter(
            Q(actor__username__icontains=actor)
            | Q(actor__first_name__icontains=actor)
            | Q(actor__last_name__icontains=actor)
        )
    if data.get("action") is not None:
        entries = entries.filter(action=data["action"])
    if data.get("model"):
        entries = entries.filter(content_type__model=data["model"])
    if data.get("patient"):
        entries = entries.filter(additional_data__patient_id=data["patient"])
    if data.get("since"):
        start = datetime.datetime.combine(data["since"], datetime.time(), tzinfo=clinic.zone)
        entries = entries.filter(timestamp__gte=start)
    return entries


@dataclass
class Line:
    """One line of the audit page: one event, or a fold of access events."""

    entry_ids: list[int]
    newest: datetime.datetime
    oldest: datetime.datetime
    entry: LogEntry | None = None
    who: str = ""
    record: str = ""
    patient: Patient | None = None
    changes: list[tuple[str, str, str]] = field(default_factory=list)
    summary: str = ""
    when: str = ""  # the clinic's local time, to the minute
    span: str = ""  # a fold: the count and the minutes it covers

    @property
    def count(self) -> int:
        return len(self.entry_ids)

    # The entry's own names, so a filter test can read a line like an entry.
    @property
    def actor(self):
        return self.entry.actor if self.entry else None

    @property
    def object_pk(self) -> str:
        return self.entry.object_pk if self.entry else ""

    @property
    def action(self) -> str:
        return ACTION_WORDS.get(self.entry.action, "") if self.entry else ""


def fold(rows) -> list[Line]:
    """Lines from (id, timestamp, action, actor_id, content_type_id, object_pk), newest first:
    an access event joins the line of the same user and record begun less than a minute later."""
    lines: list[Line] = []
    open_folds: dict[tuple, Line] = {}
    for entry_id, timestamp, action, actor_id, content_type_id, object_pk in rows:
        if action == LogEntry.Action.ACCESS:
            key = (actor_id, content_type_id, object_pk)
            line = open_folds.get(key)
            if line is not None and line.newest - timestamp < FOLD_WITHIN:
                line.entry_ids.append(entry_id)
                line.oldest = timestamp
                continue
            line = Line([entry_id], timestamp, timestamp)
            open_folds[key] = line
        else:
            line = Line([entry_id], timestamp, timestamp)
        lines.append(line)
    return lines


def page_of_lines(entries: models.QuerySet, page_number, clinic):
    """Page `page_number` of folded lines (PAGE_SIZE each), named for people."""
    rows = entries.values_list(
        "id", "timestamp", "action", "actor_id", "content_type_id", "object_pk"
    )
    page = Paginator(fold(rows.iterator(chunk_size=2000)), PAGE_SIZE).get_page(page_number)
    describe(list(page), clinic)
    return page


def describe(lines: list[Line], clinic) -> None:
    """Fill each line's who, record and changes: a fixed number of queries per page."""
    by_id = LogEntry.objects.select_related("actor", "content_type").in_bulk(
        [line.entry_ids[0] for line in lines]
    )
    for line in lines:
        line.entry = by_id[line.entry_ids[0]]
    patient_ids = {
        (line.entry.additional_data or {}).get("patient_id")
        for line in lines
        if isinstance(line.entry.additional_data, dict)
    }
    patients = Patient.objects.filter(clinic=clinic, pk__in=patient_ids - {None}).in_bulk()
    user_ids = set()
    for line in lines:
        for name, values in _changes(line.entry).items():
            if _is_user_field(line.entry.content_type, name):
                user_ids.update(v for v in values if v and str(v).isdigit())
    users = get_user_model().objects.in_bulk([int(u) for u in user_ids])
    for line in lines:
        entry = line.entry
        data = entry.additional_data if isinstance(entry.additional_data, dict) else {}
        line.patient = patients.get(data.get("patient_id"))
        line.who = _who(entry)
        line.record = _record(entry, line.patient)
        line.changes = _readable_changes(entry, users)
        newest, oldest = local(line.newest, clinic), local(line.oldest, clinic)
        line.when = f"{dates.moment(line.newest, clinic.zone)}"
        if line.count > 1:
            minutes = (
                f"{dates.time(oldest)}–{dates.time(newest)}"
                if dates.time(oldest) != dates.time(newest)
                else ""
            )
            line.span = f"{line.count} times" + (f", {minutes}" if minutes else "")
        if entry.action == LogEntry.Action.CREATE:
            line.summary = "; ".join(f"{label}: {new}" for label, _, new in line.changes)
            line.changes = []


def _who(entry: LogEntry) -> str:
    if entry.actor is not None:
        return person(entry.actor)
    if entry.actor_email:
        return entry.actor_email
    if entry.action == LogEntry.Action.ACCESS or entry.content_type.model in BY_PATIENT:
        return "The patient (emailed link)"
    return "The system"


def _record(entry: LogEntry, patient: Patient | None) -> str:
    model = entry.content_type.model_class()
    kind = sentence_case(str(model._meta.verbose_name)) if model else entry.content_type.model
    if entry.content_type.model == "patient":
        return f"Patient record of {patient.full_name}" if patient else entry.object_repr
    if entry.content_type.model == "clinic":
        return "Clinic settings"
    return f"{kind} of {patient.full_name}" if patient else kind


def _changes(entry: LogEntry) -> dict:
    changes = entry.changes_dict
    return changes if isinstance(changes, dict) else {}


def _field(content_type: ContentType, name: str):
    model = content_type.model_class()
    try:
        return model._meta.get_field(name) if model else None
    except FieldDoesNotExist:
        return None


def _is_user_field(content_type: ContentType, name: str) -> bool:
    model_field = _field(content_type, name)
    return bool(
        model_field is not None
        and model_field.is_relation
        and model_field.related_model is get_user_model()
    )


def _readable_changes(entry: LogEntry, users: dict) -> list[tuple[str, str, str]]:
    out = []
    for name, values in _changes(entry).items():
        if entry.action == LogEntry.Action.CREATE and name in QUIET_FIELDS:
            continue
        model_field = _field(entry.content_type, name)
        if model_field is not None and not model_field.concrete:
            continue  # a reverse relation ("monitoring.Visit.None"): nothing a person reads
        label = sentence_case(str(getattr(model_field, "verbose_name", name)))
        old, new = (list(values) + [None, None])[:2]
        out.append((label, _value(model_field, old, users), _value(model_field, new, users)))
    if entry.action == LogEntry.Action.CREATE:
        out = [change for change in out if change[2] != "—"]
    return out


def _value(model_field, value, users: dict) -> str:
    if value is None or value in ("None", ""):
        return "—"
    if model_field is not None and model_field.is_relation:
        if model_field.related_model is get_user_model() and str(value).isdigit():
            user = users.get(int(value))
            return person(user) if user else "a former user"
        return "set"
    if isinstance(model_field, models.DateField) and not isinstance(
        model_field, models.DateTimeField
    ):
        day = parse_date(str(value))
        return dates.day(day) if day else str(value)
    if isinstance(model_field, models.BooleanField):
        return {"True": "yes", "False": "no"}.get(str(value), str(value))
    choices = dict(model_field.flatchoices) if model_field is not None else {}
    if choices:
        return str(choices.get(value, value))
    return str(value)


def local(moment: datetime.datetime, clinic) -> datetime.datetime:
    return timezone.localtime(moment, clinic.zone)


def sentence_case(text: str) -> str:
    """First letter up, the rest as written: "RMA number", "iPLEDGE entry" stay readable
    (str.capitalize would give "Rma number" and "Ipledge entry")."""
    first = text.split(" ", 1)[0]
    if any(c.isupper() for c in first[1:]):
        return text  # an acronym or a brand leads: keep it as it is spelled
    return text[:1].upper() + text[1:]
