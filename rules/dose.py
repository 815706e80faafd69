"""Cumulative dose (docs/domain.md section 6) and prescription input checks (section 4)."""

from __future__ import annotations

import math
from bisect import bisect_right
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from . import constants as c
from .results import Cumulative
from .snapshot import (
    History,
    Prescription,
    as_of,
    course_ended,
    course_start,
    dispensed,
    dispensed_on,
    latest_dispensed,
    latest_weight_kg,
    recorded_days,
    supply_end,
)
from .text import day

ONE_DECIMAL = Decimal("0.1")


def _days_taken(prescription: Prescription, history: History, on: date) -> int:
    """Days of the supply taken by `on`: from dispensed_on through `on`, capped at the supply
    and at the last dose."""
    last_day = min(on, supply_end(prescription))
    if history.last_dose_on is not None:
        last_day = min(last_day, history.last_dose_on)
    return max(0, (last_day - dispensed_on(prescription)).days + 1)


def _taking_before(given: tuple[Prescription, ...], visited_on: date) -> Prescription | None:
    """The prescription a patient was taking before a visit: missed days reported at a visit are
    days of the supply dispensed before it (a same-day dispense has not been taken yet)."""
    earlier = [p for p in given if dispensed_on(p) < visited_on]
    return earlier[-1] if earlier else None


def cumulative_mg(history: History, on: date) -> Decimal:
    """Milligrams taken by `on` in a snapshot already cut with as_of(…, on)."""
    return _mg_taken(history, dispensed(history), on)


def _mg_taken(history: History, given: tuple[Prescription, ...], on: date) -> Decimal:
    """cumulative_mg, with the snapshot's dispensed prescriptions (`given`) already sorted."""
    taken = sum((p.daily_dose_mg * _days_taken(p, history, on) for p in given), start=Decimal(0))
    for visit in history.visits:
        prescription = _taking_before(given, visit.visited_on)
        if prescription is not None and visit.missed_dose_days > 0:
            taken -= prescription.daily_dose_mg * visit.missed_dose_days
    return max(taken, Decimal(0))


def per_kg(mg: Decimal, weight_kg: Decimal) -> Decimal:
    if weight_kg <= 0:
        return Decimal("0.0")
    return (mg / weight_kg).quantize(ONE_DECIMAL, rounding=ROUND_HALF_UP)


def cumulative(history: History, on: date) -> Cumulative:
    """Dose taken by `on`, per kg of the latest weight, and when the target will be reached.

    projected_completion_on is None when nothing was dispensed or the course has ended, `on`
    itself once the target is reached, else on + ceil(remaining mg / latest daily dose).
    """
    history = as_of(history, on)
    mg = cumulative_mg(history, on)
    weight = latest_weight_kg(history)
    return Cumulative(
        mg=mg,
        mg_per_kg=per_kg(mg, weight),
        target_mg_per_kg=history.target_mg_per_kg,
        projected_completion_on=_projected_completion(history, on, mg, weight),
    )


def _projected_completion(history: History, on: date, mg: Decimal, weight: Decimal) -> date | None:
    latest = latest_dispensed(history)
    if latest is None or course_ended(history, on) or latest.daily_dose_mg <= 0:
        return None
    remaining = history.target_mg_per_kg * weight - mg
    if remaining <= 0:
        return on
    return on + timedelta(days=math.ceil(remaining / latest.daily_dose_mg))


def dose_series(history: History, until: date) -> tuple[tuple[date, Decimal], ...]:
    """(day, cumulative mg/kg as known that day) from the first dispense through `until`:
    each day's `cumulative(history, day).mg_per_kg`.

    The snapshot cut at a day holds what the cut at the latest recorded day before it holds
    (`recorded_days`), so each day is figured on that cut: a six-month course costs a cut per
    record, not 180 cuts, on every patient page.
    """
    start = course_start(as_of(history, until))
    if start is None:
        return ()
    recorded = recorded_days(history)  # holds the first dispense, so never empty from here
    series = []
    cut_on = None
    for n in range((until - start).days + 1):
        on = start + timedelta(days=n)
        latest_recorded = recorded[bisect_right(recorded, on) - 1]
        if latest_recorded != cut_on:  # a new cut, and its dispenses and weight
            cut_on = latest_recorded
            known = as_of(history, cut_on)
            given, weight = dispensed(known), latest_weight_kg(known)
        series.append((on, per_kg(_mg_taken(known, given, on), weight)))
    return tuple(series)


def validate_prescription(
    history: History, written_on: date, daily_dose_mg: Decimal, days_supply: int
) -> dict[str, str]:
    """Field -> message for prescription input the rules refuse as invalid (never a blocker)."""
    errors = {}
    if not c.MIN_DAYS_SUPPLY <= days_supply <= c.MAX_DAYS_SUPPLY:
        errors["days_supply"] = (
            f"Days supply must be between {c.MIN_DAYS_SUPPLY} and {c.MAX_DAYS_SUPPLY}."
        )
    weight = latest_weight_kg(as_of(history, written_on))
    most = c.MAX_MG_PER_KG_PER_DAY * weight
    if daily_dose_mg <= 0:
        errors["daily_dose_mg"] = "The daily dose must be more than 0 mg."
    elif daily_dose_mg > most:
        errors["daily_dose_mg"] = (
            f"The daily dose is above 2 mg/kg/day for a weight of {weight.normalize():f} kg "
            f"(at most {most.normalize():f} mg)."
        )
    if written_on < history.enrolled_on:
        errors["written_on"] = (
            "The prescription date is before the patient's enrollment "
            f"({day(history.enrolled_on)})."
        )
    return errors


def target_error(target: Decimal | int | str | None) -> str | None:
    """The one check of a course's dose target (docs/domain.md section 4): 50 to 300 mg/kg."""
    if target is None or not c.MIN_TARGET_MG_PER_KG <= Decimal(target) <= c.MAX_TARGET_MG_PER_KG:
        return c.TARGET_RANGE_MESSAGE
    return None
