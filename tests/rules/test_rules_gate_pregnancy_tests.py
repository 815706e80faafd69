"""Pregnancy-test blockers for patients who can get pregnant, under both rule sets."""

from dataclasses import replace
from datetime import date

import pytest

from rules import RuleSettings, evaluate, status
from tests.rules.builders import (
    BOTH_RULE_SETS,
    RS2021_DAY,
    RS2026_DAY,
    baseline_labs,
    codes,
    days,
    pregnancy_test,
    prescription,
    ready_can_get_pregnant,
    ready_cannot_get_pregnant,
    staff_confirmation,
    treating_can_get_pregnant,
)


def with_tests(history, *tests):
    return replace(history, pregnancy_tests=tests)


# screening_test_missing


@pytest.mark.parametrize(
    ("screening", "expected"),
    [
        ({}, []),
        ({"setting": "home"}, ["screening_test_missing"]),
        ({"result": "invalid"}, ["screening_test_missing"]),
        ({"superseded_on": "set"}, ["screening_test_missing"]),
    ],
)
@pytest.mark.parametrize("on", BOTH_RULE_SETS)
def test_the_first_prescription_needs_a_negative_medical_screening_test(on, screening, expected):
    if screening.get("superseded_on"):
        screening = {"superseded_on": on - days(20)}
    history = ready_can_get_pregnant(on)
    history = with_tests(
        history,
        pregnancy_test(1, "screening", on - days(25), **screening),
        pregnancy_test(2, "confirmation", on - days(2)),
    )
    assert codes(evaluate(history, on)) == expected


@pytest.mark.parametrize("on", BOTH_RULE_SETS)
def test_no_screening_test_is_needed_after_the_first_dispense(on):
    history = treating_can_get_pregnant(on)
    history = with_tests(history, pregnancy_test(3, "monthly", on - days(2)))
    assert evaluate(history, on) == ()


@pytest.mark.parametrize("on", BOTH_RULE_SETS)
def test_patients_who_cannot_get_pregnant_need_no_pregnancy_test(on):
    assert evaluate(with_tests(ready_cannot_get_pregnant(on)), on) == ()


# confirmation_test_missing


@pytest.mark.parametrize("on", BOTH_RULE_SETS)
def test_the_first_prescription_needs_a_negative_confirmation_test(on):
    history = with_tests(
        ready_can_get_pregnant(on),
        pregnancy_test(1, "screening", on - days(25)),
        pregnancy_test(2, "confirmation", on - days(2), result="invalid"),
    )
    blockers = evaluate(history, on)
    assert codes(blockers) == ["confirmation_test_missing", "pregnancy_test_missing"]
    assert blockers[0].message == "No negative confirmation pregnancy test is recorded."


@pytest.mark.parametrize("on", BOTH_RULE_SETS)
def test_an_old_confirmation_test_is_not_missing_but_does_not_qualify(on):
    history = with_tests(
        ready_can_get_pregnant(on),
        pregnancy_test(1, "screening", on - days(45)),
        pregnancy_test(2, "confirmation", on - days(10)),
    )
    expected = ["pregnancy_test_missing"]
    if on == RS2021_DAY:
        expected.append("lockout_active")  # its window closed with nothing dispensed
    assert codes(evaluate(history, on)) == expected


# confirmation_test_too_early: screening SCD + 19


@pytest.mark.parametrize(
    ("screening_before_confirmation", "expected"),
    [(18, ["confirmation_test_too_early"]), (19, []), (20, [])],
)
@pytest.mark.parametrize("on", BOTH_RULE_SETS)
def test_the_confirmation_test_comes_19_days_after_the_screening_test(
    on, screening_before_confirmation, expected
):
    confirmation_on = on - days(2)
    screening_on = confirmation_on - days(screening_before_confirmation)
    history = with_tests(
        ready_can_get_pregnant(on),
        pregnancy_test(1, "screening", screening_on),
        pregnancy_test(2, "confirmation", confirmation_on),
    )
    blockers = evaluate(history, on)
    assert codes(blockers) == expected
    if blockers:
        assert blockers[0].until == screening_on + days(19)


# confirmation_test_too_early: contraception started_on + 30


@pytest.mark.parametrize(
    ("started_before_confirmation", "expected"),
    [(29, ["confirmation_test_too_early"]), (30, []), (31, [])],
)
@pytest.mark.parametrize("on", BOTH_RULE_SETS)
def test_the_confirmation_test_comes_30_days_after_contraception_began(
    on, started_before_confirmation, expected
):
    confirmation_on = on - days(2)
    started_on = confirmation_on - days(started_before_confirmation)
    history = replace(
        ready_can_get_pregnant(on),
        contraception=(staff_confirmation(1, on - days(3), started_on=started_on),),
    )
    blockers = evaluate(history, on)
    assert codes(blockers) == expected
    if blockers:
        assert blockers[0].until == started_on + days(30)
        assert blockers[0].message.startswith(
            f"The confirmation test collected {confirmation_on:%b} {confirmation_on.day}, "
        )


def test_the_later_of_the_two_earliest_dates_is_the_until():
    on = RS2026_DAY
    history = replace(
        with_tests(
            ready_can_get_pregnant(on),
            pregnancy_test(1, "screening", on - days(10)),
            pregnancy_test(2, "confirmation", on - days(2)),
        ),
        contraception=(staff_confirmation(1, on - days(3), started_on=on - days(20)),),
    )
    (blocker,) = evaluate(history, on)
    assert (blocker.code, blocker.until) == ("confirmation_test_too_early", on + days(10))


def test_a_confirmation_of_methods_after_the_day_does_not_change_the_start():
    on = RS2021_DAY
    history = ready_can_get_pregnant(on)
    later = staff_confirmation(5, on + days(1), started_on=on - days(5))
    history = replace(history, contraception=(*history.contraception, later))
    assert evaluate(history, on) == ()


# pregnancy_test_missing: the 7-day window


@pytest.mark.parametrize(
    ("collected_offset", "expected"),
    [
        (-7, ["pregnancy_test_missing"]),
        (-6, []),
        (0, []),
        (1, ["pregnancy_test_missing"]),
    ],
)
@pytest.mark.parametrize("on", BOTH_RULE_SETS)
def test_the_monthly_test_counts_when_collected_in_the_last_7_days(on, collected_offset, expected):
    history = treating_can_get_pregnant(on)
    history = with_tests(history, pregnancy_test(3, "monthly", on + days(collected_offset)))
    blockers = evaluate(history, on)
    assert codes(blockers) == expected
    if blockers:
        since = on - days(6)
        assert blockers[0].message == (
            "No negative monthly pregnancy test collected in the last 7 days "
            f"(since {since:%b} {since.day}, {since.year})."
        )
        assert blockers[0].until is None


@pytest.mark.parametrize(
    ("collected_offset", "expected"),
    [(-6, []), (0, []), (1, ["confirmation_test_missing", "pregnancy_test_missing"])],
)
@pytest.mark.parametrize("on", BOTH_RULE_SETS)
def test_the_confirmation_test_counts_when_collected_in_the_last_7_days(
    on, collected_offset, expected
):
    history = ready_can_get_pregnant(on)
    history = with_tests(
        history,
        pregnancy_test(1, "screening", on - days(40)),
        pregnancy_test(2, "confirmation", on + days(collected_offset)),
    )
    assert codes(evaluate(history, on)) == expected


@pytest.mark.parametrize("on", BOTH_RULE_SETS)
def test_after_the_first_dispense_a_confirmation_test_is_not_a_monthly_test(on):
    history = treating_can_get_pregnant(on)
    history = with_tests(history, pregnancy_test(3, "confirmation", on - days(1)))
    assert codes(evaluate(history, on)) == ["pregnancy_test_missing"]


@pytest.mark.parametrize("result", ["invalid", "positive"])
def test_only_a_negative_result_qualifies(result):
    on = RS2026_DAY
    history = treating_can_get_pregnant(on)
    history = with_tests(history, pregnancy_test(3, "monthly", on - days(1), result=result))
    expected = ["pregnancy_test_missing"]
    if result == "positive":
        expected.insert(0, "pregnancy_test_positive")
    assert codes(evaluate(history, on)) == expected


# test_setting_not_allowed


@pytest.mark.parametrize(
    ("kind", "test", "settings", "expected"),
    [
        ("confirmation", {"clia_lab": False}, {}, ["test_setting_not_allowed"]),
        ("monthly", {"clia_lab": False}, {}, []),
        ("monthly", {"setting": "home"}, {}, ["test_setting_not_allowed"]),
        ("monthly", {"setting": "home"}, {"home_tests_under_discretion": True}, []),
        (
            "monthly",
            {"setting": "home", "verified": False},
            {"home_tests_under_discretion": True},
            ["test_setting_not_allowed"],
        ),
        ("confirmation", {"setting": "home"}, {"home_tests_under_discretion": True}, []),
        ("confirmation", {"setting": "home"}, {}, ["test_setting_not_allowed"]),
        ("monthly", {"setting": "clinic"}, {}, ["test_setting_not_allowed"]),
    ],
)
def test_rs2021_wants_clia_for_confirmation_and_home_tests_only_under_discretion(
    kind, test, settings, expected
):
    on = RS2021_DAY
    builder = ready_can_get_pregnant if kind == "confirmation" else treating_can_get_pregnant
    history = builder(on)
    tests = tuple(t for t in history.pregnancy_tests if t.kind != kind)
    history = replace(
        history,
        pregnancy_tests=(*tests, pregnancy_test(7, kind, on - days(2), **test)),
        settings=RuleSettings(**settings),
    )
    blockers = evaluate(history, on)
    assert codes(blockers) == expected


@pytest.mark.parametrize(
    ("kind", "test", "home_tests_allowed", "expected"),
    [
        ("confirmation", {"clia_lab": False}, False, []),
        ("confirmation", {"setting": "home"}, True, ["test_setting_not_allowed"]),
        ("monthly", {"setting": "home"}, True, []),
        ("monthly", {"setting": "home"}, False, ["test_setting_not_allowed"]),
        ("monthly", {"setting": "home", "verified": False}, True, ["test_setting_not_allowed"]),
        ("monthly", {"setting": "medical", "verified": False}, False, []),
    ],
)
def test_rs2026_takes_home_tests_after_the_first_dispense_when_the_prescriber_allows(
    kind, test, home_tests_allowed, expected
):
    on = RS2026_DAY
    builder = ready_can_get_pregnant if kind == "confirmation" else treating_can_get_pregnant
    history = builder(on)
    tests = tuple(t for t in history.pregnancy_tests if t.kind != kind)
    history = replace(
        history,
        pregnancy_tests=(*tests, pregnancy_test(7, kind, on - days(2), **test)),
        home_tests_allowed=home_tests_allowed,
        # The RS-2021 switch has no say under RS-2026.
        settings=RuleSettings(home_tests_under_discretion=True),
    )
    assert codes(evaluate(history, on)) == expected


@pytest.mark.parametrize(
    ("collected_after_first_dispense", "expected"),
    [(-1, ["test_setting_not_allowed"]), (0, ["test_setting_not_allowed"]), (1, [])],
)
def test_rs2026_wants_a_medical_setting_up_to_the_first_dispense(
    collected_after_first_dispense, expected
):
    on = RS2026_DAY
    first_dispense = on - days(4)
    history = treating_can_get_pregnant(on)
    history = replace(
        history,
        home_tests_allowed=True,
        prescriptions=(
            prescription(1, first_dispense, dispensed_on=first_dispense, days_supply=3),
        ),
        pregnancy_tests=(
            *(t for t in history.pregnancy_tests if t.kind != "monthly"),
            pregnancy_test(
                7, "monthly", first_dispense + days(collected_after_first_dispense), setting="home"
            ),
        ),
    )
    blockers = evaluate(history, on)
    assert codes(blockers) == expected
    if blockers:
        assert "must be done in a medical setting" in blockers[0].message


def test_a_proper_test_on_the_same_day_is_not_hidden_by_an_unverified_one():
    on = RS2026_DAY
    history = replace(treating_can_get_pregnant(on), home_tests_allowed=True)
    unverified = pregnancy_test(8, "monthly", on - days(1), setting="home", verified=False)
    medical = pregnancy_test(7, "monthly", on - days(1))
    assert evaluate(with_tests(history, unverified, medical), on) == ()
    assert codes(evaluate(with_tests(history, unverified), on)) == ["test_setting_not_allowed"]


def test_a_failing_qualifying_test_is_not_reported_as_missing():
    on = RS2021_DAY
    history = treating_can_get_pregnant(on)
    history = with_tests(history, pregnancy_test(3, "monthly", on - days(2), setting="home"))
    (blocker,) = evaluate(history, on)
    assert blocker.code == "test_setting_not_allowed"
    assert blocker.message.endswith("is a home test; home tests are not accepted here.")


# lockout_active (RS-2021) and a missed first window under RS-2026

MISSED = date(2024, 3, 1)  # SCD of the confirmation test whose window is missed
LOCKOUT_ENDS = MISSED + days(19)


def missed_first_window(settings=None):
    """Ready for a first prescription with the confirmation test collected on MISSED; labs,
    visit and contraception stay in time up to MISSED + 28."""
    history = replace(ready_can_get_pregnant(MISSED + days(2)), labs=baseline_labs(MISSED))
    return replace(history, settings=settings) if settings else history


def new_confirmation(history, collected_on, id=20, **kwargs):
    test = pregnancy_test(id, "confirmation", collected_on, **kwargs)
    return replace(history, pregnancy_tests=(*history.pregnancy_tests, test))


@pytest.mark.parametrize(
    ("on", "expected"),
    [
        (MISSED + days(6), []),  # the window's last day
        (MISSED + days(7), ["pregnancy_test_missing", "lockout_active"]),
        (LOCKOUT_ENDS - days(1), ["pregnancy_test_missing", "lockout_active"]),
        (LOCKOUT_ENDS, ["pregnancy_test_missing"]),
        (LOCKOUT_ENDS + days(1), ["pregnancy_test_missing"]),
    ],
)
def test_rs2021_locks_out_19_days_after_a_missed_first_window(on, expected):
    blockers = evaluate(missed_first_window(), on)
    assert codes(blockers) == expected
    lockouts = [b for b in blockers if b.code == "lockout_active"]
    assert [b.until for b in lockouts] == [LOCKOUT_ENDS] * len(lockouts)


@pytest.mark.parametrize(
    ("new_test_on", "on", "expected"),
    [
        (LOCKOUT_ENDS - days(1), LOCKOUT_ENDS - days(1), ["lockout_active"]),
        # A test collected during the lockout never counts, even judged after it.
        (LOCKOUT_ENDS - days(1), LOCKOUT_ENDS, ["lockout_active"]),
        (LOCKOUT_ENDS - days(1), LOCKOUT_ENDS + days(1), ["lockout_active"]),
        (LOCKOUT_ENDS, LOCKOUT_ENDS, []),
        (LOCKOUT_ENDS + days(1), LOCKOUT_ENDS + days(3), []),
    ],
)
def test_rs2021_needs_a_new_confirmation_test_collected_on_or_after_the_lockout_ends(
    new_test_on, on, expected
):
    history = new_confirmation(missed_first_window(), new_test_on)
    blockers = evaluate(history, on)
    assert codes(blockers) == expected
    if blockers:
        assert blockers[0].until == LOCKOUT_ENDS
        assert blockers[0].message == (
            "The first pick-up window (test collected Mar 1, 2024) was missed: iPLEDGE needs a "
            "new confirmation test collected on or after Mar 20, 2024."
        )


def test_a_test_collected_during_the_lockout_does_not_restart_it():
    history = new_confirmation(missed_first_window(), MISSED + days(10), id=21)
    history = new_confirmation(history, LOCKOUT_ENDS, id=22)
    assert evaluate(history, LOCKOUT_ENDS) == ()
    assert evaluate(history, LOCKOUT_ENDS + days(6)) == ()


def test_a_second_missed_window_starts_a_second_lockout():
    second = LOCKOUT_ENDS + days(1)
    history = new_confirmation(missed_first_window(), second)
    on = second + days(7)
    assert codes(evaluate(history, on)) == ["pregnancy_test_missing", "lockout_active"]
    assert evaluate(history, on)[1].until == second + days(19)


def test_a_non_clia_confirmation_test_never_opened_a_window_to_miss():
    history = with_tests(
        missed_first_window(),
        pregnancy_test(1, "screening", MISSED - days(23)),
        pregnancy_test(2, "confirmation", MISSED, clia_lab=False),
        pregnancy_test(3, "confirmation", MISSED + days(8)),
    )
    assert evaluate(history, MISSED + days(8)) == ()


def test_a_dispense_in_the_window_means_no_lockout():
    history = missed_first_window()
    history = replace(
        history, prescriptions=(prescription(1, MISSED + days(6), dispensed_on=MISSED + days(6)),)
    )
    on = MISSED + days(10)
    assert "lockout_active" not in codes(evaluate(history, on))
    assert "lockout_until" not in [d.code for d in status(history, on).due]


@pytest.mark.parametrize(
    ("new_test", "expected"),
    [
        (None, ["pregnancy_test_missing"]),
        ({}, []),
        ({"setting": "home"}, ["test_setting_not_allowed"]),
    ],
)
def test_rs2026_has_no_lockout_a_new_medical_confirmation_test_follows_at_once(new_test, expected):
    settings = RuleSettings(rs2026_effective_on=date(2020, 1, 1))
    history = replace(missed_first_window(settings), home_tests_allowed=True)
    on = MISSED + days(7)
    if new_test is not None:
        history = new_confirmation(history, on, **new_test)
    assert codes(evaluate(history, on)) == expected


def test_the_lockout_is_judged_by_the_rule_set_of_the_day_asked_about():
    history = missed_first_window(RuleSettings(rs2026_effective_on=MISSED + days(10)))
    assert codes(evaluate(history, MISSED + days(9))) == [
        "pregnancy_test_missing",
        "lockout_active",
    ]
    assert codes(evaluate(history, MISSED + days(10))) == ["pregnancy_test_missing"]
