"""The iPLEDGE rule sets as data (docs/domain.md section 3).

A decision is judged by the rule set in force on its date. Adding a third rule set means adding
one `RuleSet` value and one line to `_schedule`; the checks read only these fields.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date

from . import constants as c
from .snapshot import RuleSettings

# Who may let a patient use home pregnancy tests (see pregnancy.HOME_TEST_POLICIES).
HOME_TESTS_CLINIC_DISCRETION = "clinic_discretion"
HOME_TESTS_PRESCRIBER_PER_PATIENT = "prescriber_per_patient"

# How often a patient who cannot get pregnant needs counseling confirmed at a visit.
EVERY_MONTH = "every_month"
ENROLLMENT_ONLY = "enrollment_only"


@dataclass(frozen=True)
class RuleSet:
    code: str
    # Days after a missed first window before a new confirmation test counts; None = no lockout.
    lockout_days: int | None
    clia_required_for_confirmation: bool
    home_tests_policy: str
    # Every test collected on or before the first dispense must be in a medical setting.
    medical_setting_before_first_dispense: bool
    cannot_get_pregnant_counseling: str
    # A patient who cannot get pregnant needs a visit within this many days (window = visit day
    # + days - 1); None = a visit in the prescription's cycle.
    cannot_get_pregnant_visit_days: int | None


RS_2021_IN_FORCE_FROM = date(2021, 12, 13)

RS_2021 = RuleSet(
    code="RS-2021",
    lockout_days=c.LOCKOUT_DAYS,
    clia_required_for_confirmation=True,
    home_tests_policy=HOME_TESTS_CLINIC_DISCRETION,
    medical_setting_before_first_dispense=False,
    cannot_get_pregnant_counseling=EVERY_MONTH,
    cannot_get_pregnant_visit_days=c.ONE_MONTH_DAYS,
)

RS_2026 = RuleSet(
    code="RS-2026",
    lockout_days=None,
    clia_required_for_confirmation=False,
    home_tests_policy=HOME_TESTS_PRESCRIBER_PER_PATIENT,
    medical_setting_before_first_dispense=True,
    cannot_get_pregnant_counseling=ENROLLMENT_ONLY,
    # docs/domain.md section 9: what replaced the 30-day window is not verified; the clinic sets it.
    cannot_get_pregnant_visit_days=None,
)


def _schedule(settings: RuleSettings) -> tuple[tuple[date, RuleSet], ...]:
    """(in force from, rule set), oldest first."""
    return (
        (RS_2021_IN_FORCE_FROM, RS_2021),
        (
            settings.rs2026_effective_on,
            dataclasses.replace(
                RS_2026,
                cannot_get_pregnant_visit_days=settings.rs2026_cannot_get_pregnant_visit_days,
            ),
        ),
    )


class BeforeFirstRuleSet(ValueError):
    """A date before the first rule set this product knows: invalid input, never judged."""


def rule_set_for(on: date, settings: RuleSettings | None = None) -> RuleSet:
    """The rule set in force on `on`. Dates before RS-2021 began are refused (docs/rules.md):
    judging them by RS-2021 would silently apply rules that were not in force."""
    if on < RS_2021_IN_FORCE_FROM:
        raise BeforeFirstRuleSet(f"{on} is before {RS_2021_IN_FORCE_FROM}, the first rule set")
    schedule = _schedule(settings or RuleSettings())
    chosen = schedule[0][1]
    for in_force_from, rule_set in schedule:
        if in_force_from <= on:
            chosen = rule_set
    return chosen
