"""What the rules answer: plain frozen values that views, the API and reminders read as they are."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal


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
