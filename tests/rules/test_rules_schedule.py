"""The pick-up window and every due code of docs/domain.md section 6, at each edge."""

from dataclasses import replace
from datetime import date

import pytest

from rules import LabResult, RuleSettings, Window, due, status, window
from tests.rules.builders import (
    BOTH_RULE_SETS,
    RS2021_DAY,
    RS2026_DAY,
    baseline_labs,
    before_the_months_checks,
    days,
    pregnancy_test,
    prescription,
    ready_can_get_pregnant,
    ready_cannot_get_pregnant,
    staff_confirmation,
    treating_can_get_pregnant,
    treating_cannot_get_pregnant,
    visit,
)


def due_on(history, on) -> dict:
    return {d.code: d.due_on for d in due(history, on)}


# The window


@pytest.mark.parametrize(
    ("offset", "open"), [(-1, False), (0, True), (3, True), (6, True), (7, False)]
)
@pytest.mark.parametrize("on", BOTH_RULE_SETS)
def test_the_window_runs_from_the_confirmation_test_scd_through_scd_plus_6(on, offset, open):
    scd = on - days(2)
    history = ready_can_get_pregnant(on)
    asked = scd + days(offset)
    expected = Window(scd, scd + days(6)) if open else None
    assert window(history, asked) == expected
    assert status(history, asked).window == expected
    assert due_on(history, asked).get("window_closes") == (scd + days(6) if open else None)


@pytest.mark.parametrize(("dispensed_offset", "open"), [(-1, True), (0, False), (6, False)])
@pytest.mark.parametrize("on", BOTH_RULE_SETS)
def test_a_dispense_on_or_after_the_scd_uses_the_window(on, dispensed_offset, open):
    history = treating_can_get_pregnant(on)
    scd = on - days(2)
    given = prescription(2, scd, dispensed_on=scd + days(dispensed_offset))
    history = replace(history, prescriptions=(*history.prescriptions, given))
    asked = on + days(4)  # still in the window's seven days
    assert (window(history, asked) is not None) is open
    assert ("window_closes" in due_on(history, asked)) is open


@pytest.mark.parametrize(("offset", "open"), [(-1, False), (0, True), (29, True), (30, False)])
@pytest.mark.parametrize("builder", [ready_cannot_get_pregnant, treating_cannot_get_pregnant])
def test_rs2021_cannot_get_pregnant_window_is_the_visit_plus_29(builder, offset, open):
    on = RS2021_DAY
    visited_on = on - days(2)
    history = replace(builder(on), visits=(visit(1, visited_on),))
    asked = visited_on + days(offset)
    expected = Window(visited_on, visited_on + days(29)) if open else None
    assert window(history, asked) == expected
    assert due_on(history, asked).get("window_closes") == (expected.closes_on if open else None)


@pytest.mark.parametrize(("dispensed_offset", "open"), [(-1, True), (0, False), (1, False)])
def test_rs2021_cannot_get_pregnant_window_is_used_by_a_dispense(dispensed_offset, open):
    on = RS2021_DAY
    history = treating_cannot_get_pregnant(on)
    visited_on = on - days(2)
    given = prescription(2, visited_on, dispensed_on=visited_on + days(dispensed_offset))
    history = replace(history, prescriptions=(*history.prescriptions, given))
    assert (window(history, on + days(1)) is not None) is open


@pytest.mark.parametrize(
    ("settings", "expected_days"),
    [(RuleSettings(), None), (RuleSettings(rs2026_cannot_get_pregnant_visit_days=45), 44)],
)
def test_rs2026_cannot_get_pregnant_window_follows_the_clinic_setting(settings, expected_days):
    on = RS2026_DAY
    history = replace(ready_cannot_get_pregnant(on), settings=settings)
    visited_on = history.visits[0].visited_on
    expected = None if expected_days is None else Window(visited_on, visited_on + days(44))
    assert window(history, on) == expected


# confirmation_test_earliest


@pytest.mark.parametrize(
    ("screening_offset", "started_offset", "expected_offset"),
    [
        (-25, -70, -6),  # screening + 19 is later
        (-25, -20, 10),  # started_on + 30 is later
        (-25, None, -6),
        (None, -20, 10),
    ],
)
@pytest.mark.parametrize("on", BOTH_RULE_SETS)
def test_the_earliest_confirmation_test_is_the_later_of_screening_19_and_methods_30(
    on, screening_offset, started_offset, expected_offset
):
    history = ready_can_get_pregnant(on)
    tests = () if screening_offset is None else (pregnancy_test(1, "screening", on + days(-25)),)
    started = None if started_offset is None else on + days(started_offset)
    history = replace(
        history,
        pregnancy_tests=tests,
        contraception=(staff_confirmation(1, on - days(3), started_on=started),),
    )
    assert due_on(history, on)["confirmation_test_earliest"] == on + days(expected_offset)


@pytest.mark.parametrize(("dispensed_offset", "shown"), [(1, True), (0, False), (-1, False)])
def test_the_earliest_confirmation_test_is_shown_until_the_first_dispense(dispensed_offset, shown):
    on = RS2026_DAY
    history = ready_can_get_pregnant(on)
    given = prescription(1, on - days(1), dispensed_on=on + days(dispensed_offset))
    history = replace(history, prescriptions=(given,))
    assert ("confirmation_test_earliest" in due_on(history, on)) is shown


def test_nothing_is_due_before_the_course_for_cannot_get_pregnant_under_rs2026():
    assert due(ready_cannot_get_pregnant(RS2026_DAY), RS2026_DAY) == ()


# lockout_until

MISSED = date(2024, 3, 1)


@pytest.mark.parametrize(
    ("asked", "expected"),
    [
        (MISSED + days(6), None),
        (MISSED + days(7), MISSED + days(19)),
        (MISSED + days(19), MISSED + days(19)),
    ],
)
def test_rs2021_shows_the_lockout_end_after_a_missed_first_window(asked, expected):
    history = replace(ready_can_get_pregnant(MISSED + days(2)), labs=baseline_labs(MISSED))
    assert due_on(history, asked).get("lockout_until") == expected
    rs2026 = replace(history, settings=RuleSettings(rs2026_effective_on=date(2020, 1, 1)))
    assert "lockout_until" not in due_on(rs2026, asked)


# monthly_test_due and visit_due: supply end - 2, supply end = dispensed_on + days_supply - 1


def _dispensed_on(on, dispensed_offset, **kwargs):
    history = ready_can_get_pregnant(on)
    given = prescription(1, on - days(1), dispensed_on=on + days(dispensed_offset), **kwargs)
    return replace(history, prescriptions=(given,))


@pytest.mark.parametrize(("dispensed_offset", "expected_offset"), [(1, None), (0, 27), (-1, 26)])
@pytest.mark.parametrize("on", BOTH_RULE_SETS)
def test_the_monthly_test_is_due_two_days_before_the_supply_ends(
    on, dispensed_offset, expected_offset
):
    history = _dispensed_on(on, dispensed_offset)
    expected = None if expected_offset is None else on + days(expected_offset)
    found = due_on(history, on)
    assert found.get("monthly_test_due") == expected
    assert found.get("visit_due") == expected


def test_a_short_supply_moves_the_monthly_test():
    on = RS2021_DAY
    assert due_on(_dispensed_on(on, 0, days_supply=7), on)["monthly_test_due"] == on + days(4)


@pytest.mark.parametrize(("last_dose_offset", "during"), [(-1, False), (0, False), (1, True)])
def test_nothing_is_due_for_the_month_once_treatment_ended(last_dose_offset, during):
    on = RS2021_DAY
    history = before_the_months_checks(treating_can_get_pregnant(on), on)
    history = replace(history, last_dose_on=on + days(last_dose_offset))
    found = due_on(history, on)
    assert ("monthly_test_due" in found) is during
    assert ("visit_due" in found) is during


@pytest.mark.parametrize("on", BOTH_RULE_SETS)
def test_patients_who_cannot_get_pregnant_have_a_visit_but_no_monthly_test_due(on):
    found = due_on(before_the_months_checks(treating_cannot_get_pregnant(on), on), on)
    assert "monthly_test_due" not in found
    assert found["visit_due"] == on - days(2)


@pytest.mark.parametrize(
    ("next_visit_offset", "visit_offset", "expected_offset"),
    [(12, 0, 12), (12, 1, -2), (None, 0, None), (None, -30, -2)],
)
def test_the_visit_is_due_on_the_next_visit_date_of_the_latest_visit(
    next_visit_offset, visit_offset, expected_offset
):
    on = RS2026_DAY
    history = treating_can_get_pregnant(on)
    next_visit_on = None if next_visit_offset is None else on + days(next_visit_offset)
    history = replace(
        history, visits=(visit(9, on + days(visit_offset), next_visit_on=next_visit_on),)
    )
    # Without a usable next visit date: supply end (on) - 2, unless this month's visit (after
    # the prescription written on - 30) is done.
    expected = None if expected_offset is None else on + days(expected_offset)
    assert due_on(history, on).get("visit_due") == expected


# followup_labs_due: course start + 56 until a lab after course start + 28

START = RS2021_DAY - days(29)  # the treating builders' first dispense


@pytest.mark.parametrize(
    ("lab_offset", "shown"),
    [(None, True), (28, True), (29, False)],
)
@pytest.mark.parametrize("builder", [treating_can_get_pregnant, treating_cannot_get_pregnant])
def test_followup_labs_are_due_8_weeks_after_the_course_starts(builder, lab_offset, shown):
    history = builder(RS2021_DAY)
    labs = () if lab_offset is None else (LabResult("alt", START + days(lab_offset), 20, "U/L"),)
    history = replace(history, labs=labs)
    asked = START + days(35)
    assert due_on(history, asked).get("followup_labs_due") == (START + days(56) if shown else None)


def test_a_lab_after_the_day_does_not_clear_followup_labs():
    history = treating_cannot_get_pregnant(RS2021_DAY)
    history = replace(history, labs=(LabResult("alt", START + days(40), 20, "U/L"),))
    assert due_on(history, START + days(39))["followup_labs_due"] == START + days(56)
    assert "followup_labs_due" not in due_on(history, START + days(40))


def test_the_clinic_sets_the_followup_lab_weeks():
    history = replace(
        treating_cannot_get_pregnant(RS2021_DAY), settings=RuleSettings(followup_lab_weeks=12)
    )
    assert due_on(history, RS2021_DAY)["followup_labs_due"] == START + days(84)


def test_no_followup_labs_are_due_before_the_course_starts():
    assert "followup_labs_due" not in due_on(ready_cannot_get_pregnant(RS2021_DAY), RS2021_DAY)


# After the last dose

LD = RS2026_DAY


def ended(builder, **changes):
    return replace(builder(LD - days(5)), last_dose_on=LD, **changes)


@pytest.mark.parametrize(("asked_offset", "after"), [(-1, False), (0, True), (1, True)])
def test_after_the_last_dose_the_dates_count_from_it(asked_offset, after):
    found = due_on(ended(treating_can_get_pregnant), LD + days(asked_offset))
    expected = {
        "end_of_treatment_test_due": LD,
        "post_treatment_test_due": LD + days(30),
        "blood_donation_allowed": LD + days(30),
        "retreatment_earliest": LD + days(56),
    }
    assert {code: found.get(code) for code in expected} == (
        expected if after else dict.fromkeys(expected)
    )


@pytest.mark.parametrize("asked_offset", [0, 1])
def test_patients_who_cannot_get_pregnant_have_only_donation_and_retreatment_dates(asked_offset):
    found = due_on(ended(treating_cannot_get_pregnant), LD + days(asked_offset))
    assert {k: v for k, v in found.items() if k != "followup_labs_due"} == {
        "blood_donation_allowed": LD + days(30),
        "retreatment_earliest": LD + days(56),
    }


def test_the_clinic_can_drop_the_end_of_treatment_test():
    history = ended(
        treating_can_get_pregnant, settings=RuleSettings(end_of_treatment_test_required=False)
    )
    assert "end_of_treatment_test_due" not in due_on(history, LD)
    assert "post_treatment_test_due" in due_on(history, LD)


@pytest.mark.parametrize(
    ("result", "collected_offset", "done"),
    [("negative", -3, True), ("positive", 0, True), ("invalid", 0, False), ("negative", 1, False)],
)
def test_the_end_of_treatment_test_is_due_until_it_is_recorded(result, collected_offset, done):
    history = ended(treating_can_get_pregnant)
    test = pregnancy_test(30, "end_of_treatment", LD + days(collected_offset), result=result)
    history = replace(history, pregnancy_tests=(*history.pregnancy_tests, test))
    assert ("end_of_treatment_test_due" not in due_on(history, LD)) is done


@pytest.mark.parametrize(
    ("result", "collected_offset", "asked_offset", "test_due", "may_stop"),
    [
        ("negative", 30, 29, True, False),  # collected after the day asked about
        ("negative", 30, 30, False, True),
        ("negative", 25, 31, False, True),
        ("negative", 0, 31, False, True),
        ("negative", -1, 31, True, False),  # before the last dose: not a post-treatment test
        ("positive", 30, 31, False, False),
        ("invalid", 30, 31, True, False),
    ],
)
def test_contraception_may_stop_a_month_after_the_last_dose_after_a_negative_post_test(
    result, collected_offset, asked_offset, test_due, may_stop
):
    history = ended(treating_can_get_pregnant)
    test = pregnancy_test(31, "post_treatment", LD + days(collected_offset), result=result)
    history = replace(history, pregnancy_tests=(*history.pregnancy_tests, test))
    found = due_on(history, LD + days(asked_offset))
    assert found.get("post_treatment_test_due") == (LD + days(30) if test_due else None)
    assert found.get("contraception_may_stop") == (LD + days(30) if may_stop else None)


def test_due_codes_come_in_the_order_of_the_domain():
    on = RS2021_DAY
    before = before_the_months_checks(treating_can_get_pregnant(on), on)
    assert [d.code for d in due(before, on)] == [
        "monthly_test_due",
        "visit_due",
        "followup_labs_due",
    ]
    # Once the month's test and visit are done, the window of that test opens instead.
    after = treating_can_get_pregnant(on)
    assert [d.code for d in due(after, on)] == ["window_closes", "followup_labs_due"]


@pytest.mark.parametrize("last_dose", [None, date(2026, 10, 1)])
def test_a_new_course_may_start_56_days_after_the_last_dose(last_dose):
    from rules import new_course_earliest

    history = ready_can_get_pregnant(date(2026, 9, 1))
    history = replace(history, last_dose_on=last_dose)
    expected = None if last_dose is None else date(2026, 11, 26)
    assert new_course_earliest(history) == expected


@pytest.mark.parametrize(
    ("collected_offset", "result", "still_due"),
    [
        (-9, "negative", True),
        (-8, "negative", False),
        (0, "negative", False),
        (-2, "positive", True),
    ],
)
def test_the_monthly_test_is_done_once_collected_within_7_days_of_its_due_date(
    collected_offset, result, still_due
):
    on = RS2026_DAY
    # Supply ends on `on`: the monthly test is due on - 2, so a test from on - 8 qualifies.
    history = before_the_months_checks(treating_can_get_pregnant(on), on)
    test = pregnancy_test(7, "monthly", on + days(collected_offset), result=result)
    history = replace(history, pregnancy_tests=(*history.pregnancy_tests, test))
    assert ("monthly_test_due" in due_on(history, on)) is still_due


def test_with_a_short_supply_the_test_that_qualified_it_is_not_this_months_test():
    on = RS2026_DAY
    # The monthly test of on - 2 qualified a second prescription written on `on` for 7 days,
    # dispensed the same day: the next monthly test is due on + 4, and the test of on - 2,
    # though within 6 days of it, was for the prescription being taken.
    history = treating_can_get_pregnant(on)
    second = prescription(2, on, dispensed_on=on, days_supply=7)
    history = replace(history, prescriptions=(*history.prescriptions, second))
    assert due_on(history, on + days(3))["monthly_test_due"] == on + days(4)


@pytest.mark.parametrize("on", BOTH_RULE_SETS)
def test_a_prescription_is_picked_up_by_the_end_of_its_window(on):
    from rules import pickup_deadline

    # ready_can_get_pregnant: the confirmation test of on - 2 opens on - 2 .. on + 4.
    assert pickup_deadline(ready_can_get_pregnant(on), on) == on + days(4)


def test_without_a_window_a_prescription_is_picked_up_within_a_month():
    from rules import pickup_deadline

    on = RS2026_DAY  # cannot_get_pregnant under RS-2026 has no window (docs/domain.md section 9)
    assert pickup_deadline(ready_cannot_get_pregnant(on), on) == on + days(29)
