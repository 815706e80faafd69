"""Contraception validity (docs/domain.md section 4)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from . import constants as c
from .contraception_methods import CONTRACEPTION_METHODS
from .results import Warning
from .snapshot import ContraceptionConfirmation, History
from .text import day, label, listing


def contraception_shortfall(methods: Iterable[str], abstinence: bool) -> str | None:
    """What the confirmation lacks to count, or None when it counts: abstinence, or two
    distinct acceptable methods of which at least one is primary.

    A progestin-only pill (or a code the rules do not know) may be recorded but never counts
    toward the two. The staff form, the patient's page and the gate all ask this one function,
    so the same answer gets the same verdict wherever it is given.
    """
    if abstinence:
        return None
    acceptable = set(methods) & c.ACCEPTABLE_METHODS
    if not acceptable:
        return c.NO_METHOD_COUNTS
    if len(acceptable) < c.MIN_ACCEPTABLE_METHODS:
        return c.ONE_METHOD_COUNTS
    if not acceptable & c.PRIMARY_METHODS:
        return c.NO_PRIMARY_METHOD
    return None


def contraception_is_valid(methods: Iterable[str], abstinence: bool) -> bool:
    return contraception_shortfall(methods, abstinence) is None


# How a blocker's sentence says what a confirmation lacks (for staff; the patient's page words
# the same codes in the patient's language).
SHORTFALL_WORDS = {
    c.NO_METHOD_COUNTS: "no method that counts",
    c.ONE_METHOD_COUNTS: "only one method that counts",
    c.NO_PRIMARY_METHOD: "no primary method",
}


def contraception_warnings(methods: Iterable[str]) -> tuple[Warning, ...]:
    methods = set(methods)
    warnings = []
    if methods & c.UNACCEPTABLE_METHODS:
        warnings.append(
            Warning(
                c.PROGESTIN_ONLY_PILL,
                "A progestin-only pill is recorded: it does not count as a form of contraception.",
            )
        )
    unknown = sorted(methods - c.KNOWN_METHODS)
    if unknown:
        warnings.append(
            Warning(
                c.UNKNOWN_CONTRACEPTION_METHOD,
                f"Unknown contraception method recorded: {listing(unknown)}. It does not count.",
            )
        )
    return tuple(warnings)


def describe(confirmation: ContraceptionConfirmation) -> str:
    if confirmation.abstinence:
        return "abstinence"
    names = sorted(
        CONTRACEPTION_METHODS[m].words if m in CONTRACEPTION_METHODS else label(m)
        for m in confirmation.methods
    )
    return listing(names) or "no method"


def describe_report(confirmation: ContraceptionConfirmation) -> str:
    """What a patient reported and when, and what it lacks if it would not count: "male
    condom on 3 Dec 2026 (only one method that counts)"."""
    shortfall = contraception_shortfall(confirmation.methods, confirmation.abstinence)
    lacking = f" ({SHORTFALL_WORDS[shortfall]})" if shortfall else ""
    return f"{describe(confirmation)} on {day(confirmation.confirmed_on)}{lacking}"


def latest_patient_report(history: History, since: date) -> ContraceptionConfirmation | None:
    """The patient's latest own answer on or after `since` (the cycle's start)."""
    reports = [
        x for x in history.contraception if x.source == c.PATIENT and x.confirmed_on >= since
    ]
    return reports[-1] if reports else None


def latest_staff_confirmation(history: History) -> ContraceptionConfirmation | None:
    """The latest staff-sourced confirmation in an `as_of` snapshot."""
    staff = [x for x in history.contraception if x.source == c.STAFF]
    return staff[-1] if staff else None


def same_methods(a: ContraceptionConfirmation, b: ContraceptionConfirmation) -> bool:
    return frozenset(a.methods) == frozenset(b.methods) and a.abstinence == b.abstinence
