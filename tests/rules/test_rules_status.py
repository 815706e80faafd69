"""status(): the gate, warnings, window, due list and dose in one answer."""

from dataclasses import replace
from decimal import Decimal

import pytest

from rules import Cumulative, Due, Status, Window, evaluate, status
from tests.rules.builders import (
    BOTH_RULE_SETS,
    RS2021_DAY,
    RS2026_DAY,
    days,
    pregnancy_test,
    ready_can_get_pregnant,
    staff_confirmation,
    treating_can_get_pregnant,
)


def test_status_of_a_patient_ready_for_the_first_prescription():
    on = RS2026_DAY
    assert status(ready_can_get_pregnant(on), on) == Status(
        rule_set="RS-2026",
        can_prescribe=True,
        blockers=(),
        warnings=(),
        window=Window(on - days(2), on + days(4)),
        due=(
            Due("confirmation_test_earliest", on - days(6)),
            Due("window_closes", on + days(4)),
        ),
        cumulative=Cumulative(
            mg=Decimal(0),
            mg_per_kg=Decimal("0.0"),
            target_mg_per_kg=Decimal(120),
            projected_completion_on=None,
        ),
        next_prescription_needed_on=on,  # waiting to start
    )


@pytest.mark.parametrize("on", BOTH_RULE_SETS)
def test_status_carries_the_blockers_of_the_gate(on):
    history = replace(treating_can_get_pregnant(on), pregnancy_tests=())
    found = status(history, on)
    assert found.can_prescribe is False
    assert found.blockers == evaluate(history, on)
    assert [b.code for b in found.blockers] == ["pregnancy_test_missing"]
    assert found.rule_set == ("RS-2021" if on == RS2021_DAY else "RS-2026")
    assert found.window is None


def warning_codes(history, on):
    return [w.code for w in status(history, on).warnings]


@pytest.mark.parametrize(
    ("methods", "expected"),
    [
        (("iud", "male_condom"), []),
        (("iud", "male_condom", "progestin_only_pill"), ["progestin_only_pill"]),
        (("iud", "spermicide_gel"), ["unknown_contraception_method"]),
    ],
)
def test_the_latest_contraception_record_is_checked_for_methods_that_never_count(methods, expected):
    on = RS2021_DAY
    history = treating_can_get_pregnant(on)
    latest = staff_confirmation(9, on - days(1), methods=methods, started_on=on - days(90))
    history = replace(history, contraception=(*history.contraception, latest))
    assert warning_codes(history, on) == expected


@pytest.mark.parametrize(("superseded_offset", "warned"), [(-1, True), (0, True), (1, False)])
def test_a_superseded_positive_test_is_a_warning_not_a_blocker(superseded_offset, warned):
    on = RS2026_DAY
    history = treating_can_get_pregnant(on)
    positive = pregnancy_test(
        9, "monthly", on - days(10), result="positive", superseded_on=on + days(superseded_offset)
    )
    history = replace(history, pregnancy_tests=(*history.pregnancy_tests, positive))
    found = status(history, on)
    assert ([w.code for w in found.warnings] == ["positive_test_superseded"]) is warned
    assert found.can_prescribe is warned


@pytest.mark.parametrize(("collected_offset", "warned"), [(-7, False), (-6, True), (0, True)])
def test_an_invalid_result_in_the_last_7_days_is_a_warning(collected_offset, warned):
    on = RS2026_DAY
    history = treating_can_get_pregnant(on)
    invalid = pregnancy_test(9, "monthly", on + days(collected_offset), result="invalid")
    history = replace(history, pregnancy_tests=(*history.pregnancy_tests, invalid))
    assert (warning_codes(history, on) == ["invalid_test_result"]) is warned


def test_an_unknown_contraception_start_is_a_warning_before_the_first_prescription():
    on = RS2021_DAY
    unknown_start = staff_confirmation(1, on - days(3), started_on=None)
    history = replace(ready_can_get_pregnant(on), contraception=(unknown_start,))
    assert warning_codes(history, on) == ["contraception_start_unknown"]
    assert status(history, on).can_prescribe is True
