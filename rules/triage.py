"""Triage: what the clinic must do for a patient, in order of urgency (docs/clinic-day.md).

The gate answers "may a prescription be written on D?"; `triage(status, on)` answers "what does
this patient need from us, by when?". It reads only the engine's `Status`, so the kept triage
rows, Today, its CSV, the digest, the patient page's banner and the API worklist all agree.
"""

from __future__ import annotations

from datetime import date, timedelta

from . import constants as c
from .results import Due, Status, Triage


def triage(
    status: Status,
    on: date,
    horizon_days: int = c.DEFAULT_TRIAGE_HORIZON_DAYS,
    *,
    to_enter: bool = False,
) -> Triage:
    """The first group that applies, with the date that sorts it and the next step.

    `to_enter`: values of this cycle wait to be typed into iPLEDGE (the entry sheet, kept by
    the clinic outside the rules); it matters while a window is open or a prescription waits
    at the pharmacy, because iPLEDGE must hold them before the pick-up.
    """
    horizon = on + timedelta(days=horizon_days)
    codes = [b.code for b in status.blockers]
    tasks = sorted(
        (d for d in status.due if d.code in c.TASK_DUE_CODES), key=lambda d: (d.due_on, d.code)
    )
    safety = [code for code in codes if code in c.SAFETY_BLOCKERS]
    if safety:
        return Triage(c.SAFETY, on, safety[0])
    if status.course_open:
        window = status.window
        # The day the window open today closes; None when no window is open today.
        open_until = None
        if window is not None and window.opens_on <= on <= window.closes_on:
            open_until = window.closes_on
        if to_enter and (open_until is not None or status.awaiting_pickup_since is not None):
            return Triage(c.TO_ENTER, open_until or on, c.ENTER_IN_IPLEDGE)
        if open_until is not None:
            return Triage(c.WINDOW_CLOSING, open_until, _gate_step(status, codes))
        needed_on = status.next_prescription_needed_on
        if needed_on is not None and needed_on <= horizon:
            group = c.NEEDS_PRESCRIPTION if codes else c.READY
            return Triage(group, needed_on, _gate_step(status, codes))
    elif tasks:
        first = tasks[0]
        return Triage(c.POST_TREATMENT_GROUP, first.due_on, first.code, first.due_on < on)
    overdue = [t for t in tasks if t.due_on < on]
    if overdue:
        return _task(c.OVERDUE, overdue[0], overdue=True)
    soon = [t for t in tasks if t.due_on <= horizon]
    if soon:
        return _task(c.DUE_SOON, soon[0])
    if status.course_open:
        needed_on = status.next_prescription_needed_on
        until = needed_on - timedelta(days=horizon_days) if needed_on else None
        return Triage(c.ON_TRACK, until, None)
    return Triage(c.INACTIVE, None, None)


def _gate_step(status: Status, codes: list[str]) -> str:
    """A prescription waiting at the pharmacy is picked up next; otherwise the first blocker,
    and with none the prescription itself."""
    if status.awaiting_pickup_since is not None:
        return c.RECORD_PICKUP
    return codes[0] if codes else c.WRITE_PRESCRIPTION


def _task(group: str, task: Due, *, overdue: bool = False) -> Triage:
    return Triage(group, task.due_on, task.code, overdue)
