"""What the rules answer: plain frozen values that views, the API and reminders read as they are."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from .constants import COURSE_ENDED


@dataclass(frozen=True)
class Blocker:
    """A reason a prescription written on the date asked about is refused."""

    code: str
    message: str
    until: date | None = None


@dataclass(frozen=True)
class Warning:  # noqa: A001 - the domain's word; only ever used as rules.Warning
    """Something staff should see that does not refuse the prescription."""

    code: str
    message: str


@dataclass(frozen=True)
class Window:
    """A pick-up window, inclusive at both ends."""

    opens_on: date
    closes_on: date


@dataclass(frozen=True)
class Due:
    code: str
    due_on: date


@dataclass(frozen=True)
class Cumulative:
    mg: Decimal
    mg_per_kg: Decimal
    target_mg_per_kg: Decimal
    projected_completion_on: date | None


@dataclass(frozen=True)
class Status:
    rule_set: str
    can_prescribe: bool
    blockers: tuple[Blocker, ...]
    warnings: tuple[Warning, ...]
    window: Window | None
    due: tuple[Due, ...]
    cumulative: Cumulative
    # The day after the latest dispensed supply ends; before the first dispense the day asked
    # about (the patient is waiting to start); None once the course has ended.
    next_prescription_needed_on: date | None = None
    # The written date of the course's latest prescription while it waits to be picked up (not
    # dispensed, its pick-up deadline not passed); None otherwise.
    awaiting_pickup_since: date | None = None

    @property
    def course_open(self) -> bool:
        """A course is open until it has a last dose date (the gate then says `course_ended`)."""
        return not any(b.code == COURSE_ENDED for b in self.blockers)


@dataclass(frozen=True)
class Triage:
    """Where a patient stands in the clinic's day (docs/clinic-day.md, triage).

    `step` is the code of what to do next: a blocker, a due code, or `write_prescription`;
    None for patients with nothing to do. `sort_on` orders the group (for `on_track`, the last
    day the patient stays on track); `overdue` marks a task already past its date.
    """

    group: str
    sort_on: date | None
    step: str | None
    overdue: bool = False
