"""Rules checked from outside against the domain and found wrong once, each kept at its edges.

Each test names the scenario that was wrong, then walks the day before, on and after its edge.
"""

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from rules import (
    Consent,
    History,
    RiskCategoryChange,
    due,
    evaluate,
    standing_blockers,
    status,
)
from tests.rules.builders import (
    RS2021_DAY,
    RS2026_DAY,
    WEIGHT,
    baseline_labs,
    codes,
    days,
    pregnancy_test,
    prescription,
    ready_can_get_pregnant,
    ready_cannot_get_pregnant,
    staff_confirmation,
    treating_can_get_pregnant,
    visit,
)

PREGNANCY_TEST_CODES = {
    "screening_test_missing",
    "confirmation_test_missing",
    "confirmation_test_too_early",
    "pregnancy_test_missing",
    "test_setting_not_allowed",
    "lockout_active",
}


def due_on(history, on) -> dict:
    return {d.code: d.due_on for d in due(history, on)}


# 1. Counseling and the mood screen of a patient who cannot get pregnant are judged in the cycle
#    under RS-2021; only the visit itself uses the program's 30-day window.


def cannot_rs2021_in_treatment(**visit_changes) -> History:
    """Prescription written and dispensed 2025-02-03, counseled at the visit that day; a visit on
    2025-02-20 without counseling (the scenario found wrong)."""
    written = date(2025, 2, 3)
    return History(
        risk_category="cannot_get_pregnant",
        enrolled_on=date(2025, 1, 2),
        enrollment_weight_kg=WEIGHT,
        home_tests_allowed=False,
        target_mg_per_kg=Decimal("120"),
        consents=(Consent("patient_information", date(2025, 1, 2)),),
        labs=baseline_labs(date(2025, 1, 20)),
        visits=(
            visit(1, written, counseling_confirmed=True),
            visit(2, date(2025, 2, 20), counseling_confirmed=False, **visit_changes),
        ),
        prescriptions=(prescription(1, written, dispensed_on=written),),
    )


def test_rs2021_cannot_get_pregnant_counseling_from_the_last_cycle_is_not_reused():
    assert codes(evaluate(cannot_rs2021_in_treatment(), date(2025, 2, 27))) == [
        "counseling_unconfirmed"
    ]


@pytest.mark.parametrize(
    ("counseled_on", "expected"),
    [
        (date(2025, 2, 3), ["counseling_unconfirmed"]),  # the previous prescription's day
        (date(2025, 2, 4), []),  # the first day of the cycle
        (date(2025, 2, 27), []),  # the day itself
    ],
)
def test_rs2021_cannot_get_pregnant_counseling_counts_from_the_cycle_start(counseled_on, expected):
    history = cannot_rs2021_in_treatment()
    history = replace(
        history, visits=(*history.visits, visit(3, counseled_on, counseling_confirmed=True))
    )
    assert codes(evaluate(history, date(2025, 2, 27))) == expected


@pytest.mark.parametrize(
    ("screened_on", "expected"),
    [
        (date(2025, 2, 3), ["counseling_unconfirmed"]),  # before the cycle: does not count
        (date(2025, 2, 4), ["counseling_unconfirmed", "mood_screen_incomplete"]),
    ],
)
def test_rs2021_cannot_get_pregnant_mood_screen_is_the_latest_visit_of_the_cycle(
    screened_on, expected
):
    """Only the cycle's visits are read: a high PHQ-2 before it does not ask for a PHQ-9 now, and
    one in it does, although the 30-day visit window reaches both."""
    history = cannot_rs2021_in_treatment()
    screened = visit(3, screened_on, counseling_confirmed=False, phq2=4)
    history = replace(history, visits=(history.visits[0], screened))
    assert codes(evaluate(history, date(2025, 2, 27))) == expected


def test_rs2021_cannot_get_pregnant_visit_still_uses_the_30_day_window():
    """No visit in the cycle but one 29 days ago: no visit_missing, only counseling."""
    on = date(2025, 3, 4)
    history = cannot_rs2021_in_treatment()
    history = replace(
        history,
        visits=(visit(1, on - days(29)),),
        prescriptions=(
            prescription(1, on - days(29), dispensed_on=on - days(29)),
            prescription(2, on - days(3)),
        ),
    )
    assert codes(evaluate(history, on)) == ["counseling_unconfirmed"]
    later = replace(history, visits=(visit(1, on - days(30)),))
    assert "visit_missing" in codes(evaluate(later, on))


# 2. visit_due stays when the latest visit set no next date: supply end - 2.


def twenty_day_supply(*visits) -> History:
    """A 20-day supply dispensed 2026-05-11 (supply end 2026-05-30, visit due 2026-05-28)."""
    history = ready_cannot_get_pregnant(date(2026, 5, 11))
    return replace(
        history,
        prescriptions=(
            prescription(1, date(2026, 5, 11), dispensed_on=date(2026, 5, 11), days_supply=20),
        ),
        visits=(*history.visits, *visits),
    )


def test_a_visit_without_a_next_date_leaves_the_visit_due_at_supply_end_minus_2():
    history = twenty_day_supply(visit(5, date(2026, 5, 18)))
    assert due_on(history, date(2026, 5, 20))["visit_due"] == date(2026, 5, 28)


@pytest.mark.parametrize(
    ("visited_on", "still_due"),
    [
        (date(2026, 5, 21), True),  # due - 7: too early to be this month's visit
        (date(2026, 5, 22), False),  # due - 6: counts for the prescription written then
        (date(2026, 5, 28), False),
    ],
)
def test_the_visit_is_done_once_recorded_within_a_week_of_its_due_date(visited_on, still_due):
    history = twenty_day_supply(visit(5, visited_on))
    assert ("visit_due" in due_on(history, date(2026, 5, 29))) is still_due


def test_the_visit_due_date_is_read_from_the_latest_visit_not_the_oldest():
    history = twenty_day_supply(
        visit(5, date(2026, 5, 13), next_visit_on=date(2026, 6, 20)),
        visit(6, date(2026, 5, 18), next_visit_on=date(2026, 6, 10)),
    )
    assert due_on(history, date(2026, 5, 20))["visit_due"] == date(2026, 6, 10)
    # The other way round, and a latest visit without a date falls back to supply end - 2.
    reversed_dates = twenty_day_supply(
        visit(5, date(2026, 5, 13), next_visit_on=date(2026, 6, 10)),
        visit(6, date(2026, 5, 18)),
    )
    assert due_on(reversed_dates, date(2026, 5, 20))["visit_due"] == date(2026, 5, 28)


# 3. The risk category is dated: each day is judged by the category in force on it.


def changed(history: History, on: date, previous: str, new: str) -> History:
    return replace(
        history, risk_category=new, risk_category_changes=(RiskCategoryChange(on, previous, new),)
    )


@pytest.mark.parametrize("on", [RS2021_DAY, RS2026_DAY])
def test_a_change_to_can_get_pregnant_brings_the_tests_from_its_day_on(on):
    history = changed(ready_cannot_get_pregnant(on), on, "cannot_get_pregnant", "can_get_pregnant")
    assert not PREGNANCY_TEST_CODES & set(codes(evaluate(history, on - days(1))))
    assert evaluate(history, on - days(1)) == ()
    assert PREGNANCY_TEST_CODES & set(codes(evaluate(history, on)))
    assert PREGNANCY_TEST_CODES & set(codes(evaluate(history, on + days(1))))
    assert status(history, on - days(1)).can_prescribe


@pytest.mark.parametrize("on", [RS2021_DAY, RS2026_DAY])
def test_a_change_to_cannot_get_pregnant_drops_the_tests_from_its_day_on(on):
    untested = replace(ready_can_get_pregnant(on), pregnancy_tests=())
    history = changed(untested, on, "can_get_pregnant", "cannot_get_pregnant")
    assert PREGNANCY_TEST_CODES & set(codes(evaluate(history, on - days(1))))
    assert not PREGNANCY_TEST_CODES & set(codes(evaluate(history, on)))
    assert not PREGNANCY_TEST_CODES & set(codes(evaluate(history, on + days(1))))


def test_a_later_change_does_not_rewrite_the_days_before_it():
    on = RS2026_DAY
    history = replace(
        ready_cannot_get_pregnant(on),
        risk_category="cannot_get_pregnant",
        risk_category_changes=(
            RiskCategoryChange(on - days(10), "cannot_get_pregnant", "can_get_pregnant"),
            RiskCategoryChange(on - days(5), "can_get_pregnant", "cannot_get_pregnant"),
        ),
    )
    assert not PREGNANCY_TEST_CODES & set(codes(evaluate(history, on - days(11))))
    assert PREGNANCY_TEST_CODES & set(codes(evaluate(history, on - days(10))))
    assert PREGNANCY_TEST_CODES & set(codes(evaluate(history, on - days(6))))
    assert not PREGNANCY_TEST_CODES & set(codes(evaluate(history, on - days(5))))
    assert evaluate(history, on) == ()


# Mutations that once went unnoticed.


def test_a_late_entered_prescription_is_refused_while_the_course_has_ended():
    on = RS2026_DAY
    history = replace(treating_can_get_pregnant(on), last_dose_on=on - days(1))
    assert codes(standing_blockers(history, on)) == ["course_ended"]
    assert standing_blockers(treating_can_get_pregnant(on), on) == ()


def test_standing_blockers_keep_only_those_that_stand_whatever_the_date():
    on = RS2026_DAY
    history = replace(
        treating_can_get_pregnant(on),
        pregnancy_tests=(pregnancy_test(9, "monthly", on - days(1), result="positive"),),
        last_dose_on=on,
    )
    assert codes(standing_blockers(history, on)) == ["pregnancy_test_positive", "course_ended"]


def test_after_a_short_supply_qualified_on_its_writing_day_the_next_test_is_still_due():
    """A 10-day supply written and dispensed on the day its qualifying monthly test was taken:
    that test cannot be next month's (due at supply end - 2)."""
    on = RS2026_DAY
    history = treating_can_get_pregnant(on)
    written = on - days(2)  # the day the monthly test of the builder was collected
    history = replace(
        history,
        prescriptions=(
            *history.prescriptions,
            prescription(2, written, dispensed_on=written, days_supply=10),
        ),
    )
    assert due_on(history, on)["monthly_test_due"] == written + days(7)
    retested = replace(
        history,
        pregnancy_tests=(*history.pregnancy_tests, pregnancy_test(8, "monthly", written + days(1))),
    )
    assert "monthly_test_due" not in due_on(retested, on)


@pytest.mark.parametrize(("second_offset", "earliest_offset"), [(-30, -6), (-20, -1)])
def test_the_earliest_confirmation_date_comes_from_the_latest_of_two_screenings(
    second_offset, earliest_offset
):
    on = RS2026_DAY
    history = ready_can_get_pregnant(on)  # screening on - 25; methods started on - 70
    history = replace(
        history,
        pregnancy_tests=(
            *history.pregnancy_tests[:1],
            pregnancy_test(5, "screening", on + days(second_offset)),
        ),
    )
    # The later of the two screenings sets screening + 19; the methods' date is earlier.
    later = max(-25, second_offset)
    assert due_on(history, on)["confirmation_test_earliest"] == on + days(later + 19)
    assert earliest_offset == later + 19


def _missed(on_first: date, *tests) -> History:
    """RS-2021: a confirmation test whose window closed with nothing dispensed."""
    history = ready_can_get_pregnant(on_first)
    return replace(
        history,
        pregnancy_tests=(
            pregnancy_test(1, "screening", on_first - days(25)),
            pregnancy_test(2, "confirmation", on_first),
            *tests,
        ),
    )


def test_a_test_collected_the_day_a_lockout_ends_whose_window_is_missed_locks_out_again():
    first = RS2021_DAY - days(60)
    ends = first + days(19)
    history = _missed(first, pregnancy_test(3, "confirmation", ends))
    # Inside its window the new test counts.
    assert "lockout_active" not in codes(evaluate(history, ends + days(6)))
    # Its window missed too: a new lockout of 19 days from it.
    after = evaluate(history, ends + days(7))
    assert "lockout_active" in codes(after)
    lockout = next(b for b in after if b.code == "lockout_active")
    assert lockout.until == ends + days(19)
    assert due_on(history, ends + days(7))["lockout_until"] == ends + days(19)


@pytest.mark.parametrize("on", [RS2021_DAY, RS2026_DAY])
def test_a_test_of_an_unknown_setting_never_counts_as_a_home_test(on):
    history = ready_can_get_pregnant(on)
    history = replace(
        history,
        home_tests_allowed=True,
        pregnancy_tests=(
            history.pregnancy_tests[0],
            pregnancy_test(2, "confirmation", on - days(2), setting="pharmacy"),
        ),
        contraception=(staff_confirmation(1, on - days(3), started_on=on - days(70)),),
    )
    blockers = evaluate(history, on)
    assert codes(blockers) == ["test_setting_not_allowed"]
    assert "unknown setting" in blockers[0].message
