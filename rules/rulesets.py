"""The iPLEDGE rule sets as data (docs/domain.md section 3).

A decision is judged by the rule set in force on its date. Each `RuleSet` value carries the day
the program puts it in force, and `RULE_SETS` lists them oldest first: a third rule set is one
more value there (and its tests); the checks read only these fields. A clinic may move RS-2026's
day (its setting, `RuleSettings.rs2026_effective_on`, whose default is that value's day).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from . import constants as c

if TYPE_CHECKING:  # the snapshot's settings default to the days below: it imports this module
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
    # The day the program puts it in force (docs/domain.md section 3).
    in_force_from: date
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


RS_2021 = RuleSet(
    code="RS-2021",
    in_force_from=date(2021, 12, 13),
    lockout_days=c.LOCKOUT_DAYS,
    clia_required_for_confirmation=True,
    home_tests_policy=HOME_TESTS_CLINIC_DISCRETION,
    medical_setting_before_first_dispense=False,
    cannot_get_pregnant_counseling=EVERY_MONTH,
    cannot_get_pregnant_visit_days=c.ONE_MONTH_DAYS,
)

RS_2026 = RuleSet(
    code="RS-2026",
    # The program's announced day, the default of the clinic's setting that moves it.
    in_force_from=date(2026, 8, 8),
    lockout_days=None,
    clia_required_for_confirmation=False,
    home_tests_policy=HOME_TESTS_PRESCRIBER_PER_PATIENT,
    medical_setting_before_first_dispense=True,
    cannot_get_pregnant_counseling=ENROLLMENT_ONLY,
    # docs/domain.md section 9: what replaced the 30-day window is not verified; the clinic sets it.
    cannot_get_pregnant_visit_days=None,
)


# Every rule set this product knows, oldest first.
RULE_SETS = (RS_2021, RS_2026)
# The day each comes into force, by its code.
IN_FORCE_FROM = {rule_set.code: rule_set.in_force_from for rule_set in RULE_SETS}
# No decision is judged before the first one began.
RS_2021_IN_FORCE_FROM = RULE_SETS[0].in_force_from


def _schedule(settings: RuleSettings | None) -> tuple[RuleSet, ...]:
    """The rule sets as a clinic has them, oldest first: RS-2026 from the clinic's day, with the
    visit window the clinic sets for patients who cannot get pregnant."""
    if settings is None:
        return RULE_SETS
    clinic = {
        RS_2026.code: dataclasses.replace(
            RS_2026,
            in_force_from=settings.rs2026_effective_on,
            cannot_get_pregnant_visit_days=settings.rs2026_cannot_get_pregnant_visit_days,
        )
    }
    return tuple(clinic.get(rule_set.code, rule_set) for rule_set in RULE_SETS)


class BeforeFirstRuleSet(ValueError):
    """A date before the first rule set this product knows: invalid input, never judged."""


def rule_set_for(on: date, settings: RuleSettings | None = None) -> RuleSet:
    """The rule set in force on `on`. Dates before RS-2021 began are refused (docs/rules.md):
    judging them by RS-2021 would silently apply rules that were not in force."""
    schedule = _schedule(settings)
    first = schedule[0]
    if on < first.in_force_from:
        raise BeforeFirstRuleSet(f"{on} is before {first.in_force_from}, the first rule set")
    chosen = first
    for rule_set in schedule:
        if rule_set.in_force_from <= on:
            chosen = rule_set
    return chosen
