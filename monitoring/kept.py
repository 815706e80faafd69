"""The kept triage rows (docs/clinic-day.md, "Kept rows"): computed outside requests, read by
Today, its CSV, the staff digest and the API worklist.

No request computes the whole clinic. Each clinic has two slots of rows (`TriageSlot`): slot
`d.toordinal() % 2` answers for date d. The periodic task (`refresh_clinic`, every few minutes
from beat) keeps today's slot and tomorrow's current, so at midnight the new day's rows are
already there; a settings change only moves the clinic's wanted version and asks for a refresh.
While a slot is behind, readers are served the newest rows there are, marked "as of" their
time, and a refresh is requested (`read`).

Writes: every write to a patient's records rewrites that patient's rows in the writer's
transaction (`refresh_patient`); a refresh recomputes every patient and writes only the rows
whose answer changed, so a refresh of an unchanged clinic writes nothing. The counts per group
and risk category (`TriageCount`) change in the same transaction as the rows they count.
"""

from __future__ import annotations

import datetime
import gc
import logging
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from celery import current_app
from django.core.cache import cache
from django.db import transaction
from django.db.models import Count, F, Sum
from django.utils import timezone

import rules
from clinic.prepared import Prepared
from patients.models import Patient
from rules import ipledge

from . import codes
from .history import load_histories, load_patients, of_patients
from .models import IpledgeEntry, TriageCount, TriageRow, TriageSlot

log = logging.getLogger(__name__)

CHUNK = 1000

# Raise it when what a kept row holds is computed or worded differently: slots written by
# another format are behind, whatever their date, and the refresh rewrites what changed.
KEPT_FORMAT = 3  # 3: rows per slot, with the risk category, MRN and birth date

# What a kept row holds beside its patient and slot: the answer compared to decide a write.
KEPT_FIELDS = (
    "group",
    "sort_on",
    "step",
    "overdue",
    "what",
    "next_prescription_needed_on",
    "mood_visits",
    "family_name",
    "given_name",
    "risk_category",
    "mrn",
    "birth_date",
)

# A requested refresh is not requested again for this long (each Today of a stale clinic
# would otherwise queue one).
REQUEST_AGAIN_AFTER = 60  # seconds
REFRESH_TASK = "monitoring.tasks.refresh_clinic_triage"
# A refresh holds the clinic's lock at most this long (a crashed worker's lock expires).
LOCK_SECONDS = 30 * 60


def slot_of(on: datetime.date) -> int:
    return on.toordinal() % 2


# Computing a row ------------------------------------------------------------------------------


def _what(found: rules.Triage, status: rules.Status, sheet: ipledge.Sheet | None) -> str:
    what = _step_words(found, status, sheet)
    # What the patient reported, when it differs from what staff recorded, stays on the row
    # whatever its first step: staff need it when they call the patient (docs/clinic-day.md).
    for blocker in status.blockers:
        if blocker.code == rules.constants.CONTRACEPTION_MISMATCH and found.step != blocker.code:
            return f"{what} {blocker.message}".strip()
    return what


def _step_words(found: rules.Triage, status: rules.Status, sheet: ipledge.Sheet | None) -> str:
    for blocker in status.blockers:
        if blocker.code == found.step:
            return blocker.message
    if found.step in codes.DUE:
        return codes.label(found.step)
    if found.step == rules.WRITE_PRESCRIPTION:
        return "Nothing blocks the next prescription."
    if found.step == rules.ENTER_IN_IPLEDGE:
        names = [ipledge.SHORT_NAMES[i.item] for i in sheet.pending]
        return f"To enter in iPLEDGE: {rules.text.listing(names)}."
    if found.step == rules.RECORD_PICKUP:
        return f"Prescription written {rules.text.day(status.awaiting_pickup_since)}."
    return ""


def triage_fields(patient, history: rules.History, on: datetime.date, ticks=()) -> dict:
    """What a kept row holds for `patient` on `on`: the engine's answer and the iPLEDGE entry
    sheet, triaged.

    The sheet costs as much as the engine's answer, and triage reads it only for patients
    whose window is open or whose prescription waits at the pharmacy: it is built only when
    its answer would change the triage (the sheet's `ENTER_IN_IPLEDGE` step comes from it)."""
    status = rules.status(history, on)
    horizon = patient.clinic.triage_horizon_days
    found = rules.triage(status, on, horizon, to_enter=False)
    sheet = None
    if rules.triage(status, on, horizon, to_enter=True) != found:
        sheet = ipledge.build(history, on, ticks)
        found = rules.triage(status, on, horizon, to_enter=sheet.to_enter)
    waiting = []
    if found.step == rules.constants.MOOD_REVIEW_REQUIRED:
        waiting = [v.id for v in rules.awaiting_mood_review(history, on)]
    return {
        "group": found.group,
        "sort_on": found.sort_on,
        "step": found.step or "",
        "overdue": found.overdue,
        "what": _what(found, status, sheet)[:500],
        "next_prescription_needed_on": status.next_prescription_needed_on,
        "mood_visits": waiting,
        "family_name": patient.family_name,
        "given_name": patient.given_name,
        "risk_category": patient.risk_category,
        "mrn": patient.mrn,
        "birth_date": patient.birth_date,
    }


def triaged(
    patients, dates: Iterable[datetime.date]
) -> Iterator[tuple[Patient, dict[datetime.date, dict]]]:
    """(patient, {date: kept-row fields}) for each patient, read chunk by chunk.

    The patients' ids are read first, in one query: filtering the queryset again for each
    chunk would evaluate it once per chunk (at 100,000 patients, minutes). The cyclic garbage
    collector is paused while a chunk's snapshots are alive: they are many small acyclic
    objects (a cut of a snapshot is marked with its date, not linked back), and collecting
    passes over them cost more than the rules."""
    dates = tuple(dates)
    ids = list(patients.order_by("pk").values_list("pk", flat=True))
    for start in range(0, len(ids), CHUNK):
        yield from _triaged_chunk(ids[start : start + CHUNK], dates)


def _triaged_chunk(ids: list[int], dates: tuple[datetime.date, ...]):
    chunk = load_patients(ids)
    gc.disable()
    try:
        histories = load_histories(chunk)
        ticks = _ticks([p.pk for p in chunk])
        found = []
        for patient in chunk:
            history = histories[patient.pk][1]
            mine = ticks.get(patient.pk, ())
            found.append((patient, {on: triage_fields(patient, history, on, mine) for on in dates}))
    finally:
        gc.enable()
    return found


def _ticks(patient_ids: list[int]) -> dict[int, list[ipledge.Tick]]:
    """The entry sheet's ticks of many patients, one query."""
    found: dict[int, list[ipledge.Tick]] = {}
    rows = IpledgeEntry.objects.filter(**of_patients(patient_ids)).order_by("entered_at", "id")
    for patient_id, item, since, value in rows.values_list(
        "patient_id", "item", "cycle_from", "value"
    ):
        found.setdefault(patient_id, []).append(ipledge.Tick(item, since, value))
    return found


# Slots ----------------------------------------------------------------------------------------


def start_clinic(clinic) -> None:
    """A new clinic has no patients: its slots for today and tomorrow are complete as they are."""
    today = clinic.today()
    for on in (today, today + datetime.timedelta(days=1)):
        TriageSlot.objects.get_or_create(
            clinic=clinic,
            slot=slot_of(on),
            defaults={
                "on": on,
                "ready": True,
                "version": 1,
                "wanted": 1,
                "format": KEPT_FORMAT,
                "refreshed_at": timezone.now(),
            },
        )


def slots(clinic) -> dict[int, TriageSlot]:
    """The clinic's two slots, made (empty, not ready) for a clinic that had none."""
    found = {s.slot: s for s in TriageSlot.objects.filter(clinic=clinic)}
    for slot in (0, 1):
        if slot not in found:
            found[slot], _ = TriageSlot.objects.get_or_create(clinic=clinic, slot=slot)
    return found


@dataclass(frozen=True)
class Reading:
    """Which rows a reader of the clinic's day is served, and how old they are."""

    slot: int | None  # None: the clinic has no rows yet
    on: datetime.date | None  # the date the rows answer for
    current: bool  # the rows are the answer for today, as of now
    refreshed_at: datetime.datetime | None

    def rows(self, clinic):
        if self.slot is None:
            return TriageRow.objects.none()
        return TriageRow.objects.filter(clinic=clinic, slot=self.slot)

    def counts(self, clinic, *, category: str | None = None) -> dict[str, int]:
        """Each group's count, from the kept counts: a read of a few rows per group."""
        found = dict.fromkeys(rules.TRIAGE_GROUPS, 0)
        if self.slot is None:
            return found
        values = {"clinic_id": clinic.pk, "slot": self.slot}
        if category:
            values["category"] = category
        for group, n in COUNTS_QUERIES[bool(category)](**values):
            found[group] = found.get(group, 0) + (n or 0)
        return found


def _counts(with_category: bool) -> Prepared:
    """Each group's kept count of a slot: every page of Today asks, so it is compiled once per
    process (clinic/prepared.py)."""

    def build(clinic_id, slot, category=None):
        kept = TriageCount.objects.filter(clinic_id=clinic_id, slot=slot)
        if with_category:
            kept = kept.filter(risk_category=category)
        return kept.values_list("group").annotate(total=Sum("n")).order_by()

    return Prepared(build, ints=("clinic_id", "slot"), texts=("category",) if with_category else ())


COUNTS_QUERIES = {with_category: _counts(with_category) for with_category in (False, True)}


def choose(found: dict[int, TriageSlot], today: datetime.date) -> Reading:
    """Today's slot when it is complete for today; else the complete slot with the latest date
    up to today (yesterday's, after a missed preparation); else whatever answers for today."""
    ready = [s for s in found.values() if s.ready and s.on is not None and s.on <= today]
    best = next((s for s in ready if s.on == today), None)
    if best is None and ready:
        best = max(ready, key=lambda s: s.on)
    if best is None:
        best = next((s for s in found.values() if s.on == today), None)
    if best is None:
        return Reading(None, None, False, None)
    return Reading(best.slot, best.on, best.current(today), best.refreshed_at)


def read(clinic, today: datetime.date | None = None) -> Reading:
    """The rows to serve for the clinic's today (one query); a refresh is requested when they
    are behind. Never computes anything itself."""
    today = today or clinic.today()
    reading = choose({s.slot: s for s in TriageSlot.objects.filter(clinic=clinic)}, today)
    if not reading.current:
        request_refresh(clinic)
    return reading


def request_refresh(clinic) -> None:
    """Ask a worker to refresh the clinic's rows, once the caller's transaction commits; at
    most once a minute per clinic. A broker that cannot be reached is logged, never raised:
    the page is served from the rows there are, and beat's periodic refresh catches up."""
    if not cache.add(f"triage-refresh-requested:{clinic.pk}", 1, REQUEST_AGAIN_AFTER):
        return

    def send():
        try:
            # By name from Celery's registry: the task module wraps this one, not the reverse.
            current_app.tasks[REFRESH_TASK].apply_async((clinic.pk,), retry=False)
        except Exception:  # the broker is down: the periodic refresh will run later
            log.warning("could not ask for a triage refresh of clinic %s", clinic.pk)

    transaction.on_commit(send)


def mark_stale(clinic) -> None:
    """The clinic's settings changed (horizon, rule dates, time zone): every answer may have.
    Moves the wanted version (two rows) and asks for a refresh; the rows are rewritten by the
    worker, never in the request."""
    slots(clinic)
    TriageSlot.objects.filter(clinic=clinic).update(wanted=F("wanted") + 1)
    cache.delete(f"triage-refresh-requested:{clinic.pk}")
    request_refresh(clinic)


# Writing rows ---------------------------------------------------------------------------------


def _count_key(values: dict | tuple) -> tuple[str, str]:
    if isinstance(values, dict):
        return values["group"], values["risk_category"]
    return values[0], values[KEPT_FIELDS.index("risk_category")]


def apply_counts(clinic_id: int, slot: int, deltas: Counter) -> None:
    """Add `deltas` ((group, category) -> change) to the kept counts, in key order (two writers
    changing the same counts lock them in the same order, so they never deadlock)."""
    for (group, category), delta in sorted(deltas.items()):
        if not delta:
            continue
        kept = TriageCount.objects.filter(
            clinic_id=clinic_id, slot=slot, group=group, risk_category=category
        )
        if not kept.update(n=F("n") + delta):
            TriageCount.objects.get_or_create(
                clinic_id=clinic_id, slot=slot, group=group, risk_category=category
            )
            kept.update(n=F("n") + delta)


def _write(clinic_id: int, slot: int, computed: list[tuple[int, dict]]) -> int:
    """Write the rows of `computed` ((patient id, fields)) whose answer differs from the kept
    one, and their counts; in the caller's transaction. Returns the rows written."""
    ids = [pk for pk, _ in computed]
    kept = {
        row[0]: row[1:]
        for row in TriageRow.objects.select_for_update()
        .filter(slot=slot, patient_id__in=ids)
        .order_by("patient_id")
        .values_list("patient_id", *KEPT_FIELDS)
    }
    changed, deltas = [], Counter()
    for pk, fields in computed:
        values = tuple(fields[name] for name in KEPT_FIELDS)
        old = kept.get(pk)
        if old == values:
            continue
        if old is not None:
            deltas[_count_key(old)] -= 1
        deltas[_count_key(fields)] += 1
        changed.append(TriageRow(patient_id=pk, slot=slot, clinic_id=clinic_id, **fields))
    if changed:
        TriageRow.objects.bulk_create(
            changed,
            update_conflicts=True,
            unique_fields=["patient", "slot"],
            update_fields=list(KEPT_FIELDS),
            batch_size=CHUNK,
        )
        apply_counts(clinic_id, slot, deltas)
    return len(changed)


def refresh_patient(patient) -> None:
    """Keep one patient's rows in step with a write, inside the writer's transaction: the rows
    of each slot that answers for a date (today's and tomorrow's, normally)."""
    clinic = patient.clinic
    dated = {s.slot: s.on for s in TriageSlot.objects.filter(clinic=clinic, on__isnull=False)}
    if not dated:
        return  # the clinic's first refresh computes everyone
    [(_, by_date)] = _triaged_chunk([patient.pk], tuple(set(dated.values())))
    for slot, on in sorted(dated.items()):
        _write(clinic.pk, slot, [(patient.pk, by_date[on])])


def prepare(clinic, on: datetime.date) -> int:
    """Make the clinic's slot for `on` complete and current: every patient recomputed, only
    the rows whose answer changed written (chunk by chunk, each in its own transaction, the
    chunk's rows locked against a concurrent write to the same patients), the counts checked
    against the rows at the end. Returns the number of rows written."""
    slot = slot_of(on)
    state = slots(clinic)[slot]
    version = state.wanted
    if state.on != on:
        # The slot's rows answered for another date: until every patient is done, readers
        # are served the other slot (`choose`), and writes compute this one for `on`.
        TriageSlot.objects.filter(pk=state.pk).update(on=on, ready=False)
    written = 0
    ids = list(Patient.objects.filter(clinic=clinic).order_by("pk").values_list("pk", flat=True))
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        with transaction.atomic():
            # Lock first, read second: a write committed before the lock is in the histories
            # read below; one committed after it rewrites the patient's rows itself.
            list(
                TriageRow.objects.select_for_update()
                .filter(slot=slot, patient_id__in=chunk)
                .order_by("patient_id")
                .values_list("pk", flat=True)
            )
            computed = [(p.pk, fields[on]) for p, fields in _triaged_chunk(chunk, (on,))]
            written += _write(clinic.pk, slot, computed)
    with transaction.atomic():
        recount(clinic, slot)
        TriageSlot.objects.filter(pk=state.pk, on=on).update(
            ready=True, version=version, format=KEPT_FORMAT, refreshed_at=timezone.now()
        )
    return written


def recount(clinic, slot: int) -> int:
    """Set the slot's kept counts to what its rows say (the counts' lock held, so a write
    waits). Returns how many counts were wrong: 0 unless a row changed outside the services."""
    kept = {
        (c.group, c.risk_category): c
        for c in TriageCount.objects.select_for_update().filter(clinic=clinic, slot=slot)
    }
    actual = Counter(
        {
            (group, category): n
            for group, category, n in TriageRow.objects.filter(clinic=clinic, slot=slot)
            .values_list("group", "risk_category")
            .annotate(n=Count("pk"))
            .order_by()
        }
    )
    wrong = 0
    for key in sorted(set(kept) | set(actual)):
        if key in kept and kept[key].n == actual[key]:
            continue
        wrong += 1
        TriageCount.objects.update_or_create(
            clinic=clinic,
            slot=slot,
            group=key[0],
            risk_category=key[1],
            defaults={"n": actual[key]},
        )
    return wrong


def refresh_clinic(clinic) -> int:
    """What the periodic task does for each clinic: today's slot and tomorrow's made current,
    today's first. Nothing to do (two rows read) when both are; one refresh at a time per
    clinic. Returns the rows written."""
    lock = f"triage-refresh:{clinic.pk}"
    token = uuid.uuid4().hex
    if not cache.add(lock, token, LOCK_SECONDS):
        return 0
    try:
        written = 0
        today = clinic.today()
        for on in (today, today + datetime.timedelta(days=1)):
            state = slots(clinic)[slot_of(on)]
            if not state.current(on):
                written += prepare(clinic, on)
        return written
    finally:
        if cache.get(lock) == token:
            cache.delete(lock)
