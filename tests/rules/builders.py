"""Histories that pass the gate on a given day; tests change one thing with dataclasses.replace.

Every date is relative to `on`, the day a prescription is written, so a test can move a record
to the day before, on, or after an edge by plain arithmetic.
"""

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

from rules import (
    Consent,
    ContraceptionConfirmation,
    History,
    LabResult,
    PregnancyTest,
    Prescription,
    Visit,
)

# A day judged by each rule set (default settings).
RS2021_DAY = date(2024, 3, 14)
RS2026_DAY = date(2026, 11, 10)
BOTH_RULE_SETS = [RS2021_DAY, RS2026_DAY]

WEIGHT = Decimal("60")


def days(n: int) -> timedelta:
    return timedelta(days=n)


def pregnancy_test(
    id: int,
    kind: str,
    collected_on: date,
    *,
    result: str = "negative",
    setting: str = "medical",
    clia_lab: bool = True,
    verified: bool = True,
    superseded_on: date | None = None,
) -> PregnancyTest:
    return PregnancyTest(
        id=id,
        kind=kind,
        collected_on=collected_on,
        result=result,
        setting=setting,
        clia_lab=clia_lab,
        method="urine",
        verified=verified,
        superseded_on=superseded_on,
    )


def visit(id: int, visited_on: date, **changes) -> Visit:
    fields = dict(
        weight_kg=None,
        counseling_confirmed=True,
        comprehension_completed=True,
        phq2=0,
        phq9=None,
        phq9_item9=None,
        missed_dose_days=0,
        next_visit_on=None,
    )
    fields.update(changes)
    return Visit(id=id, visited_on=visited_on, **fields)


def staff_confirmation(
    id: int,
    confirmed_on: date,
    *,
    methods=("iud", "male_condom"),
    abstinence: bool = False,
    started_on: date | None = None,
    source: str = "staff",
) -> ContraceptionConfirmation:
    return ContraceptionConfirmation(
        id=id,
        confirmed_on=confirmed_on,
        source=source,
        methods=frozenset(methods),
        abstinence=abstinence,
        started_on=started_on,
    )


def patient_confirmation(id: int, confirmed_on: date, **kwargs) -> ContraceptionConfirmation:
    return staff_confirmation(id, confirmed_on, source="patient", **kwargs)


def baseline_labs(collected_on: date) -> tuple[LabResult, ...]:
    return (
        LabResult("triglycerides", collected_on, Decimal("120"), "mg/dL"),
        LabResult("total_cholesterol", collected_on, Decimal("170"), "mg/dL"),
        LabResult("alt", collected_on, Decimal("22"), "U/L"),
    )


def prescription(
    id: int,
    written_on: date,
    *,
    dispensed_on: date | None = None,
    daily_dose_mg: Decimal = Decimal("40"),
    days_supply: int = 30,
) -> Prescription:
    return Prescription(
        id=id,
        written_on=written_on,
        daily_dose_mg=daily_dose_mg,
        days_supply=days_supply,
        dispensed_on=dispensed_on,
    )


def ready_can_get_pregnant(on: date) -> History:
    """A patient who can get pregnant, ready for the first prescription of the course on `on`.

    Screening on - 25 (earliest confirmation on - 6), methods started on - 70 (earliest on - 40),
    confirmation test on - 2 (window on - 2 .. on + 4), visit on - 2, labs on - 20.
    """
    return History(
        risk_category="can_get_pregnant",
        enrolled_on=on - days(40),
        enrollment_weight_kg=WEIGHT,
        home_tests_allowed=False,
        target_mg_per_kg=Decimal("120"),
        consents=(
            Consent("patient_information", on - days(40)),
            Consent("birth_defects", on - days(40)),
        ),
        contraception=(staff_confirmation(1, on - days(3), started_on=on - days(70)),),
        pregnancy_tests=(
            pregnancy_test(1, "screening", on - days(25)),
            pregnancy_test(2, "confirmation", on - days(2)),
        ),
        labs=baseline_labs(on - days(20)),
        visits=(visit(1, on - days(2)),),
    )


def treating_can_get_pregnant(on: date) -> History:
    """A patient who can get pregnant, ready for the second prescription on `on`.

    First prescription written on - 30, dispensed on - 29 (30 days: supply ends on `on`); the
    cycle is on - 29 .. on. Monthly test on - 2, visit on - 2, staff confirmation on - 3.
    """
    history = ready_can_get_pregnant(on - days(30))
    return replace(
        history,
        contraception=(
            *history.contraception,
            staff_confirmation(2, on - days(3), started_on=on - days(100)),
        ),
        pregnancy_tests=(*history.pregnancy_tests, pregnancy_test(3, "monthly", on - days(2))),
        visits=(*history.visits, visit(2, on - days(2))),
        prescriptions=(prescription(1, on - days(30), dispensed_on=on - days(29)),),
    )


def ready_cannot_get_pregnant(on: date) -> History:
    """A patient who cannot get pregnant, ready for the first prescription on `on`."""
    return History(
        risk_category="cannot_get_pregnant",
        enrolled_on=on - days(40),
        enrollment_weight_kg=WEIGHT,
        home_tests_allowed=False,
        target_mg_per_kg=Decimal("120"),
        consents=(Consent("patient_information", on - days(40)),),
        labs=baseline_labs(on - days(20)),
        visits=(visit(1, on - days(2)),),
    )


def treating_cannot_get_pregnant(on: date) -> History:
    """A patient who cannot get pregnant, ready for the second prescription on `on`: first
    prescription written on - 30 and dispensed on - 29, visit on - 2."""
    history = ready_cannot_get_pregnant(on - days(30))
    return replace(
        history,
        visits=(*history.visits, visit(2, on - days(2))),
        prescriptions=(prescription(1, on - days(30), dispensed_on=on - days(29)),),
    )


def codes(blockers) -> list[str]:
    return [b.code for b in blockers]


def before_the_months_checks(history: History, on: date) -> History:
    """The same patient before this month's monthly test and visit (anything in the last 20
    days is taken away), so that both are still due."""
    since = on - days(20)
    return replace(
        history,
        pregnancy_tests=tuple(t for t in history.pregnancy_tests if t.collected_on < since),
        visits=tuple(v for v in history.visits if v.visited_on < since),
    )
