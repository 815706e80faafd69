"""Rule sets by date, the cycle of a prescription, and the first prescription of a course."""

from dataclasses import replace
from datetime import date

import pytest

from rules import (
    BeforeFirstRuleSet,
    RuleSettings,
    cycle_start,
    is_first_prescription,
    rule_set_for,
    rulesets,
)
from tests.rules.builders import days, prescription, ready_can_get_pregnant


@pytest.mark.parametrize(
    ("on", "code"),
    [
        (date(2021, 12, 13), "RS-2021"),
        (date(2026, 8, 7), "RS-2021"),
        (date(2026, 8, 8), "RS-2026"),
        (date(2026, 8, 9), "RS-2026"),
    ],
)
def test_the_rule_set_is_the_one_in_force_on_the_day(on, code):
    assert rule_set_for(on, RuleSettings()).code == code


@pytest.mark.parametrize("on", [date(2019, 5, 1), date(2021, 12, 12)])
def test_a_day_before_the_first_rule_set_is_refused_not_judged_by_rs2021(on):
    with pytest.raises(BeforeFirstRuleSet):
        rule_set_for(on, RuleSettings())


@pytest.mark.parametrize(
    ("on", "code"), [(date(2026, 12, 31), "RS-2021"), (date(2027, 1, 1), "RS-2026")]
)
def test_the_clinic_can_move_the_rs2026_date(on, code):
    settings = RuleSettings(rs2026_effective_on=date(2027, 1, 1))
    assert rule_set_for(on, settings).code == code


def test_each_rule_set_carries_its_day_and_they_run_oldest_first():
    # docs/domain.md section 3.
    assert rulesets.IN_FORCE_FROM == {"RS-2021": date(2021, 12, 13), "RS-2026": date(2026, 8, 8)}
    days_in_force = [rule_set.in_force_from for rule_set in rulesets.RULE_SETS]
    assert days_in_force == sorted(set(days_in_force))
    assert RuleSettings().rs2026_effective_on == rulesets.RS_2026.in_force_from
    assert rulesets.RS_2021_IN_FORCE_FROM == rulesets.RULE_SETS[0].in_force_from


def test_a_third_rule_set_is_one_more_value(monkeypatch):
    rs_2030 = replace(rulesets.RS_2026, code="RS-2030", in_force_from=date(2030, 1, 1))
    monkeypatch.setattr(rulesets, "RULE_SETS", (*rulesets.RULE_SETS, rs_2030))
    assert rule_set_for(date(2029, 12, 31), RuleSettings()).code == "RS-2026"
    assert rule_set_for(date(2030, 1, 1), RuleSettings()).code == "RS-2030"
    assert rule_set_for(date(2030, 1, 1)).code == "RS-2030"  # the program's days alone


def test_the_rule_sets_differ_as_the_domain_says():
    old = rule_set_for(date(2024, 1, 1), RuleSettings())
    new = rule_set_for(date(2027, 1, 1), RuleSettings(rs2026_cannot_get_pregnant_visit_days=45))
    assert (old.lockout_days, new.lockout_days) == (19, None)
    assert (old.clia_required_for_confirmation, new.clia_required_for_confirmation) == (
        True,
        False,
    )
    assert (old.cannot_get_pregnant_counseling, new.cannot_get_pregnant_counseling) == (
        "every_month",
        "enrollment_only",
    )
    assert (old.cannot_get_pregnant_visit_days, new.cannot_get_pregnant_visit_days) == (30, 45)
    assert rule_set_for(date(2027, 1, 1), RuleSettings()).cannot_get_pregnant_visit_days is None


ON = date(2025, 6, 15)


@pytest.mark.parametrize(
    ("enrolled_offset", "written_offsets", "start_offset"),
    [
        (-10, (), -10),  # first prescription: from enrollment
        (-29, (), -29),
        (-30, (), -29),  # never more than 30 days back
        (-90, (-5,), -4),  # after the previous prescription's written_on
        (-90, (-40, -12), -11),
        (-90, (-40,), -29),
        (-90, (0,), -29),  # a prescription written the same day is not the previous one
        (-90, (-3, 2), -2),  # nor one written later
    ],
)
def test_the_cycle_runs_from_the_previous_prescription_or_enrollment(
    enrolled_offset, written_offsets, start_offset
):
    history = replace(
        ready_can_get_pregnant(ON),
        enrolled_on=ON + days(enrolled_offset),
        prescriptions=tuple(
            prescription(n, ON + days(offset)) for n, offset in enumerate(written_offsets)
        ),
    )
    assert cycle_start(history, ON) == ON + days(start_offset)


@pytest.mark.parametrize(
    ("dispensed_offset", "first"),
    [(None, True), (1, True), (0, False), (-1, False)],
)
def test_the_first_prescription_is_the_one_before_anything_is_dispensed(dispensed_offset, first):
    dispensed_on = None if dispensed_offset is None else ON + days(dispensed_offset)
    history = replace(
        ready_can_get_pregnant(ON),
        prescriptions=(prescription(1, ON - days(3), dispensed_on=dispensed_on),),
    )
    assert is_first_prescription(history, ON) is first
