"""Which pregnancy test counts, whether its setting is allowed, and the RS-2021 lockout.

Functions here take a snapshot already cut with `snapshot.as_of(history, on)`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

from . import constants as c
from .contraception import latest_staff_confirmation
from .rulesets import HOME_TESTS_CLINIC_DISCRETION, HOME_TESTS_PRESCRIBER_PER_PATIENT, RuleSet
from .snapshot import History, PregnancyTest, course_start, dispensed
from .text import day

# Whether home tests may count at all for this patient, by rule set policy.
HOME_TEST_POLICIES: dict[str, Callable[[History], bool]] = {
    HOME_TESTS_CLINIC_DISCRETION: lambda history: history.settings.home_tests_under_discretion,
    HOME_TESTS_PRESCRIBER_PER_PATIENT: lambda history: history.home_tests_allowed,
}

WINDOW_LAST_DAY = timedelta(days=c.WINDOW_DAYS - 1)


def required_kind(history: History) -> str:
    """Confirmation test for the first prescription of the course, monthly test afterwards."""
    return c.MONTHLY if dispensed(history) else c.CONFIRMATION


def negatives(history: History, kind: str) -> list[PregnancyTest]:
    """Negative tests of a kind that no clinician has set aside, oldest first."""
    return [
        t
        for t in history.pregnancy_tests
        if t.kind == kind and t.result == c.NEGATIVE and t.superseded_on is None
    ]


def setting_problem(test: PregnancyTest, history: History, rule_set: RuleSet) -> str | None:
    """Why this test may not count under the rule set, or None when it may."""
    collected = day(test.collected_on)
    if test.setting == c.MEDICAL:
        if (
            rule_set.clia_required_for_confirmation
            and test.kind == c.CONFIRMATION
            and not test.clia_lab
        ):
            return (
                f"The confirmation test collected {collected} was not done in a CLIA-certified lab."
            )
        return None
    if test.setting != c.HOME:
        return f"The test collected {collected} has an unknown setting ({test.setting})."
    first_dispense = course_start(history)
    if rule_set.medical_setting_before_first_dispense and (
        first_dispense is None or test.collected_on <= first_dispense
    ):
        return (
            f"The test collected {collected} is a home test; tests before the first pick-up "
            "must be done in a medical setting."
        )
    if not HOME_TEST_POLICIES[rule_set.home_tests_policy](history):
        return f"The test collected {collected} is a home test; home tests are not accepted here."
    if not test.verified:
        return (
            f"The home test collected {collected} has not been checked by staff "
            "(with its photo or readout)."
        )
    return None


def qualifying_test(history: History, on: date, rule_set: RuleSet) -> PregnancyTest | None:
    """The most recent negative test of the required kind collected in [on - 6, on].

    Two on the same day: the one whose setting is allowed wins, so a second, proper test
    collected the same day is never hidden by the first.
    """
    kind = required_kind(history)
    candidates = [t for t in negatives(history, kind) if on - WINDOW_LAST_DAY <= t.collected_on]
    if not candidates:
        return None
    return max(
        candidates,
        key=lambda t: (t.collected_on, setting_problem(t, history, rule_set) is None, t.id),
    )


def missed_first_window(history: History, on: date, rule_set: RuleSet) -> date | None:
    """SCD of the missed first window that sets the lockout, or None (never under RS-2026).

    A window is missed when a negative confirmation test's window (SCD .. SCD + 6) closed before
    `on` and nothing was ever dispensed. A test whose setting is not allowed never opened a window,
    and neither did one collected during a lockout (it could not be used), so neither restarts it.
    """
    if rule_set.lockout_days is None or dispensed(history):
        return None
    lockout = timedelta(days=rule_set.lockout_days)
    missed = None
    for test in negatives(history, c.CONFIRMATION):
        if missed is not None and test.collected_on < missed + lockout:
            continue
        if setting_problem(test, history, rule_set) is not None:
            continue
        if test.collected_on + WINDOW_LAST_DAY < on:
            missed = test.collected_on
    return missed


def lockout(history: History, on: date, rule_set: RuleSet) -> tuple[date, date] | None:
    """(SCD of the missed first window, the first day a new confirmation test counts again),
    or None when no lockout applies (never under RS-2026)."""
    missed = missed_first_window(history, on, rule_set)
    if missed is None or rule_set.lockout_days is None:
        return None
    return missed, missed + timedelta(days=rule_set.lockout_days)


def latest_medical_screening(history: History, on_or_before: date) -> PregnancyTest | None:
    tests = [
        t
        for t in negatives(history, c.SCREENING)
        if t.setting == c.MEDICAL and t.collected_on <= on_or_before
    ]
    return tests[-1] if tests else None


def confirmation_earliest(history: History, on_or_before: date) -> date | None:
    """Earliest SCD of the confirmation test: max(screening SCD + 19, methods started + 30).

    Uses the latest negative medical screening collected on or before `on_or_before` and the
    started_on of the latest staff-sourced contraception confirmation; None when neither is known.
    """
    earliest = []
    screening = latest_medical_screening(history, on_or_before)
    if screening is not None:
        earliest.append(
            screening.collected_on + timedelta(days=c.CONFIRMATION_AFTER_SCREENING_DAYS)
        )
    staff = latest_staff_confirmation(history)
    if staff is not None and staff.started_on is not None:
        earliest.append(staff.started_on + timedelta(days=c.CONFIRMATION_AFTER_CONTRACEPTION_DAYS))
    return max(earliest) if earliest else None
