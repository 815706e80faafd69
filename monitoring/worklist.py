"""The clinic's day: every patient triaged (docs/clinic-day.md), grouped and sorted once.

Today, its CSV, the staff digest and the API worklist all read `clinic_day()`; nothing here
re-derives a rule. Each patient's group, sort date and next step come from `rules.triage` over
the engine's status; words come from the registry in `monitoring.codes`. The whole clinic is
read with `load_histories` in chunks, so the cost in queries is fixed per chunk.
"""

from __future__ import annotations

import csv
import datetime
import functools
import gc
import io
from collections.abc import Iterator
from dataclasses import dataclass
from html import escape
from typing import NamedTuple
from urllib.parse import urlencode

from django.db.models import Count, Exists, F, OuterRef
from django.urls import reverse
from django.utils.safestring import mark_safe

from clinic.core import dates
from patients.models import Patient, RiskCategory

from . import codes, ipledge, rules
from .history import load_histories, load_patients, of_patients
from .models import IpledgeEntry, PatientTriage

CHUNK = 1000
# Today shows the first rows of each group; the rest are a page away.
GROUP_PAGE_SIZE = 50
# The patient columns Today and its CSV show: nothing else is read.
PATIENT_COLUMNS = (
    "patient__id",
    "patient__clinic_id",
    "patient__mrn",
    "patient__given_name",
    "patient__family_name",
    "patient__birth_date",
    "patient__risk_category",
)


@dataclass(frozen=True)
class Item:
    """One patient's line on Today: from a kept row, or computed for another date."""

    patient: Patient
    group: str
    sort_on: datetime.date | None
    code: str | None  # the next step's code: a blocker, a due code or write_prescription
    overdue: bool
    what: str  # the blocker's own sentence, or the due item's label
    today: datetime.date
    # Visits waiting for a mood review, for the "Review now" links of a safety row.
    mood_visits: tuple[int, ...] = ()

    @property
    def days(self) -> int | None:
        """sort_on - today: negative when overdue."""
        return (self.sort_on - self.today).days if self.sort_on else None

    @property
    def days_overdue(self) -> int:
        return -self.days if self.days is not None and self.days < 0 else 0

    def next_step(self, role: str | None) -> str:
        return codes.next_step(self.code, role)

    @classmethod
    def from_row(cls, row: PatientTriage, today: datetime.date) -> Item:
        return cls(
            row.patient,
            row.group,
            row.sort_on,
            row.step or None,
            row.overdue,
            row.what,
            today,
            tuple(row.mood_visits),
        )


@functools.cache
def patient_url_pattern() -> str:
    """The patient page's URL with a hole for the id, reversed once per process."""
    return reverse("patients:detail", args=[0]).replace("/0/", "/{pk}/")


def _sort_key(item: Item) -> tuple:
    p = item.patient
    return (
        item.sort_on or datetime.date.max,
        p.family_name.lower(),
        p.given_name.lower(),
        p.pk,
    )


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


def _triage_fields(patient, history: rules.History, on: datetime.date, ticks=()) -> dict:
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
        "clinic_id": patient.clinic_id,
        "computed_on": on,
        "group": found.group,
        "sort_on": found.sort_on,
        "step": found.step or "",
        "overdue": found.overdue,
        "what": _what(found, status, sheet)[:500],
        "next_prescription_needed_on": status.next_prescription_needed_on,
        "mood_visits": waiting,
        "family_name": patient.family_name,
        "given_name": patient.given_name,
        "format": KEPT_FORMAT,
    }


def triaged(patients, on: datetime.date) -> Iterator[tuple[Patient, dict]]:
    """(patient, kept-row fields) for each patient, read chunk by chunk as values.

    The patients' ids are read first, in one query: filtering the queryset again for each
    chunk would evaluate it once per chunk (at 100,000 stale patients, minutes). The cyclic
    garbage collector is paused while a chunk's snapshots are alive: they are many small
    acyclic objects (a cut of a snapshot is marked with its date, not linked back), and
    collecting passes over them cost more than the rules."""
    ids = list(patients.order_by("pk").values_list("pk", flat=True))
    for start in range(0, len(ids), CHUNK):
        chunk = load_patients(ids[start : start + CHUNK])
        gc.disable()
        try:
            histories = load_histories(chunk)
            ticks = _ticks([p.pk for p in chunk])
            for patient in chunk:
                history = histories[patient.pk][1]
                yield patient, _triage_fields(patient, history, on, ticks.get(patient.pk, ()))
        finally:
            gc.enable()


def _ticks(patient_ids: list[int]) -> dict[int, list[ipledge.Tick]]:
    """The entry sheet's ticks of many patients, one query."""
    found: dict[int, list[ipledge.Tick]] = {}
    rows = IpledgeEntry.objects.filter(**of_patients(patient_ids)).order_by("entered_at", "id")
    for patient_id, item, since, value in rows.values_list(
        "patient_id", "item", "cycle_from", "value"
    ):
        found.setdefault(patient_id, []).append(ipledge.Tick(item, since, value))
    return found


# Raise it when what a kept row holds is computed or worded differently: rows of another format
# are stale, whatever their date.
KEPT_FORMAT = 2  # 2: the contraception blockers name what the patient reported

KEPT_FIELDS = (
    "format",
    "clinic_id",
    "computed_on",
    "group",
    "sort_on",
    "step",
    "overdue",
    "what",
    "next_prescription_needed_on",
    "mood_visits",
    "family_name",
    "given_name",
)


# A kept row whose answer is the same as the day before only moves to the new date.
DATED_FIELDS = ("computed_on", "format")


def refresh(patients, on: datetime.date) -> int:
    """Recompute the kept rows of `patients` (a queryset) for `on`; write only those that
    changed. Returns the number of rows written.

    Per chunk: one read of the kept rows; the rows whose answer is unchanged (the usual case
    after midnight) are re-dated in one UPDATE, the others inserted or rewritten."""
    written = 0
    batch: list[tuple[Patient, dict]] = []

    def flush():
        nonlocal written
        ids = [p.pk for p, _ in batch]
        kept = {
            row[0]: row[1:]
            for row in PatientTriage.objects.filter(patient_id__in=ids).values_list(
                "patient_id", *KEPT_FIELDS
            )
        }
        redated, changed = [], []
        for p, fields in batch:
            values = tuple(fields[f] for f in KEPT_FIELDS)
            old = kept.get(p.pk)
            if old == values:
                continue
            if old is not None and _same_answer(old, values):
                redated.append(p.pk)
            else:
                changed.append(PatientTriage(patient_id=p.pk, **fields))
        if redated:
            PatientTriage.objects.filter(patient_id__in=redated).update(
                computed_on=on, format=KEPT_FORMAT
            )
        if changed:
            PatientTriage.objects.bulk_create(
                changed,
                update_conflicts=True,
                unique_fields=["patient"],
                update_fields=list(KEPT_FIELDS),
                batch_size=CHUNK,
            )
        written += len(redated) + len(changed)
        batch.clear()

    for patient, fields in triaged(patients, on):
        batch.append((patient, fields))
        if len(batch) >= CHUNK:
            flush()
    if batch:
        flush()
    return written


_ANSWER = [i for i, name in enumerate(KEPT_FIELDS) if name not in DATED_FIELDS]


def _same_answer(old: tuple, new: tuple) -> bool:
    """Equal but for the date and format the row answers for."""
    return all(old[i] == new[i] for i in _ANSWER)


def refresh_patient(patient) -> None:
    """Keep one patient's row in step with a write, inside the writer's transaction."""
    clinic = patient.clinic
    refresh(Patient.objects.filter(pk=patient.pk), clinic.today())


def stale(clinic, on: datetime.date):
    """The clinic's patients whose kept row is missing or answers for another date.

    NOT EXISTS, not NOT IN: PostgreSQL runs the latter as a scan of the fresh rows per patient
    once they outgrow its hash table (quadratic at 100,000 patients); this is an anti-join."""
    fresh = PatientTriage.objects.filter(
        patient_id=OuterRef("pk"), computed_on=on, format=KEPT_FORMAT
    )
    return Patient.objects.filter(clinic=clinic).filter(~Exists(fresh))


def refresh_clinic(clinic, on: datetime.date | None = None) -> int:
    """Bring every kept row of the clinic to `on` (default: the clinic's today). The periodic
    task runs it for each clinic; after the first run of a day it finds nothing to do."""
    on = on or clinic.today()
    return refresh(stale(clinic, on), on)


def mark_stale(clinic) -> None:
    """The clinic's settings changed (horizon, rule dates): every row must be recomputed."""
    PatientTriage.objects.filter(clinic=clinic).update(computed_on=None)


def all_fresh(clinic, on: datetime.date) -> bool:
    """Whether every patient of the clinic has a row for `on`: two counts by index, cheaper than
    `stale()`'s anti-join, which Today would otherwise pay on every request (a patient has at
    most one row, and a row's clinic is its patient's)."""
    kept = PatientTriage.objects.filter(clinic=clinic, computed_on=on, format=KEPT_FORMAT)
    return kept.count() == Patient.objects.filter(clinic=clinic).count()


def kept_rows(clinic, *, category: str | None = None):
    """The clinic's kept rows for today, brought up to date first (normally a no-op)."""
    if not all_fresh(clinic, clinic.today()):
        refresh_clinic(clinic)
    rows = (
        PatientTriage.objects.filter(clinic=clinic)
        .select_related("patient")
        .only(*KEPT_FIELDS, "patient_id", *PATIENT_COLUMNS)
    )
    if category:
        rows = rows.filter(patient__risk_category=category)
    # The order of the index `triage_in_order`: each group's first page is read from it.
    return rows.order_by(
        F("sort_on").asc(nulls_last=True), "family_name", "given_name", "patient_id"
    )


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
    """Every patient in their group, each group sorted by its date then by name: today's from
    the kept rows, another date's computed afresh."""
    today = clinic.today()
    on = on or today
    groups: dict[str, list[Item]] = {group: [] for group in rules.TRIAGE_GROUPS}
    if on == today:
        for row in kept_rows(clinic, category=category):
            groups[row.group].append(Item.from_row(row, on))
        return ClinicDay(on, groups)
    patients = Patient.objects.filter(clinic=clinic)
    if category:
        patients = patients.filter(risk_category=category)
    for patient, fields in triaged(patients, on):
        row = PatientTriage(patient=patient, **fields)
        groups[row.group].append(Item.from_row(row, on))
    for items in groups.values():
        items.sort(key=_sort_key)
    return ClinicDay(on, groups)


# Today's page -------------------------------------------------------------------------------

# What Today reads of a kept row and its patient: plain values, no model instances.
TODAY_COLUMNS = (
    "patient_id",
    "patient__mrn",
    "patient__given_name",
    "patient__family_name",
    "patient__birth_date",
    "patient__risk_category",
    "group",
    "sort_on",
    "step",
    "overdue",
    "what",
    "mood_visits",
)


class Listed(NamedTuple):
    """The patient columns of a line on Today (a model instance costs more than the row)."""

    pk: int
    mrn: str
    given_name: str
    family_name: str
    birth_date: datetime.date
    risk_category: str


def _listed_item(values: tuple, today: datetime.date) -> Item:
    pk, mrn, given, family, born, category, group, sort_on, step, overdue, what, mood = values
    patient = Listed(pk, mrn, given, family, born, category)
    return Item(patient, group, sort_on, step or None, overdue, what, today, tuple(mood))  # type: ignore[arg-type]


def today_page(clinic, *, category: str | None = None, group: str | None = None):
    """Today's counts per group and the rows to show: the first GROUP_PAGE_SIZE of each listed
    group (a query each, by index), or every row of one group (paged by the caller)."""
    rows = kept_rows(clinic, category=category)
    counts = dict.fromkeys(rules.TRIAGE_GROUPS, 0)
    for key, n in rows.order_by().values_list("group").annotate(n=Count("pk")):
        counts[key] = n
    today = clinic.today()
    listed = rows.values_list(*TODAY_COLUMNS)
    if group:
        return counts, {group: ItemList(listed.filter(group=group), today)}
    items = {}
    for key in rules.TRIAGE_LISTED_GROUPS:
        items[key] = [_listed_item(v, today) for v in listed.filter(group=key)[:GROUP_PAGE_SIZE]]
    return counts, items


class ItemList:
    """A group's rows as Items, lazily: a Paginator slices it before any row is read."""

    def __init__(self, rows, today: datetime.date):
        self.rows, self.today = rows, today

    def __len__(self) -> int:
        return self.rows.count()

    def count(self) -> int:
        return self.rows.count()

    def __getitem__(self, index):
        found = self.rows[index]
        if isinstance(index, slice):
            return [_listed_item(row, self.today) for row in found]
        return _listed_item(found, self.today)

    def __iter__(self):
        return (_listed_item(row, self.today) for row in self.rows)


class TodayRows(list):
    """A section's (item, next step) pairs, with their table rows as HTML in `.html`.

    Today shows up to 8 x 50 rows; through the template language each costs more than the rest
    of the page, so the rows are written here in one pass: every text is escaped as the
    template would (django.utils.html.escape is html.escape), URLs are reversed once. Each
    row's next step ends in the button that opens the form resolving it, prefilled, with
    `back` (Today's own URL) as where the save returns."""

    def __init__(
        self, key: str, items, role: str | None, *, today, can_review_mood: bool, back: str = ""
    ):
        steps: dict[str | None, tuple[str, codes.Act | None]] = {}
        pairs = []
        for item in items:
            code = item.code
            if code not in steps:
                steps[code] = (item.next_step(role), codes.action_for(code, role))
            pairs.append((item, steps[code][0]))
        super().__init__(pairs)
        quoted = urlencode({"next": back}) if back else ""
        html = "".join(
            _row_html(key, item, steps[item.code], today, can_review_mood, back, quoted)
            for item, _ in pairs
        )
        self.html = mark_safe(html)  # noqa: S308  # nosec B308 B703  # _row_html escapes every text


@functools.cache
def mood_review_url_pattern() -> str:
    return reverse("monitoring:mood_review", args=[0]).replace("/0/", "/{pk}/")


def _date_cell(key: str, sort_on: datetime.date | None, today: datetime.date) -> str:
    if key == rules.constants.SAFETY:
        return '<span class="badge text-bg-danger">now</span>'
    if not sort_on:
        return "—"
    closing = key == rules.constants.WINDOW_CLOSING
    days = (sort_on - today).days
    if days < 0:
        n = -days
        when = f'<span class="badge text-bg-danger">{n} day{"s" if n != 1 else ""} overdue</span>'
    elif days == 0:
        word = "closes today" if closing else "today"
        when = f'<span class="badge text-bg-warning">{word}</span>'
    elif days == 1:
        word = "closes tomorrow" if closing else "tomorrow"
        when = f'<span class="badge text-bg-warning">{word}</span>'
    else:
        when = f"{'closes ' if closing else ''}in {days} days"
    return f'{dates.weekday_month_day(sort_on)}<div class="small">{when}</div>'


# One line of a section's table, as the template wrote it; the safety group's is red.
ROW = (
    '<tr data-patient="{pk}" data-code="{code}"{row_class}>\n'
    '        <td><a href="{url}"{link_class}>{family}, {given}</a>'
    '<div class="small text-muted">{mrn} · born {born} · {category}</div></td>\n'
    '        <td class="text-nowrap">{date}</td>\n'
    "        <td>{what}</td>\n"
    "        <td>{step}{action}{reviews}</td>\n"
    "      </tr>"
)
REVIEW_LINK = ' <a class="btn btn-sm btn-danger ms-1" href="{url}">Review now</a>'
# The button names the patient for a screen reader: a column of "Record monthly test" links
# alone does not say whose (WCAG 2.4.4, link purpose).
ACTION_LINK = (
    '<div class="mt-1"><a class="btn btn-sm btn-primary row-action" href="{url}">{label}'
    '<span class="visually-hidden"> for {family}, {given}</span></a></div>'
)


def _row_html(key, item: Item, step, today, can_review_mood: bool, back="", quoted="") -> str:
    p = item.patient
    text, act = step
    safety = key == rules.constants.SAFETY
    what = escape(item.what)
    family, given = escape(p.family_name), escape(p.given_name)
    reviews = ""
    if item.mood_visits and can_review_mood:
        review = mood_review_url_pattern()
        suffix = f"?{quoted}" if quoted else ""
        reviews = "".join(
            REVIEW_LINK.format(url=review.format(pk=int(visit_id)) + escape(suffix))
            for visit_id in item.mood_visits
        )
    action = ""
    if act is not None:
        action = ACTION_LINK.format(
            url=escape(codes.action_url(act, p.pk, back)),
            label=escape(act.label),
            family=family,
            given=given,
        )
    return ROW.format(
        pk=p.pk,
        code=escape(item.code or ""),
        row_class=' class="table-danger"' if safety else "",
        url=patient_url_pattern().format(pk=p.pk),
        link_class=' class="text-danger-emphasis"' if safety else "",
        family=family,
        given=given,
        mrn=escape(p.mrn),
        born=rules.text.day(p.birth_date),
        category=escape(_category_label(p.risk_category)),
        date=_date_cell(key, item.sort_on, today),
        what=f'<strong class="text-danger-emphasis">{what}</strong>' if safety else what,
        step=escape(text),
        action=action,
        reviews=reviews,
    )


def _category_label(value: str) -> str:
    """The category's label, or the stored value for one no longer in the list (as Django's
    get_FOO_display shows it)."""
    return str(dict(RiskCategory.choices).get(value, value))


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


def csv_groups(rows, groups: list[str], today: datetime.date) -> dict:
    """Each group's kept rows as Items, read in batches as the CSV streams."""
    return {
        key: (Item.from_row(row, today) for row in rows.filter(group=key).iterator(2000))
        for key in groups
    }


def csv_rows(groups: dict, role: str | None) -> Iterator[str]:
    """The CSV, a line at a time (a streaming response sends it as it is made)."""
    out = io.StringIO()
    writer = csv.writer(out)

    def line(values) -> str:
        out.seek(0)
        out.truncate()
        writer.writerow(safe_cell(v) for v in values)
        return out.getvalue()

    # A UTF-8 byte-order mark first: Excel reads a CSV without one in the machine's legacy code
    # page, so "Zoë Núñez" would open as "ZoÃ« NÃºÃ±ez".
    yield "\ufeff" + line(CSV_HEADER)
    for group, items in groups.items():
        for item in items:
            p = item.patient
            yield line(
                (
                    codes.label(group),
                    p.full_name,
                    p.mrn,
                    dates.short(p.birth_date),
                    p.get_risk_category_display(),
                    dates.short(item.sort_on) if item.sort_on else "",
                    when(item),
                    item.what,
                    item.next_step(role),
                )
            )
