"""The clinic's day (docs/clinic-day.md): Today, its CSV, the staff digest and the API
worklist, all read from the kept triage rows (`monitoring.kept`), never computed in a request.

Nothing here re-derives a rule: each patient's group, sort date and next step were computed by
`rules.triage` over the engine's status when the row was kept; words come from the registry in
`monitoring.codes`.
"""

from __future__ import annotations

import csv
import datetime
import functools
import io
from collections.abc import Iterator
from dataclasses import dataclass
from html import escape
from typing import NamedTuple
from urllib.parse import urlencode

from django.db.models import F
from django.urls import reverse
from django.utils.safestring import mark_safe

import rules
from clinic import dates
from clinic.prepared import Prepared
from patients.models import Patient, RiskCategory

from . import codes, kept
from .models import TriageRow

# Today shows the first rows of each group; the rest are a page away.
GROUP_PAGE_SIZE = 50
# ...and the overview shows the first rows of each group, the most urgent: a receptionist
# works down the top of each list, and each row costs CPU on every view (docs/benchmarks.md).
FIRST_ROWS = 25


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
    def from_row(cls, row: TriageRow, today: datetime.date) -> Item:
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


# Today's order within a group: the order of the indexes `triage_row_in_order` and
# `triage_row_by_category`, so each group's first page is read from one of them.
ORDER = (F("sort_on").asc(nulls_last=True), "family_name", "given_name", "patient_id")


def kept_rows(clinic, *, category: str | None = None, reading: kept.Reading | None = None):
    """The rows served for the clinic's today (`kept.read`: never computed here), in Today's
    order: the order of the indexes `triage_row_in_order` and `triage_row_by_category`, so
    each group's first page is read from one of them."""
    reading = reading or kept.read(clinic)
    rows = reading.rows(clinic)
    if category:
        rows = rows.filter(risk_category=category)
    return rows.order_by(*ORDER)


@dataclass
class ClinicDay:
    on: datetime.date
    groups: dict[str, list[Item]]
    # The kept rows served (today), or None for a date computed afresh.
    reading: kept.Reading | None = None

    def counts(self) -> dict[str, int]:
        return {group: len(items) for group, items in self.groups.items()}

    def listed(self) -> dict[str, list[Item]]:
        """The groups Today shows (not on_track, not inactive)."""
        return {g: self.groups[g] for g in rules.TRIAGE_LISTED_GROUPS}


# Another date than the kept ones is computed for every patient of the clinic: allowed for a
# clinic this small only (at 100,000 patients it takes half a minute: docs/clinic-day.md).
COMPUTE_LIMIT = 5000


class TooLargeToCompute(Exception):
    pass


def kept_reading(clinic, on: datetime.date) -> kept.Reading | None:
    """The kept rows that answer for `on`: today's (served even when behind, marked so), or
    tomorrow's once its slot is ready; None for another date."""
    today = clinic.today()
    if on == today:
        return kept.read(clinic, today)
    ahead = kept.choose(kept.slots(clinic), on)
    return ahead if ahead.current else None


def clinic_day(
    clinic, on: datetime.date | None = None, *, category: str | None = None
) -> ClinicDay:
    """Every patient in their group, each group sorted by its date then by name: today's (and
    tomorrow's, when its slot is ready) from the kept rows, another date's computed afresh for
    a clinic of at most COMPUTE_LIMIT patients (TooLargeToCompute above)."""
    today = clinic.today()
    on = on or today
    groups: dict[str, list[Item]] = {group: [] for group in rules.TRIAGE_GROUPS}
    reading = kept_reading(clinic, on)
    if reading is not None:
        rows = kept_rows(clinic, category=category, reading=reading).select_related("patient")
        for row in rows.iterator(2000):
            groups[row.group].append(Item.from_row(row, on))
        return ClinicDay(on, groups, reading)
    patients = Patient.objects.filter(clinic=clinic)
    if category:
        patients = patients.filter(risk_category=category)
    if patients.count() > COMPUTE_LIMIT:
        raise TooLargeToCompute(on)
    for patient, by_date in kept.triaged(patients, (on,)):
        row = TriageRow(patient=patient, **by_date[on])
        groups[row.group].append(Item.from_row(row, on))
    for items in groups.values():
        items.sort(key=_sort_key)
    return ClinicDay(on, groups)


# Today's page -------------------------------------------------------------------------------

# What Today reads of a kept row (the patient's columns shown are copied onto it): plain
# values, no model instances, one table.
TODAY_COLUMNS = (
    "patient_id",
    "mrn",
    "given_name",
    "family_name",
    "birth_date",
    "risk_category",
    "group",
    "sort_on",
    "step",
    "overdue",
    "what",
)
# Only a safety row has visits waiting for a mood review: only its group reads them (each row's
# list is JSON, decoded per row).
SAFETY_COLUMNS = (*TODAY_COLUMNS, "mood_visits")


def columns(group: str) -> tuple[str, ...]:
    return SAFETY_COLUMNS if group == rules.constants.SAFETY else TODAY_COLUMNS


class Listed(NamedTuple):
    """The patient columns of a line on Today (a model instance costs more than the row)."""

    pk: int
    mrn: str
    given_name: str
    family_name: str
    birth_date: datetime.date
    risk_category: str

    @property
    def full_name(self) -> str:
        return f"{self.given_name} {self.family_name}"


def _listed_item(values: tuple, today: datetime.date) -> Item:
    pk, mrn, given, family, born, category, group, sort_on, step, overdue, what = values[:11]
    mood = tuple(values[11]) if len(values) > 11 else ()
    patient = Listed(pk, mrn, given, family, born, category)
    return Item(patient, group, sort_on, step or None, overdue, what, today, mood)  # type: ignore[arg-type]


@dataclass
class TodayPage:
    """What Today shows: each group's count (kept counts), the rows shown per group, and how
    old the rows are (`reading`: "as of" when they are behind)."""

    counts: dict[str, int]
    items: dict[str, object]
    reading: kept.Reading


def today_page(clinic, *, category: str | None = None, group: str | None = None) -> TodayPage:
    """Today's counts per group and the rows to show: the first FIRST_ROWS of each listed
    group (a query each, by index), or every row of one group (paged by the caller). A fixed
    number of queries, none of them reading more than a page of rows."""
    reading = kept.read(clinic)
    counts = reading.counts(clinic, category=category)
    today = clinic.today()
    listed = kept_rows(clinic, category=category, reading=reading)
    if group:
        found = listed.filter(group=group).values_list(*columns(group))
        return TodayPage(counts, {group: ItemList(found, today, counts[group])}, reading)
    items = {}
    for key in rules.TRIAGE_LISTED_GROUPS:
        if not counts[key]:
            items[key] = []
            continue
        query = FIRST_ROWS_QUERIES[(bool(category), key == rules.constants.SAFETY)]
        values = {"clinic_id": clinic.pk, "slot": reading.slot, "group": key}
        if category:
            values["category"] = category
        items[key] = [_listed_item(v, today) for v in query(**values)]
    return TodayPage(counts, items, reading)


def _first_rows(with_category: bool, safety: bool) -> Prepared:
    """A group's first FIRST_ROWS kept rows in Today's order, compiled once per process: the
    overview runs it for each listed group, and compiling the same SQL eight times cost 40 %
    of the page's own CPU (clinic/prepared.py; its plain twin is `kept_rows`)."""

    def build(clinic_id, slot, group, category=None):
        rows = TriageRow.objects.filter(clinic_id=clinic_id, slot=slot, group=group)
        if with_category:
            rows = rows.filter(risk_category=category)
        return rows.order_by(*ORDER).values_list(*(SAFETY_COLUMNS if safety else TODAY_COLUMNS))[
            :FIRST_ROWS
        ]

    texts = ("group", "category") if with_category else ("group",)
    return Prepared(build, ints=("clinic_id", "slot"), texts=texts)


FIRST_ROWS_QUERIES = {
    (with_category, safety): _first_rows(with_category, safety)
    for with_category in (False, True)
    for safety in (False, True)
}


class ItemList:
    """A group's rows as Items, lazily: a Paginator slices it before any row is read, and its
    length is the kept count (counting the group's rows would read them all)."""

    def __init__(self, rows, today: datetime.date, count: int):
        self.rows, self.today, self._count = rows, today, count

    def __len__(self) -> int:
        return self._count

    def count(self) -> int:
        return self._count

    def __getitem__(self, index):
        found = self.rows[index]
        if isinstance(index, slice):
            return [_listed_item(row, self.today) for row in found]
        return _listed_item(found, self.today)

    def __iter__(self):
        return (_listed_item(row, self.today) for row in self.rows)


class TodayRows(list):
    """A section's (item, next step) pairs, with their table rows as HTML in `.html`.

    Today shows up to 8 x FIRST_ROWS rows, a group's page GROUP_PAGE_SIZE; through the template
    language each costs more than the rest of the page, so the rows are written here in one
    pass: every text is escaped as the template would (django.utils.html.escape is
    html.escape), URLs are reversed once, and what is the same for every row of a code (the
    next step's words, the action button's label and URL) is written once per code, not per
    row. Each row's next step ends in the button that opens the form resolving it, prefilled,
    with `back` (Today's own URL) as where the save returns."""

    def __init__(
        self, key: str, items, role: str | None, *, today, can_review_mood: bool, back: str = ""
    ):
        steps: dict[str | None, tuple[str, str, str]] = {}
        pairs = []
        quoted = urlencode({"next": back}) if back else ""
        for item in items:
            code = item.code
            if code not in steps:
                steps[code] = _step_html(item.next_step(role), codes.action_for(code, role), back)
            pairs.append((item, steps[code][0]))
        super().__init__(pairs)
        row = _row_writer(key, today, can_review_mood, quoted)
        html = "".join(row(item, steps[item.code]) for item, _ in pairs)
        self.html = mark_safe(html)  # noqa: S308  # nosec B308 B703  # _row_writer escapes every text


def _step_html(text: str, act: codes.Act | None, back: str) -> tuple[str, str, str]:
    """(the step's words, its HTML, the action button's HTML with holes for the patient)."""
    action = ""
    if act is not None:
        # Filled in per row with str.format: braces of the URL (a `back` can hold any) and
        # of the label are doubled so they stay text.
        url = _braces(escape(codes.action_url(act, 0, back))).replace("/0/", "/{pk}/", 1)
        action = ACTION_LINK.format(
            url=url, label=_braces(escape(act.label)), family="{family}", given="{given}"
        )
    return text, escape(text), action


def _braces(text: str) -> str:
    return text.replace("{", "{{").replace("}", "}}")


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


def _row_writer(key: str, today: datetime.date, can_review_mood: bool, quoted: str):
    """A function writing one row of the section `key`; what every row shares is worked out
    here, once."""
    safety = key == rules.constants.SAFETY
    row_class = ' class="table-danger"' if safety else ""
    link_class = ' class="text-danger-emphasis"' if safety else ""
    patient_url = patient_url_pattern()
    review_url = mood_review_url_pattern()
    review_suffix = escape(f"?{quoted}") if quoted else ""
    date_cells: dict[datetime.date | None, str] = {}
    categories: dict[str, str] = {}

    def write(item: Item, step: tuple[str, str, str]) -> str:
        p = item.patient
        _, step_html, action = step
        what = escape(item.what)
        family, given = escape(p.family_name), escape(p.given_name)
        reviews = ""
        if item.mood_visits and can_review_mood:
            reviews = "".join(
                REVIEW_LINK.format(url=review_url.format(pk=int(visit_id)) + review_suffix)
                for visit_id in item.mood_visits
            )
        if action:
            action = action.format(pk=p.pk, family=family, given=given)
        if item.sort_on not in date_cells:
            date_cells[item.sort_on] = _date_cell(key, item.sort_on, today)
        if p.risk_category not in categories:
            categories[p.risk_category] = escape(_category_label(p.risk_category))
        return ROW.format(
            pk=p.pk,
            code=escape(item.code or ""),
            row_class=row_class,
            url=patient_url.format(pk=p.pk),
            link_class=link_class,
            family=family,
            given=given,
            mrn=escape(p.mrn),
            born=rules.text.day(p.birth_date),
            category=categories[p.risk_category],
            date=date_cells[item.sort_on],
            what=f'<strong class="text-danger-emphasis">{what}</strong>' if safety else what,
            step=step_html,
            action=action,
            reviews=reviews,
        )

    return write


def _category_label(value: str) -> str:
    """The category's label, or the stored value for one no longer in the list (as Django's
    get_FOO_display shows it)."""
    return str(dict(RiskCategory.choices).get(value, value))


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


def csv_rows(rows, groups: list[str], today: datetime.date, role: str | None) -> Iterator[str]:
    """The CSV of `rows` (kept rows) in `groups`, a line at a time (a streaming response sends
    it as it is made): each group's rows read as value tuples in batches, no model instances;
    the words of a code and of a category looked up once each."""
    out = io.StringIO()
    writer = csv.writer(out)

    def line(values) -> str:
        out.seek(0)
        out.truncate()
        writer.writerow(safe_cell(v) for v in values)
        return out.getvalue()

    steps: dict[str | None, str] = {}
    categories = dict(RiskCategory.choices)
    # A UTF-8 byte-order mark first: Excel reads a CSV without one in the machine's legacy code
    # page, so "Zoë Núñez" would open as "ZoÃ« NÃºÃ±ez".
    yield "\ufeff" + line(CSV_HEADER)
    for group in groups:
        label = codes.label(group)
        for values in rows.filter(group=group).values_list(*TODAY_COLUMNS).iterator(2000):
            item = _listed_item(values, today)
            p = item.patient
            if item.code not in steps:
                steps[item.code] = item.next_step(role)
            yield line(
                (
                    label,
                    p.full_name,
                    p.mrn,
                    dates.short(p.birth_date),
                    str(categories.get(p.risk_category, p.risk_category)),
                    dates.short(item.sort_on) if item.sort_on else "",
                    when(item),
                    item.what,
                    steps[item.code],
                )
            )
