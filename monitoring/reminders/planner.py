"""The planner: which reminders each patient needs, as rows, set-based.

`needed()` reads only the rules engine's answer (blockers, window, due list): it never
re-derives a rule. The sender asks the same function at send time, so a reminder is sent only
while the engine still calls for it. `plan_clinic()` loads a clinic's patients in chunks with
`load_histories` (a fixed number of queries per chunk) and inserts the missing rows with one
`bulk_create(ignore_conflicts=True)`: the unique key (patient, kind, due_on) makes a second
planner running at the same time harmless. A cancelled row that is needed again (the patient
opted back in, the need came back) returns to pending in one conditional UPDATE for all such
rows; sent, failed, expired and in-flight rows are never touched.
"""

import datetime as dt
import gc
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import NamedTuple

from django.db import connection, transaction
from django.db.models import Case, DateTimeField, Exists, F, OuterRef, Q, Value, When
from django.db.models.constants import OnConflict
from django.db.models.functions import Concat, Left
from django.utils import timezone

import rules
from clinic.models import Clinic
from monitoring import codes
from monitoring.history import load_histories, load_patients
from monitoring.models import Course, Reminder, ReminderStatus
from patients.models import Patient

from .timing import clinic_send_at

log = logging.getLogger(__name__)

# Due codes reminded by date (the window's closing day included), how many days before, and the
# blockers reminded as soon as a window opens without them: all from the registry of codes.
DUE_CODE_KINDS = codes.reminded_due_codes()
DAYS_BEFORE = codes.reminder_days_before()
AS_SOON_AS_NEEDED = codes.reminded_blockers()
# The post-treatment test falls at LD + 30; patients whose course ended longer ago than this
# have nothing left to be reminded of.
ENDED_COURSE_GRACE_DAYS = 60
CHUNK = 1000


def needed(status: rules.Status) -> dict[str, dt.date]:
    """Reminder kind -> due date, for what the engine's answer calls for now."""
    wanted: dict[str, dt.date] = {}
    for item in status.due:
        kind = DUE_CODE_KINDS.get(item.code)
        if kind is not None:
            wanted[kind] = item.due_on
    if status.window is not None:
        # Needed by the day the window closes (its `window_closes` item is reminded above).
        closes_on = status.window.closes_on
        for blocker in status.blockers:
            kind = AS_SOON_AS_NEEDED.get(blocker.code)
            if kind is not None:
                wanted[kind] = closes_on
    return wanted


def send_day(kind: str, due_on: dt.date, today: dt.date) -> dt.date:
    days = DAYS_BEFORE.get(kind)
    return today if days is None else due_on - dt.timedelta(days=days)


def active_patients(clinic: Clinic, today: dt.date, *, include_opted_out: bool = False):
    """Patients who may still need a reminder: a current course, or one ended recently."""
    cutoff = today - dt.timedelta(days=ENDED_COURSE_GRACE_DAYS)
    open_course = Course.objects.filter(patient=OuterRef("pk")).filter(
        Q(last_dose_on__isnull=True) | Q(last_dose_on__gte=cutoff)
    )
    patients = Patient.objects.filter(clinic=clinic).filter(Exists(open_course))
    if not include_opted_out:
        patients = patients.filter(email_opt_out=False).exclude(email="")
    return patients.select_related("clinic").order_by("pk")


def statuses(clinic: Clinic, today: dt.date, **filters) -> Iterator[tuple[Patient, rules.Status]]:
    """(patient, the engine's answer for today) for the clinic's active patients, read in
    chunks: their ids once, then 1 + 10 queries per chunk of CHUNK patients, whatever their
    records."""
    ids = list(active_patients(clinic, today, **filters).values_list("pk", flat=True))
    for start in range(0, len(ids), CHUNK):
        chunk = load_patients(ids[start : start + CHUNK])
        # The cyclic collector is paused while a chunk's snapshots are alive (many small
        # acyclic objects: collecting passes over them cost more than the rules).
        gc.disable()
        try:
            histories = load_histories(chunk)
            for patient in chunk:
                yield patient, rules.status(histories[patient.pk][1], today)
        finally:
            gc.enable()


@dataclass
class PlanResult:
    patients: int = 0
    created: int = 0
    reactivated: int = 0


class Planned(NamedTuple):
    """A reminder row to be: plain values (a model instance per row costs more than the
    rules' answer it comes from)."""

    patient_id: int
    kind: str
    due_on: dt.date
    send_at: dt.datetime


def rows_for(patient: Patient, status: rules.Status, today: dt.date, now: dt.datetime):
    """The rows this patient needs (Planned), each at its next allowed instant.

    A send day already past (a due date first seen within the lead time, say a visit booked
    for tomorrow) is not skipped: the reminder goes at the next allowed instant, today's send
    hour or now, out of quiet hours, as long as that is still on or before the due date."""
    clinic = patient.clinic
    for kind, due_on in needed(status).items():
        if due_on < today:
            continue
        day = max(send_day(kind, due_on, today), today)
        when = clinic_send_at(clinic, day, now)
        if when.astimezone(clinic.zone).date() > due_on:
            continue  # quiet hours would push it past the due date: it would only expire
        yield Planned(patient.pk, kind, due_on, when)


def _reactivate(rows: list[tuple[int, Planned]], now: dt.datetime) -> int:
    """Cancelled rows needed again go back to pending, each with the send_at a new row would
    get; attempts are kept. One conditional UPDATE for all of them (status cancelled ->
    pending), so a row that is anything but cancelled by now (another planner got there, or
    it was sent, failed or expired) is left alone."""
    if not rows:
        return 0
    send_at = Case(
        *(When(pk=pk, then=Value(row.send_at)) for pk, row in rows),
        output_field=DateTimeField(),
    )
    return Reminder.objects.filter(
        pk__in=[pk for pk, _row in rows], status=ReminderStatus.CANCELLED
    ).update(
        status=ReminderStatus.PENDING,
        send_at=send_at,
        claimed_at=None,
        last_error=Left(Concat(Value("needed again after: "), F("last_error")), 500),
        updated_at=now,
    )


def _insert(rows: list[Planned], now: dt.datetime) -> None:
    """New pending rows in one statement run for every row (executemany), skipping a row
    another planner inserted meanwhile, as bulk_create(ignore_conflicts=True) would: the
    other columns take their model defaults, both timestamps `now`. Django's bulk_create
    prepares each field of each row in Python: a fifth of the planner's time (P2)."""
    ops = connection.ops
    given = ("patient", "kind", "due_on", "send_at")
    fields = [Reminder._meta.get_field(name) for name in given] + [
        f for f in Reminder._meta.concrete_fields if not f.primary_key and f.name not in given
    ]
    rest = [
        f.get_db_prep_save(
            now if f.name in ("created_at", "updated_at") else f.get_default(), connection
        )
        for f in fields[len(given) :]
    ]
    quote = ops.quote_name
    columns = ", ".join(quote(f.column) for f in fields)
    holes = ", ".join(["%s"] * len(fields))
    sql = " ".join(  # names from the model, values as parameters
        [
            ops.insert_statement(on_conflict=OnConflict.IGNORE),
            f"{quote(Reminder._meta.db_table)} ({columns}) VALUES ({holes})",
            ops.on_conflict_suffix_sql(fields, OnConflict.IGNORE, None, None),
        ]
    ).strip()
    day, instant = ops.adapt_datefield_value, ops.adapt_datetimefield_value
    with connection.cursor() as cursor:
        cursor.executemany(
            sql, [(r.patient_id, r.kind, day(r.due_on), instant(r.send_at), *rest) for r in rows]
        )


def plan_clinic(clinic: Clinic, now: dt.datetime | None = None) -> PlanResult:
    """Insert the rows the clinic's patients need and re-activate the cancelled ones needed
    again, a chunk of patients at a time so memory stays flat as the clinic grows: per chunk,
    1 + 10 queries to read the histories, one read of the chunk's existing rows, one
    bulk_create and at most one UPDATE."""
    now = now or timezone.now()
    today = clinic.today(now)
    result = PlanResult()
    wanted: list[Planned] = []
    patient_ids: list[int] = []
    for patient, status in statuses(clinic, today):
        result.patients += 1
        patient_ids.append(patient.pk)
        wanted.extend(rows_for(patient, status, today, now))
        if len(patient_ids) >= CHUNK:
            _save_chunk(patient_ids, wanted, today, now, result)
            patient_ids, wanted = [], []
    if patient_ids:
        _save_chunk(patient_ids, wanted, today, now, result)
    return result


def _save_chunk(patient_ids, wanted: list[Planned], today, now, result: PlanResult) -> None:
    existing = {
        (patient_id, kind, due_on): (pk, status)
        for pk, patient_id, kind, due_on, status in Reminder.objects.filter(
            patient_id__in=patient_ids, due_on__gte=today
        ).values_list("pk", "patient_id", "kind", "due_on", "status")
    }
    new, again = [], []
    for row in wanted:
        found = existing.get((row.patient_id, row.kind, row.due_on))
        if found is None:
            new.append(row)
        elif found[1] == ReminderStatus.CANCELLED:
            again.append((found[0], row))
    if new or again:
        with transaction.atomic():
            if new:
                _insert(new, now)
            result.reactivated += _reactivate(again, now)
    result.created += len(new)


def plan_all(now: dt.datetime | None = None) -> PlanResult:
    now = now or timezone.now()
    total = PlanResult()
    for clinic in Clinic.objects.order_by("pk"):
        result = plan_clinic(clinic, now)
        total.patients += result.patients
        total.created += result.created
        total.reactivated += result.reactivated
    log.info(
        "planned reminders: %s patients, %s new rows, %s cancelled rows needed again",
        total.patients,
        total.created,
        total.reactivated,
    )
    return total
