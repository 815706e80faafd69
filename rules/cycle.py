"""Which records count for a prescription written on a date (docs/domain.md section 4: cycle)."""

from __future__ import annotations

from datetime import date, timedelta

from . import constants as c
from .rulesets import RuleSet
from .snapshot import History, as_of, dispensed


def is_first_prescription(history: History, on: date) -> bool:
    """The first prescription of the course: nothing of the course dispensed on or before `on`."""
    return not dispensed(as_of(history, on))


def cycle_start(history: History, on: date) -> date:
    """First day of the cycle of a prescription written on `on`; the cycle ends on `on`.

    The cycle is (previous prescription's written_on, on], the first one from enrollment, and
    never more than 30 days: `on - 29` at the earliest.
    """
    earlier = [p.written_on for p in history.prescriptions if p.written_on < on]
    start = max(earlier) + timedelta(days=1) if earlier else history.enrolled_on
    return max(start, on - timedelta(days=c.CYCLE_MAX_DAYS - 1))


def visit_period_start(history: History, on: date, rule_set: RuleSet) -> date:
    """First day a visit counts for a prescription written on `on`.

    Patients who cannot get pregnant have a day-count visit window where the rule set has one
    (RS-2021: the program's 30-day window), which does not end at the previous prescription:
    a re-written prescription is still within 30 days of the visit. Everyone else: the cycle.
    """
    days = rule_set.cannot_get_pregnant_visit_days
    if history.can_get_pregnant or days is None:
        return cycle_start(history, on)
    return max(history.enrolled_on, on - timedelta(days=days - 1))
