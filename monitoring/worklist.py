"""The clinic's day: every patient triaged (docs/clinic-day.md), grouped and sorted once.

Today, its CSV, the staff digest and the API worklist all read `clinic_day()`; nothing here
re-derives a rule. Each patient's group, sort date and next step come from `rules.triage` over
the engine's status; words come from the registry in `monitoring.codes`. The whole clinic is
read with `load_histories` in chunks, so the cost in queries is fixed per chunk.
"""

from __future__ import annotations

import csv
import datetime
import io
from collections.abc import Iterator
from dataclasses import dataclass

from patients.models import Patient

from . import codes, rules
from .history import load_histories

CHUNK = 1000
# Today shows the first rows of each group; the rest are a page away.
GROUP_PAGE_SIZE = 50


@dataclass(frozen=True)
class Item:
    patient: Patient
    triage: rules.Triage
    status: rules.Status
    today: datetime.date
    # Visits waiting for a mood review, for the "Review now" links of a safety row.
    mood_visits: tuple[int, ...] = ()

    @property
    def group(self) -> str:
        return self.triage.group

    @property
    def sort_on(self) -> datetime.date | None:
        return self.triage.sort_on

    @property
    def code(self) -> str | None:
        return self.triage.step

    @property
    def days(self) -> int | None:
        """sort_on - today: negative when overdue."""
        return (self.sort_on - self.today).days if self.sort_on else None

    @property
    def days_overdue(self) -> int:
        return -self.days if self.days is not None and self.days < 0 else 0

    @property
    def what(self) -> str:
        """The blocker's own sentence, or the due item's label."""
        step = self.triage.step
        for blocker in self.status.blockers:
            if blocker.code == step:
                return blocker.message
        if step in codes.DUE:
            return codes.label(step)
        if step == rules.WRITE_PRESCRIPTION:
            return "Nothing blocks the next prescription."
        return ""

    def next_step(self, role: str | None) -> str:
        return codes.next_step(self.triage.step, role)


def _sort_key(item: Item) -> tuple:
    p = item.patient
    return (
        item.sort_on or datetime.date.max,
        p.family_name.lower(),
        p.given_name.lower(),
        p.pk,
    )


def triaged(clinic, on: datetime.date, *, category: str | None = None) -> Iterator[Item]:
    """Every patient of the clinic with their triage on `on`, chunk by chunk."""
    horizon = clinic.triage_horizon_days
    patients = Patient.objects.filter(clinic=clinic).select_related("clinic").order_by("pk")
    if category:
        patients = patients.filter(risk_category=category)
    last_pk = 0
    while True:
        chunk = list(patients.filter(pk__gt=last_pk)[:CHUNK])
        if not chunk:
            return
        histories = load_histories(chunk)
        for patient in chunk:
            history = histories[patient.pk][1]
            status = rules.status(history, on)
            found = rules.triage(status, on, horizon)
            waiting = ()
            if found.step == rules.constants.MOOD_REVIEW_REQUIRED:
                waiting = tuple(v.id for v in rules.awaiting_mood_review(history, on))
            yield Item(patient, found, status, on, waiting)
        last_pk = chunk[-1].pk


@dataclass
class ClinicDay:
    on: datetime.date
    groups: dict[str, list[Item]]

    def counts(self) -> dict[str, int]:
        return {group: len(items) for group, items in self.groups.items()}

    def listed(self) -> dict[str, list[Item]]:
        """The groups Today shows (not on_track, not inactive)."""
        return {g: self.groups[g] for g in rules.TRIAGE_LISTED_GROUPS}


def clinic_day(
    clinic, on: datetime.date | None = None, *, category: str | None = None
) -> ClinicDay:
    """Every patient in their group, each group sorted by its date then by name."""
    on = on or clinic.today()
    groups: dict[str, list[Item]] = {group: [] for group in rules.TRIAGE_GROUPS}
    for item in triaged(clinic, on, category=category):
        groups[item.group].append(item)
    for items in groups.values():
        items.sort(key=_sort_key)
    return ClinicDay(on, groups)


def patient_triage(patient, status: rules.Status, on: datetime.date) -> rules.Triage:
    """One patient's triage from a status already computed (the patient page's banner)."""
    return rules.triage(status, on, patient.clinic.triage_horizon_days)


# CSV -----------------------------------------------------------------------------------------

# Spreadsheet programs run a cell that begins with one of these as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def when(item: Item) -> str:
    if item.days is None:
        return ""
    if item.days < 0:
        n = -item.days
        return f"{n} day{'s' if n != 1 else ''} overdue"
    if item.days == 0:
        return "today"
    if item.days == 1:
        return "tomorrow"
    return f"in {item.days} days"


CSV_HEADER = (
    "Group",
    "Patient",
    "MRN",
    "Birth date",
    "Risk category",
    "Date",
    "When",
    "What",
    "Next step",
)


def csv_rows(groups: dict[str, list[Item]], role: str | None) -> Iterator[str]:
    """The CSV, a line at a time (a streaming response sends it as it is made)."""
    out = io.StringIO()
    writer = csv.writer(out)

    def line(values) -> str:
        out.seek(0)
        out.truncate()
        writer.writerow(safe_cell(v) for v in values)
        return out.getvalue()

    yield line(CSV_HEADER)
    for group, items in groups.items():
        for item in items:
            p = item.patient
            yield line(
                (
                    codes.label(group),
                    p.full_name,
                    p.mrn,
                    p.birth_date.isoformat(),
                    p.get_risk_category_display(),
                    item.sort_on.isoformat() if item.sort_on else "",
                    when(item),
                    item.what,
                    item.next_step(role),
                )
            )
