"""Cumulative dose arithmetic, the dose chart series and prescription input checks."""

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from rules import Cumulative, cumulative, dose_series, validate_prescription
from tests.rules.builders import days, prescription, ready_cannot_get_pregnant, visit

DISPENSED = date(2025, 3, 1)
D = Decimal


def on_day(n: int) -> date:
    """Day n of the supply: day 1 is the dispense day."""
    return DISPENSED + days(n - 1)


def dispensed(*prescriptions, **changes):
    history = ready_cannot_get_pregnant(DISPENSED)
    return replace(history, prescriptions=prescriptions, **changes)


ONE_SUPPLY = dispensed(prescription(1, DISPENSED - days(1), dispensed_on=DISPENSED))


@pytest.mark.parametrize(
    ("day", "mg"),
    [(0, 0), (1, 40), (2, 80), (29, 1160), (30, 1200), (31, 1200), (90, 1200)],
)
def test_the_dose_counts_each_day_of_the_supply_from_the_dispense_day(day, mg):
    assert cumulative(ONE_SUPPLY, on_day(day)).mg == D(mg)


@pytest.mark.parametrize(("day", "mg"), [(9, 360), (10, 400), (11, 400), (40, 400)])
def test_the_dose_stops_at_the_last_dose(day, mg):
    history = replace(ONE_SUPPLY, last_dose_on=on_day(10))
    assert cumulative(history, on_day(day)).mg == D(mg)


@pytest.mark.parametrize(("day", "mg"), [(14, 560), (15, 600 - 120), (20, 800 - 120)])
def test_missed_days_recorded_at_a_visit_are_taken_off(day, mg):
    history = replace(ONE_SUPPLY, visits=(visit(1, on_day(15), missed_dose_days=3),))
    assert cumulative(history, on_day(day)).mg == D(mg)


def test_missed_days_count_at_the_dose_being_taken_before_the_visit():
    history = dispensed(
        prescription(1, on_day(0), dispensed_on=on_day(1), daily_dose_mg=D(40)),
        prescription(2, on_day(30), dispensed_on=on_day(31), daily_dose_mg=D(60)),
        visits=(visit(1, on_day(31), missed_dose_days=2),),
    )
    # 30 days at 40 mg, 2 missed of them, then 1 day at 60 mg.
    assert cumulative(history, on_day(31)).mg == D(1200 - 80 + 60)


def test_missed_days_at_a_visit_before_any_dispense_take_nothing_off():
    history = replace(ONE_SUPPLY, visits=(visit(1, on_day(1), missed_dose_days=5),))
    assert cumulative(history, on_day(3)).mg == D(120)


def test_the_dose_never_goes_below_zero():
    history = replace(ONE_SUPPLY, visits=(visit(1, on_day(2), missed_dose_days=20),))
    assert cumulative(history, on_day(2)).mg == D(0)


def test_two_supplies_add_up_and_a_prescription_not_yet_dispensed_adds_nothing():
    history = dispensed(
        prescription(1, on_day(0), dispensed_on=on_day(1), days_supply=10),
        prescription(2, on_day(10), dispensed_on=on_day(12), daily_dose_mg=D("30"), days_supply=5),
        prescription(3, on_day(16)),
    )
    assert cumulative(history, on_day(11)).mg == D(400)
    assert cumulative(history, on_day(13)).mg == D(400 + 60)
    assert cumulative(history, on_day(30)).mg == D(400 + 150)


def test_a_dispense_after_the_day_adds_nothing():
    history = dispensed(prescription(1, on_day(0), dispensed_on=on_day(5)))
    assert cumulative(history, on_day(4)).mg == D(0)


@pytest.mark.parametrize(
    ("daily_mg", "weight", "mg_per_kg"),
    [
        ("3", "60", "0.1"),  # 0.05 rounds half up
        ("9", "60", "0.2"),  # 0.15 rounds half up
        ("2.9", "60", "0.0"),  # 0.0483
        ("25", "60", "0.4"),  # 0.41666
        ("40", "57.3", "0.7"),  # 0.698
    ],
)
def test_mg_per_kg_rounds_half_up_to_one_decimal(daily_mg, weight, mg_per_kg):
    history = dispensed(
        prescription(1, on_day(0), dispensed_on=on_day(1), daily_dose_mg=D(daily_mg)),
        enrollment_weight_kg=D(weight),
    )
    found = cumulative(history, on_day(1))
    assert (str(found.mg_per_kg), found.mg) == (mg_per_kg, D(daily_mg))


@pytest.mark.parametrize(("visit_offset", "mg_per_kg"), [(None, "20.0"), (0, "15.0"), (1, "17.1")])
def test_mg_per_kg_uses_the_latest_weight_on_or_before_the_day(visit_offset, mg_per_kg):
    asked = on_day(30)
    visits = (
        ()
        if visit_offset is None
        else (
            visit(1, asked - days(5), weight_kg=D("70")),
            visit(2, asked + days(visit_offset), weight_kg=D("80")),
            visit(3, asked - days(1), weight_kg=None),
        )
    )
    history = replace(ONE_SUPPLY, visits=visits)
    assert str(cumulative(history, asked).mg_per_kg) == mg_per_kg


def test_the_projected_completion_divides_the_remaining_dose_by_the_latest_daily_dose():
    asked = on_day(30)
    # target 120 mg/kg * 60 kg = 7200 mg; taken 1200; 6000 / 40 = 150 days.
    assert cumulative(ONE_SUPPLY, asked) == Cumulative(
        mg=D(1200),
        mg_per_kg=D("20.0"),
        target_mg_per_kg=D(120),
        projected_completion_on=asked + days(150),
    )
    history = dispensed(
        prescription(1, on_day(0), dispensed_on=on_day(1)),
        prescription(2, on_day(29), dispensed_on=on_day(30), daily_dose_mg=D(70)),
    )
    # Supplies overlap on day 30: 30 * 40 + 70 = 1270 taken; 5930 / 70 = 84.7 -> 85 days.
    found = cumulative(history, asked)
    assert (found.mg, found.projected_completion_on) == (D(1270), asked + days(85))


def test_the_projected_completion_is_none_without_a_dispense_or_after_the_course():
    assert cumulative(ONE_SUPPLY, on_day(0)).projected_completion_on is None
    ended = replace(ONE_SUPPLY, last_dose_on=on_day(20))
    assert cumulative(ended, on_day(19)).projected_completion_on is not None
    assert cumulative(ended, on_day(20)).projected_completion_on is None


@pytest.mark.parametrize(("day", "reached"), [(9, False), (10, True), (12, True)])
def test_the_projected_completion_is_the_day_itself_once_the_target_is_reached(day, reached):
    history = replace(ONE_SUPPLY, target_mg_per_kg=D(50), enrollment_weight_kg=D(8))
    found = cumulative(history, on_day(day))  # 400 mg by day 10
    assert (found.projected_completion_on == on_day(day)) is reached


def test_the_dose_series_runs_from_the_first_dispense_through_the_day():
    history = replace(ONE_SUPPLY, visits=(visit(1, on_day(3), missed_dose_days=1),))
    series = dose_series(history, on_day(4))
    assert series == (
        (on_day(1), D("0.7")),  # 40 / 60
        (on_day(2), D("1.3")),
        (on_day(3), D("1.3")),  # 120 - 40 missed
        (on_day(4), D("2.0")),
    )
    assert dose_series(history, on_day(0)) == ()
    assert dose_series(ready_cannot_get_pregnant(DISPENSED), on_day(10)) == ()


# validate_prescription

ENROLLED = DISPENSED - days(40)


@pytest.mark.parametrize(
    ("days_supply", "error"), [(0, True), (1, False), (30, False), (31, True), (-3, True)]
)
def test_days_supply_is_1_to_30(days_supply, error):
    errors = validate_prescription(ONE_SUPPLY, DISPENSED, D(40), days_supply)
    assert errors.get("days_supply") == ("Days supply must be between 1 and 30." if error else None)


@pytest.mark.parametrize(
    ("dose", "error"),
    [("-1", True), ("0", True), ("0.5", False), ("120", False), ("120.01", True)],
)
def test_the_daily_dose_is_above_0_and_at_most_2_mg_per_kg(dose, error):
    errors = validate_prescription(ONE_SUPPLY, DISPENSED, D(dose), 30)
    assert ("daily_dose_mg" in errors) is error
    if error and D(dose) > 0:
        assert errors["daily_dose_mg"] == (
            "The daily dose is above 2 mg/kg/day for a weight of 60 kg (at most 120 mg)."
        )


@pytest.mark.parametrize(("visit_offset", "allowed"), [(-1, True), (0, True), (1, False)])
def test_the_dose_limit_uses_the_latest_weight_on_or_before_the_written_date(visit_offset, allowed):
    history = replace(
        ONE_SUPPLY, visits=(visit(1, DISPENSED + days(visit_offset), weight_kg=D("75")),)
    )
    errors = validate_prescription(history, DISPENSED, D(150), 30)
    assert ("daily_dose_mg" not in errors) is allowed


@pytest.mark.parametrize(("written_offset", "error"), [(-1, True), (0, False), (1, False)])
def test_a_prescription_is_not_written_before_enrollment(written_offset, error):
    history = replace(ONE_SUPPLY, enrolled_on=ENROLLED)
    errors = validate_prescription(history, ENROLLED + days(written_offset), D(40), 30)
    assert ("written_on" in errors) is error
    assert set(errors) <= {"written_on"}


@pytest.mark.parametrize(
    ("target", "refused"),
    [(None, True), (49, True), (50, False), (120, False), (300, False), (301, True)],
)
def test_the_dose_target_is_checked_in_one_place(target, refused):
    from rules import target_error

    assert (target_error(target) is not None) is refused
