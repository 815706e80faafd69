"""Everything a page, the API or the reminder planner shows about a patient on a date."""

from __future__ import annotations

from datetime import date, timedelta

from . import constants as c
from .contraception import contraception_warnings, latest_staff_confirmation
from .dose import cumulative
from .gate import Context, blockers_for, context
from .results import Status, Warning
from .schedule import due_for, pickup_deadline, window_for
from .snapshot import History, course_ended, latest_dispensed, supply_end
from .text import day


def status(history: History, on: date) -> Status:
    ctx = context(history, on)
    blockers = blockers_for(ctx)
    return Status(
        rule_set=ctx.rule_set.code,
        can_prescribe=not blockers,
        blockers=blockers,
        warnings=warnings_for(ctx),
        window=window_for(ctx),
        due=due_for(ctx),
        cumulative=cumulative(history, on),
        next_prescription_needed_on=next_prescription_needed_on(ctx),
        awaiting_pickup_since=awaiting_pickup_since(ctx),
    )


def awaiting_pickup_since(ctx: Context) -> date | None:
    """The latest prescription's written date while it waits at the pharmacy: not dispensed and
    still inside its pick-up deadline (docs/rules.md: pick-up deadline)."""
    if not ctx.history.prescriptions or course_ended(ctx.history, ctx.on):
        return None
    latest = ctx.history.prescriptions[-1]  # as_of sorts them by written date
    if latest.dispensed_on is not None:
        return None
    if pickup_deadline(ctx.history, latest.written_on) < ctx.on:
        return None
    return latest.written_on


def next_prescription_needed_on(ctx: Context) -> date | None:
    """The day after the latest dispensed supply ends; before the first dispense the day itself
    (the patient is waiting to start); None once the course has ended (docs/rules.md)."""
    if course_ended(ctx.history, ctx.on):
        return None
    supplied = latest_dispensed(ctx.history)
    if supplied is None:
        return ctx.on
    return supply_end(supplied) + timedelta(days=1)


def warnings_for(ctx: Context) -> tuple[Warning, ...]:
    history = ctx.history
    warnings: list[Warning] = []
    if history.contraception:
        warnings.extend(contraception_warnings(history.contraception[-1].methods))
    staff = latest_staff_confirmation(history)
    if (
        history.can_get_pregnant
        and ctx.first_prescription
        and staff is not None
        and staff.started_on is None
    ):
        warnings.append(
            Warning(
                c.CONTRACEPTION_START_UNKNOWN,
                "The date the current contraception began is not recorded, so the earliest "
                "confirmation test date cannot be checked.",
            )
        )
    for test in history.pregnancy_tests:
        if test.result == c.POSITIVE and test.superseded_on is not None:
            warnings.append(
                Warning(
                    c.POSITIVE_TEST_SUPERSEDED,
                    f"A positive pregnancy test collected {day(test.collected_on)} was set "
                    f"aside by a clinician on {day(test.superseded_on)}.",
                )
            )
    recent = ctx.on - timedelta(days=c.WINDOW_DAYS - 1)
    for test in history.pregnancy_tests:
        if test.result == c.INVALID and test.collected_on >= recent:
            warnings.append(
                Warning(
                    c.INVALID_TEST_RESULT,
                    f"The pregnancy test collected {day(test.collected_on)} gave an invalid "
                    "result; it needs repeating.",
                )
            )
    return tuple(warnings)
