"""The current pick-up window and the due list (docs/domain.md section 6)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

from . import constants as c
from .gate import Context, context
from .pregnancy import confirmation_earliest, lockout
from .results import Due, Window
from .snapshot import (
    History,
    Prescription,
    course_ended,
    course_start,
    dispensed,
    dispensed_on,
    in_treatment,
    latest_dispensed,
    supply_end,
)


def _used_since(history: History, day: date) -> bool:
    """Something was dispensed on or after `day`, so a window opened that day is used."""
    return any(dispensed_on(p) >= day for p in dispensed(history))


def window_for(ctx: Context) -> Window | None:
    history = ctx.history
    if history.can_get_pregnant:
        test = ctx.qualifying
        if test is None or _used_since(history, test.collected_on):
            return None
        return Window(test.collected_on, test.collected_on + timedelta(days=c.WINDOW_DAYS - 1))
    days = ctx.rule_set.cannot_get_pregnant_visit_days
    visits = ctx.counted_visits
    if days is None or not visits or _used_since(history, visits[-1].visited_on):
        return None
    opens_on = visits[-1].visited_on
    return Window(opens_on, opens_on + timedelta(days=days - 1))


def window(history: History, on: date) -> Window | None:
    """The pick-up window open on `on`, if any: for patients who can get pregnant the qualifying
    test's SCD .. SCD + 6; for those who cannot, where the rule set has a visit window, the latest
    visit .. visit + 29. None once something was dispensed in it."""
    return window_for(context(history, on))


# One function per due code: the date, or None when the code does not apply as of ctx.on.


def _confirmation_test_earliest(ctx: Context) -> date | None:
    if not ctx.history.can_get_pregnant or not ctx.first_prescription:
        return None
    return confirmation_earliest(ctx.history, ctx.on)


def _window_closes(ctx: Context) -> date | None:
    current = window_for(ctx)
    return current.closes_on if current else None


def _lockout_until(ctx: Context) -> date | None:
    if not ctx.history.can_get_pregnant:
        return None
    missed_until = lockout(ctx.history, ctx.on, ctx.rule_set)
    return missed_until[1] if missed_until else None


def _monthly_test_due(ctx: Context) -> date | None:
    if not ctx.history.can_get_pregnant or not in_treatment(ctx.history, ctx.on):
        return None
    supplied = latest_dispensed(ctx.history)
    if supplied is None:  # in treatment means dispensed: kept for the type, never taken
        return None
    due_on = supply_end(supplied) - timedelta(days=c.DUE_BEFORE_SUPPLY_END_DAYS)
    # Done once a negative monthly test is collected close enough to the due date to qualify a
    # prescription written then (within the 7-day window), and after the prescription now being
    # taken (with a short supply, the test that qualified it must not count again).
    if any(
        t.kind == c.MONTHLY
        and t.result == c.NEGATIVE
        and t.superseded_on is None
        and t.collected_on >= _earliest_useful(due_on, supplied)
        for t in ctx.history.pregnancy_tests
    ):
        return None
    return due_on


def _earliest_useful(due_on: date, supplied: Prescription) -> date:
    """The first day a monthly test or visit counts as this month's: within the 7-day window
    before the due date, and after the prescription being taken was written."""
    return max(due_on - timedelta(days=c.WINDOW_DAYS - 1), supplied.written_on + timedelta(days=1))


def _visit_due(ctx: Context) -> date | None:
    """The latest visit's `next_visit_on` if set, else supply end - 2 (docs/rules.md, due dates).

    Without a next-visit date the item is done once a visit is recorded close enough to the due
    date to count for the prescription written then (within a week before it) and after the
    prescription now being taken, as for the monthly test.
    """
    if not in_treatment(ctx.history, ctx.on):
        return None
    visits = ctx.history.visits
    if visits and visits[-1].next_visit_on is not None:
        return visits[-1].next_visit_on
    supplied = latest_dispensed(ctx.history)
    if supplied is None:  # in treatment means dispensed: kept for the type, never taken
        return None
    due_on = supply_end(supplied) - timedelta(days=c.DUE_BEFORE_SUPPLY_END_DAYS)
    if any(v.visited_on >= _earliest_useful(due_on, supplied) for v in visits):
        return None
    return due_on


def _followup_labs_due(ctx: Context) -> date | None:
    start = course_start(ctx.history)
    if start is None:
        return None
    done_after = start + timedelta(days=c.FOLLOWUP_LABS_DONE_AFTER_DAYS)
    if any(lab.collected_on > done_after for lab in ctx.history.labs):
        return None
    return start + timedelta(weeks=ctx.history.settings.followup_lab_weeks)


def _ended_on(ctx: Context) -> date | None:
    return ctx.history.last_dose_on if course_ended(ctx.history, ctx.on) else None


def _tests_after_end(ctx: Context, kind: str, results: tuple[str, ...]) -> bool:
    last_dose = ctx.history.last_dose_on
    if last_dose is None:  # asked only of an ended course
        return False
    return any(
        t.kind == kind
        and t.result in results
        and t.superseded_on is None
        and t.collected_on >= last_dose
        for t in ctx.history.pregnancy_tests
    )


def _end_of_treatment_test_due(ctx: Context) -> date | None:
    last_dose = _ended_on(ctx)
    if (
        last_dose is None
        or not ctx.history.can_get_pregnant
        or not ctx.history.settings.end_of_treatment_test_required
    ):
        return None
    # Done once a readable end-of-treatment test exists; one collected at the last visit, a few
    # days before the last dose, counts too.
    if any(
        t.kind == c.END_OF_TREATMENT and t.result != c.INVALID and t.superseded_on is None
        for t in ctx.history.pregnancy_tests
    ):
        return None
    return last_dose


def _post_treatment_test_due(ctx: Context) -> date | None:
    last_dose = _ended_on(ctx)
    if last_dose is None or not ctx.history.can_get_pregnant:
        return None
    if _tests_after_end(ctx, c.POST_TREATMENT, (c.NEGATIVE, c.POSITIVE)):
        return None
    return last_dose + timedelta(days=c.AFTER_TREATMENT_DAYS)


def _contraception_may_stop(ctx: Context) -> date | None:
    last_dose = _ended_on(ctx)
    if last_dose is None or not ctx.history.can_get_pregnant:
        return None
    if not _tests_after_end(ctx, c.POST_TREATMENT, (c.NEGATIVE,)):
        return None
    return last_dose + timedelta(days=c.AFTER_TREATMENT_DAYS)


def _blood_donation_allowed(ctx: Context) -> date | None:
    last_dose = _ended_on(ctx)
    return last_dose + timedelta(days=c.AFTER_TREATMENT_DAYS) if last_dose else None


def _retreatment_earliest(ctx: Context) -> date | None:
    last_dose = _ended_on(ctx)
    return last_dose + timedelta(days=c.RETREATMENT_GAP_DAYS) if last_dose else None


DUE_RULES: tuple[tuple[str, Callable[[Context], date | None]], ...] = (
    (c.CONFIRMATION_TEST_EARLIEST, _confirmation_test_earliest),
    (c.WINDOW_CLOSES, _window_closes),
    (c.LOCKOUT_UNTIL, _lockout_until),
    (c.MONTHLY_TEST_DUE, _monthly_test_due),
    (c.VISIT_DUE, _visit_due),
    (c.FOLLOWUP_LABS_DUE, _followup_labs_due),
    (c.END_OF_TREATMENT_TEST_DUE, _end_of_treatment_test_due),
    (c.POST_TREATMENT_TEST_DUE, _post_treatment_test_due),
    (c.CONTRACEPTION_MAY_STOP, _contraception_may_stop),
    (c.BLOOD_DONATION_ALLOWED, _blood_donation_allowed),
    (c.RETREATMENT_EARLIEST, _retreatment_earliest),
)


def due_for(ctx: Context) -> tuple[Due, ...]:
    found = ((code, rule(ctx)) for code, rule in DUE_RULES)
    return tuple(Due(code, due_on) for code, due_on in found if due_on is not None)


def due(history: History, on: date) -> tuple[Due, ...]:
    """Every deadline that applies as of `on`, in the order of docs/domain.md section 6."""
    return due_for(context(history, on))


def new_course_earliest(history: History) -> date | None:
    """The first day a new course may start: LD + 56 (None while the course has not ended)."""
    if history.last_dose_on is None:
        return None
    return history.last_dose_on + timedelta(days=c.RETREATMENT_GAP_DAYS)


def pickup_deadline(history: History, written_on: date) -> date:
    """The last day a prescription written on `written_on` may be dispensed.

    The open window's last day where the rules draw one (SCD + 6; for cannot_get_pregnant under
    RS-2021 the visit + 29). Elsewhere (cannot_get_pregnant under RS-2026, docs/domain.md §9) one
    month from writing, so no prescription can be picked up months later.
    """
    open_window = window(history, written_on)
    if open_window is not None:
        return open_window.closes_on
    return written_on + timedelta(days=c.ONE_MONTH_DAYS - 1)
