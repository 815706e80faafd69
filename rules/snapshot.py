"""The plain snapshot of one course of a patient's history that every rule reads.

The Django side builds a `History` from the database in one place; the rules never see a model.
Records may arrive in any order. `as_of` cuts the snapshot to what was known on a date, so that a
record dated after D can never change an answer for D.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, TypeVar

from . import constants as c
from .rulesets import RS_2026


@dataclass(frozen=True)
class RuleSettings:
    # The day RS-2026 comes into force at this clinic (the program's day unless it moves it).
    rs2026_effective_on: date = RS_2026.in_force_from
    # RS-2021 clinic switch: home tests under FDA enforcement discretion.
    home_tests_under_discretion: bool = False
    # followup_labs_due = course start + weeks * 7.
    followup_lab_weeks: int = c.DEFAULT_FOLLOWUP_LAB_WEEKS
    # docs/domain.md section 9: not yet verified against the program documents.
    end_of_treatment_test_required: bool = True
    # docs/domain.md §9: None = no day-count window for cannot_get_pregnant under RS-2026 (a visit
    # is still required in the cycle).
    rs2026_cannot_get_pregnant_visit_days: int | None = None


@dataclass(frozen=True)
class Consent:
    kind: str
    signed_on: date


@dataclass(frozen=True)
class ContraceptionConfirmation:
    id: int
    confirmed_on: date
    source: str
    methods: frozenset[str]
    abstinence: bool
    started_on: date | None


@dataclass(frozen=True)
class PregnancyTest:
    id: int
    kind: str
    collected_on: date
    result: str
    setting: str
    clia_lab: bool
    method: str
    # Has a verifying staff member (and evidence, if a home test).
    verified: bool
    superseded_on: date | None = None


@dataclass(frozen=True)
class LabResult:
    kind: str
    collected_on: date
    value: Decimal
    unit: str


@dataclass(frozen=True)
class Visit:
    id: int
    visited_on: date
    weight_kg: Decimal | None
    counseling_confirmed: bool
    comprehension_completed: bool
    phq2: int
    phq9: int | None
    phq9_item9: int | None
    missed_dose_days: int
    next_visit_on: date | None
    mood_reviews: tuple[date, ...] = ()


@dataclass(frozen=True)
class Prescription:
    id: int
    written_on: date
    daily_dose_mg: Decimal
    days_supply: int
    dispensed_on: date | None = None


@dataclass(frozen=True)
class RiskCategoryChange:
    """The category in force from `changed_on` on (docs/rules.md: the category is dated)."""

    changed_on: date
    previous: str
    new: str


@dataclass(frozen=True)
class History:
    # The category in force on the date asked about once cut with `as_of`; before that, today's.
    risk_category: str
    enrolled_on: date
    enrollment_weight_kg: Decimal
    home_tests_allowed: bool
    target_mg_per_kg: Decimal
    last_dose_on: date | None = None
    consents: tuple[Consent, ...] = ()
    contraception: tuple[ContraceptionConfirmation, ...] = ()
    pregnancy_tests: tuple[PregnancyTest, ...] = ()
    labs: tuple[LabResult, ...] = ()
    visits: tuple[Visit, ...] = ()
    prescriptions: tuple[Prescription, ...] = ()
    comprehension_reported_on: tuple[date, ...] = ()
    # Every change of category, in any order; `as_of` judges each date by the one in force then.
    risk_category_changes: tuple[RiskCategoryChange, ...] = ()
    settings: RuleSettings = RuleSettings()

    @property
    def can_get_pregnant(self) -> bool:
        return self.risk_category == c.CAN_GET_PREGNANT


def as_of(history: History, on: date) -> History:
    """What was known on `on`, every collection sorted oldest first.

    Records dated after `on` are dropped; a supersede, mood review, dispense or last dose dated
    after `on` is treated as not having happened yet.

    One status asks for the same cut several times (the gate, the window, the dose, the entry
    sheet), and a batch over a clinic asks it for every patient: each snapshot keeps the cuts
    made of it, by date, and a cut is its own cut at its date. Snapshots are frozen, so a kept
    cut can never disagree with a new one.
    """
    if history.__dict__.get("_cut_on") == on:
        return history
    cuts = history.__dict__.get("_cuts")
    if cuts is None:
        cuts = {}
        object.__setattr__(history, "_cuts", cuts)  # a cache beside the fields, not a field
    cut = cuts.get(on)
    if cut is None:
        cut = cuts[on] = _cut(history, on)
        object.__setattr__(cut, "_cut_on", on)  # a mark, not a reference: no cycle to collect
    return cut


def _cut(history: History, on: date) -> History:
    return dataclasses.replace(
        history,
        risk_category=category_on(history, on),
        last_dose_on=_known(history.last_dose_on, on),
        consents=tuple(
            sorted(
                (x for x in history.consents if x.signed_on <= on),
                key=lambda x: (x.signed_on, x.kind),
            )
        ),
        contraception=tuple(
            sorted(
                (x for x in history.contraception if x.confirmed_on <= on),
                key=lambda x: (x.confirmed_on, x.id),
            )
        ),
        pregnancy_tests=tuple(
            sorted(
                (
                    _with(x, superseded_on=_known(x.superseded_on, on))
                    for x in history.pregnancy_tests
                    if x.collected_on <= on
                ),
                key=lambda x: (x.collected_on, x.id),
            )
        ),
        labs=tuple(
            sorted(
                (x for x in history.labs if x.collected_on <= on),
                key=lambda x: (x.collected_on, x.kind),
            )
        ),
        visits=tuple(
            sorted(
                (
                    _with(x, mood_reviews=tuple(sorted(d for d in x.mood_reviews if d <= on)))
                    if x.mood_reviews
                    else x
                    for x in history.visits
                    if x.visited_on <= on
                ),
                key=lambda x: (x.visited_on, x.id),
            )
        ),
        prescriptions=tuple(
            sorted(
                (
                    _with(x, dispensed_on=_known(x.dispensed_on, on))
                    for x in history.prescriptions
                    if x.written_on <= on
                ),
                key=lambda x: (x.written_on, x.id),
            )
        ),
        comprehension_reported_on=tuple(
            sorted(d for d in history.comprehension_reported_on if d <= on)
        ),
    )


def recorded_days(history: History) -> tuple[date, ...]:
    """Every date the snapshot holds, in its records and its settings, sorted and once each.

    A cut only compares these dates with its day, so the cuts at two days with none of them
    in between hold the same records: a reader asking about every day of a course (the dose
    chart) makes one cut per recorded day instead of one per day.
    """
    found: set[date] = set()

    def walk(value: object) -> None:
        if isinstance(value, date):
            found.add(value)
        elif dataclasses.is_dataclass(value):
            for f in dataclasses.fields(value):
                walk(getattr(value, f.name))
        elif isinstance(value, tuple | frozenset):
            for item in value:
                walk(item)

    walk(history)
    return tuple(sorted(found))


def category_on(history: History, on: date) -> str:
    """The risk category in force on `on`: the latest change dated on or before it, else the
    category the first later change replaced, else the patient's category as recorded."""
    changes = sorted(history.risk_category_changes, key=lambda x: x.changed_on)
    in_force = [x for x in changes if x.changed_on <= on]
    if in_force:
        return in_force[-1].new
    if changes:
        return changes[0].previous
    return history.risk_category


if TYPE_CHECKING:
    from _typeshed import DataclassInstance

R = TypeVar("R", bound="DataclassInstance")


def _with(record: R, **changes: object) -> R:
    """`record` with `changes`, or `record` itself when they change nothing (the usual case:
    a cut for today of records all in the past). Records are frozen: sharing one is safe,
    and copying every record of every patient was a tenth of the clinic's refresh."""
    if all(getattr(record, name) == value for name, value in changes.items()):
        return record
    return dataclasses.replace(record, **changes)


def _known(value: date | None, on: date) -> date | None:
    return value if value is not None and value <= on else None


# Helpers below expect a snapshot already cut with `as_of`.


def dispensed(history: History) -> tuple[Prescription, ...]:
    """Dispensed prescriptions, oldest dispense first."""
    return tuple(
        sorted(
            (p for p in history.prescriptions if p.dispensed_on is not None),
            key=lambda p: (p.dispensed_on, p.id),
        )
    )


def dispensed_on(prescription: Prescription) -> date:
    """The dispense date of a prescription from `dispensed()`. Asked of one not yet dispensed
    it raises rather than let a supply be counted from no date."""
    if prescription.dispensed_on is None:
        raise ValueError(f"Prescription {prescription.id} has not been dispensed.")
    return prescription.dispensed_on


def course_start(history: History) -> date | None:
    """The course starts with its first dispense."""
    given = dispensed(history)
    return given[0].dispensed_on if given else None


def latest_dispensed(history: History) -> Prescription | None:
    given = dispensed(history)
    return given[-1] if given else None


def latest_weight_kg(history: History) -> Decimal:
    """The latest visit weight, else the enrollment weight."""
    weights = [v.weight_kg for v in history.visits if v.weight_kg is not None]
    return weights[-1] if weights else history.enrollment_weight_kg


def course_ended(history: History, on: date) -> bool:
    return history.last_dose_on is not None and history.last_dose_on <= on


def in_treatment(history: History, on: date) -> bool:
    """The course has started and has not ended."""
    return course_start(history) is not None and not course_ended(history, on)


def supply_end(prescription: Prescription) -> date:
    """Last day of a dispensed prescription's supply: dispensed_on + days_supply - 1."""
    return dispensed_on(prescription) + timedelta(days=prescription.days_supply - 1)
