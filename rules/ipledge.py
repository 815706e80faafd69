"""The iPLEDGE entry sheet: what staff must type into the iPLEDGE website this cycle, and by when.

Every month the clinic enters the same facts twice, here and on the iPLEDGE website; a late or
wrong entry there is what locks a patient out. The sheet lists each item of the cycle (the
prescriber's counseling confirmation, the two forms of contraception, the pregnancy test) with
the value to type, worded as iPLEDGE words it, and whether staff ticked it as entered. A tick
keeps the value it was given: when the record behind an item changes, the values no longer
match and the item is due again. See docs/ipledge-sheet.md.

Built from the rules snapshot and the ticks only, so it is part of the pure rules engine: the
database is read by the callers (the ticks: monitoring/history.py, monitoring/kept.py; an entry
is recorded by monitoring/services.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from . import constants
from .contraception import contraception_is_valid
from .contraception_methods import CONTRACEPTION_METHODS
from .gate import Context, context
from .pregnancy import setting_problem
from .schedule import window as pickup_window
from .snapshot import History, as_of, dispensed
from .text import us_date

COUNSELING = "counseling"
CONTRACEPTION = "contraception"
PREGNANCY_TEST = "pregnancy_test"

ABSTINENCE = "Committed to continuous abstinence"
TEST_METHODS = {"urine": "Urine", "serum": "Serum"}


@dataclass(frozen=True)
class Tick:
    item: str
    cycle_from: date
    value: str
    entered_by: str = ""
    entered_at: object = None


# How Today names each item in one line.
SHORT_NAMES = {
    COUNSELING: "counseling",
    CONTRACEPTION: "the two forms of contraception",
    PREGNANCY_TEST: "the pregnancy test",
}


@dataclass(frozen=True)
class SheetItem:
    item: str
    title: str
    # (iPLEDGE's field, the value to type), in the order iPLEDGE asks for them.
    fields: tuple[tuple[str, str], ...]
    # What is not recorded yet, when there is nothing to enter.
    missing: str = ""
    entered: Tick | None = None
    # A tick of this cycle whose value differs: the record changed after it was entered.
    withdrawn: Tick | None = None

    @property
    def value(self) -> str:
        """The fingerprint a tick keeps: every field and value, in order."""
        return "; ".join(f"{name}: {value}" for name, value in self.fields)

    @property
    def ready(self) -> bool:
        return bool(self.fields)

    @property
    def pending(self) -> bool:
        return self.ready and self.entered is None


@dataclass(frozen=True)
class Sheet:
    cycle_from: date
    enter_by: date | None
    items: tuple[SheetItem, ...]

    @property
    def pending(self) -> tuple[SheetItem, ...]:
        return tuple(i for i in self.items if i.pending)

    @property
    def to_enter(self) -> bool:
        """Every item has its value and some are not entered yet: the sheet is ready to be
        typed into iPLEDGE. While an item still lacks its record, the gate's blocker for it is
        the next step, not the sheet."""
        return bool(self.pending) and all(i.ready for i in self.items)

    def item(self, name: str) -> SheetItem | None:
        return next((i for i in self.items if i.item == name), None)


def cycle_from(history: History, on: date) -> date:
    """The day after the last dispensed prescription was written: what iPLEDGE holds for the
    next pick-up is entered after it. Before the first dispense, the course's first day."""
    given = dispensed(as_of(history, on))
    if not given:
        return history.enrolled_on
    return max(p.written_on for p in given) + timedelta(days=1)


def build(history: History, on: date, ticks: Iterable[Tick] = ()) -> Sheet:
    """The sheet of the cycle running on `on`, with each item's tick if its value matches."""
    ctx = context(history, on)
    since = cycle_from(history, on)
    window = pickup_window(history, on)
    candidates = [_counseling(ctx, since)]
    if ctx.history.can_get_pregnant:
        candidates += [_contraception(ctx, since), _pregnancy_test(ctx, since)]
    mine = [t for t in ticks if t.cycle_from == since]
    items = []
    for item in candidates:
        of_item = [t for t in mine if t.item == item.item]
        entered = next((t for t in of_item if item.ready and t.value == item.value), None)
        withdrawn = None if entered else (of_item[-1] if of_item else None)
        items.append(_with(item, entered, withdrawn))
    return Sheet(since, window.closes_on if window else None, tuple(items))


def _with(item: SheetItem, entered: Tick | None, withdrawn: Tick | None) -> SheetItem:
    return SheetItem(item.item, item.title, item.fields, item.missing, entered, withdrawn)


def _counseling(ctx: Context, since: date) -> SheetItem:
    title = "Prescriber: confirm the patient was counseled"
    counseled = [v for v in ctx.history.visits if v.visited_on >= since and v.counseling_confirmed]
    if not counseled:
        return SheetItem(COUNSELING, title, (), "No visit with counseling confirmed this cycle.")
    latest = counseled[-1]
    return SheetItem(COUNSELING, title, (("Counseling date", us_date(latest.visited_on)),))


def _contraception(ctx: Context, since: date) -> SheetItem:
    title = "Two forms of contraception"
    confirmed = [
        x
        for x in ctx.history.contraception
        if x.source == constants.STAFF
        and x.confirmed_on >= since
        and contraception_is_valid(x.methods, x.abstinence)
    ]
    if not confirmed:
        return SheetItem(CONTRACEPTION, title, (), "Staff have not confirmed two forms this cycle.")
    latest = confirmed[-1]
    if latest.abstinence:
        return SheetItem(CONTRACEPTION, title, (("Method", ABSTINENCE),))
    primary = sorted(m for m in latest.methods if m in constants.PRIMARY_METHODS)
    others = sorted(
        m for m in latest.methods if m in constants.ACCEPTABLE_METHODS and m != primary[0]
    )
    return SheetItem(
        CONTRACEPTION,
        title,
        (
            # The methods as the iPLEDGE program's list names them (the registry's).
            ("Primary form", _ipledge_name(primary[0])),
            ("Second form", _ipledge_name(others[0])),
        ),
    )


def _ipledge_name(method: str) -> str:
    """The method as the iPLEDGE program's list names it; every acceptable method has one
    (tests/patients/test_contraception_methods.py)."""
    name = CONTRACEPTION_METHODS[method].ipledge_name
    if name is None:
        raise ValueError(f"{method} has no iPLEDGE name")
    return name


def _pregnancy_test(ctx: Context, since: date) -> SheetItem:
    title = "Pregnancy test result"
    test = ctx.qualifying
    # A test collected before the cycle began was entered for the last prescription.
    if test is None or test.collected_on < since:
        return SheetItem(
            PREGNANCY_TEST, title, (), "No qualifying negative test in the last 7 days."
        )
    if setting_problem(test, ctx.history, ctx.rule_set) is not None:
        return SheetItem(PREGNANCY_TEST, title, (), "The latest test's setting is not accepted.")
    if test.setting == constants.HOME:
        where = "Home test"
    elif test.clia_lab:
        where = "CLIA-certified laboratory"
    else:
        where = "Medical office"
    return SheetItem(
        PREGNANCY_TEST,
        title,
        (
            ("Specimen collection date", us_date(test.collected_on)),
            ("Test type", TEST_METHODS.get(test.method, test.method.title())),
            ("Result", "Negative"),
            ("Performed at", where),
        ),
    )
