"""Contraception validity (docs/domain.md section 4)."""

from __future__ import annotations

from collections.abc import Iterable

from . import constants as c
from .results import Warning
from .snapshot import ContraceptionConfirmation, History
from .text import label, listing


def contraception_is_valid(methods: Iterable[str], abstinence: bool) -> bool:
    """Abstinence, or two distinct acceptable methods of which at least one is primary.

    A progestin-only pill may be recorded but never counts toward the two.
    """
    if abstinence:
        return True
    acceptable = set(methods) & c.ACCEPTABLE_METHODS
    return len(acceptable) >= c.MIN_ACCEPTABLE_METHODS and bool(acceptable & c.PRIMARY_METHODS)


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
    names = sorted("IUD" if m == "iud" else label(m) for m in confirmation.methods)
    return listing(names) or "no method"


def latest_staff_confirmation(history: History) -> ContraceptionConfirmation | None:
    """The latest staff-sourced confirmation in an `as_of` snapshot."""
    staff = [x for x in history.contraception if x.source == c.STAFF]
    return staff[-1] if staff else None


def same_methods(a: ContraceptionConfirmation, b: ContraceptionConfirmation) -> bool:
    return frozenset(a.methods) == frozenset(b.methods) and a.abstinence == b.abstinence
