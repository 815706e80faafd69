"""Triage (docs/clinic-day.md): each group at its edges, and every patient in exactly one group.

Statuses come from real histories through `status`, so a change in the engine that moves a
patient shows here; a few tables build a `Status` by hand where only one field matters.
"""

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rules import (
    TRIAGE_GROUPS,
    Blocker,
    Cumulative,
    Due,
    Status,
    Window,
    status,
    triage,
)
from tests.rules.builders import (
    RS2026_DAY,
    days,
    pregnancy_test,
    prescription,
    ready_can_get_pregnant,
    treating_can_get_pregnant,
    treating_cannot_get_pregnant,
    visit,
)
from tests.rules.test_rules_properties import histories, rules_settings

D = RS2026_DAY
H = 7
ZERO = Cumulative(Decimal(0), Decimal(0), Decimal(120), None)


def made(*, blockers=(), due=(), window=None, needed_on=None, ended=False) -> Status:
    codes = [*blockers, *(["course_ended"] if ended else [])]
    return Status(
        rule_set="RS-2026",
        can_prescribe=not codes,
        blockers=tuple(Blocker(code, code) for code in codes),
        warnings=(),
        window=window,
        due=tuple(Due(code, on) for code, on in due),
        cumulative=ZERO,
        next_prescription_needed_on=None if ended else needed_on,
    )


def group(status_: Status, on: date = D) -> str:
    return triage(status_, on, H).group


# safety comes first, whatever else is true.


@pytest.mark.parametrize("code", ["mood_review_required", "pregnancy_test_positive"])
def test_a_safety_blocker_puts_the_patient_first_even_in_an_open_window(code):
    found = triage(
        made(blockers=("consent_missing", code), window=Window(D, D + days(6)), needed_on=D), D, H
    )
    assert (found.group, found.step) == ("safety", code)


def test_a_safety_blocker_after_the_course_ended_is_still_safety():
    assert group(made(blockers=("pregnancy_test_positive",), ended=True)) == "safety"


# window_closing: a window open on D, sorted by its closing day.


@pytest.mark.parametrize(
    ("opens", "closes", "expected"),
    [
        (1, 7, "needs_prescription"),  # opens tomorrow: not yet closing
        (0, 6, "window_closing"),  # opens today
        (-6, 0, "window_closing"),  # closes today
        (-7, -1, "needs_prescription"),  # closed yesterday
    ],
)
def test_the_window_closing_group_holds_a_window_open_on_the_day(opens, closes, expected):
    status_ = made(
        blockers=("pregnancy_test_missing",),
        window=Window(D + days(opens), D + days(closes)),
        needed_on=D,
    )
    found = triage(status_, D, H)
    assert found.group == expected
    if expected == "window_closing":
        assert found.sort_on == D + days(closes)
        assert found.step == "pregnancy_test_missing"


def test_an_open_window_with_nothing_blocking_asks_for_the_prescription():
    history = ready_can_get_pregnant(D)
    found = triage(status(history, D), D, H)
    assert (found.group, found.sort_on, found.step) == (
        "window_closing",
        D + days(4),
        "write_prescription",
    )


def test_a_prescription_written_in_the_window_is_picked_up_next():
    """Written on D, not yet dispensed: staff record the pick-up, nobody writes it again."""
    history = ready_can_get_pregnant(D)
    history = replace(history, prescriptions=(prescription(1, D),))
    for on in (D, D + days(4)):  # the window closes on D + 4
        found_status = status(history, on)
        assert found_status.awaiting_pickup_since == D
        found = triage(found_status, on, H)
        assert (found.group, found.step) == ("window_closing", "record_pickup")
    # After the window closed, the prescription can no longer be picked up.
    assert status(history, D + days(5)).awaiting_pickup_since is None
    assert triage(status(history, D + days(5)), D + days(5), H).step != "record_pickup"


def test_a_dispensed_prescription_no_longer_waits_for_pick_up():
    history = replace(
        ready_can_get_pregnant(D), prescriptions=(prescription(1, D, dispensed_on=D),)
    )
    assert status(history, D).awaiting_pickup_since is None


# to_enter: values wait to be typed into iPLEDGE while a window is open or a pick-up waits.


def test_values_to_enter_in_ipledge_come_right_after_safety():
    open_window = made(blockers=("contraception_unconfirmed",), window=Window(D, D + days(6)))
    found = triage(open_window, D, H, to_enter=True)
    assert (found.group, found.sort_on, found.step) == ("to_enter", D + days(6), "enter_in_ipledge")
    assert triage(open_window, D, H).group == "window_closing"
    unsafe = made(blockers=("mood_review_required",), window=Window(D, D + days(6)))
    assert triage(unsafe, D, H, to_enter=True).group == "safety"


def test_values_to_enter_matter_only_while_a_window_is_open_or_a_pick_up_waits():
    closed = made(needed_on=D + days(3), window=Window(D - days(7), D - days(1)))
    assert triage(closed, D, H, to_enter=True).group == "ready"
    waiting = replace(made(needed_on=D), awaiting_pickup_since=D - days(1))
    assert triage(waiting, D, H, to_enter=True).group == "to_enter"
    assert triage(made(ended=True), D, H, to_enter=True).group == "inactive"


# needs_prescription and ready: from H days before the supply runs out.


@pytest.mark.parametrize(
    ("needed_in", "expected"),
    [
        (H + 1, "on_track"),
        (H, "needs_prescription"),
        (0, "needs_prescription"),
        (-3, "needs_prescription"),
    ],
)
def test_a_blocked_patient_is_listed_from_h_days_before_the_supply_runs_out(needed_in, expected):
    status_ = made(blockers=("pregnancy_test_missing",), needed_on=D + days(needed_in))
    found = triage(status_, D, H)
    assert found.group == expected
    if expected == "needs_prescription":
        assert (found.sort_on, found.step) == (D + days(needed_in), "pregnancy_test_missing")


@pytest.mark.parametrize(("needed_in", "expected"), [(H + 1, "on_track"), (H, "ready")])
def test_an_unblocked_patient_is_ready_from_h_days_before(needed_in, expected):
    found = triage(made(needed_on=D + days(needed_in)), D, H)
    assert found.group == expected
    if expected == "ready":
        assert found.step == "write_prescription"


def test_the_horizon_is_the_clinics():
    status_ = made(blockers=("visit_missing",), needed_on=D + days(10))
    assert triage(status_, D, 7).group == "on_track"
    assert triage(status_, D, 10).group == "needs_prescription"


def test_a_patient_in_the_middle_of_a_30_day_supply_is_on_track_not_blocked():
    """Dispensed yesterday: the gate refuses a prescription today, but nothing is to be done."""
    history = treating_can_get_pregnant(D - days(1))
    history = replace(
        history,
        prescriptions=(
            *history.prescriptions,
            prescription(2, D - days(1), dispensed_on=D - days(1)),
        ),
    )
    found_status = status(history, D)
    assert not found_status.can_prescribe
    assert found_status.next_prescription_needed_on == D + days(29)
    found = triage(found_status, D, H)
    assert (found.group, found.sort_on, found.step) == ("on_track", D + days(29 - H), None)


def test_before_the_first_dispense_the_patient_needs_a_prescription_today():
    history = replace(ready_can_get_pregnant(D), pregnancy_tests=())
    found_status = status(history, D + days(10))
    assert found_status.next_prescription_needed_on == D + days(10)
    assert group(found_status, D + days(10)) == "needs_prescription"


@pytest.mark.parametrize(
    ("dispensed", "supply", "needed_on"),
    [(D - days(29), 30, D + days(1)), (D - days(5), 10, D + days(5)), (D, 1, D + days(1))],
)
def test_the_next_prescription_is_needed_the_day_after_the_supply_ends(
    dispensed, supply, needed_on
):
    history = replace(
        treating_cannot_get_pregnant(D),
        prescriptions=(prescription(1, dispensed, dispensed_on=dispensed, days_supply=supply),),
    )
    assert status(history, D).next_prescription_needed_on == needed_on


# post_treatment, overdue, due_soon, on_track, inactive.


@pytest.mark.parametrize(("due_in", "overdue"), [(-1, True), (0, False), (40, False)])
def test_an_ended_course_with_a_task_is_post_treatment_at_any_date(due_in, overdue):
    status_ = made(ended=True, due=(("post_treatment_test_due", D + days(due_in)),))
    found = triage(status_, D, H)
    assert (found.group, found.sort_on, found.overdue) == (
        "post_treatment",
        D + days(due_in),
        overdue,
    )


def test_an_ended_course_with_only_dates_to_tell_is_inactive():
    status_ = made(
        ended=True,
        due=(("blood_donation_allowed", D + days(3)), ("retreatment_earliest", D + days(20))),
    )
    assert triage(status_, D, H) == triage(made(ended=True), D, H)
    assert group(status_) == "inactive"


@pytest.mark.parametrize(
    ("due_in", "expected"),
    [(-1, "overdue"), (0, "due_soon"), (H, "due_soon"), (H + 1, "on_track")],
)
def test_a_task_is_overdue_the_day_after_its_date_and_due_soon_within_the_horizon(due_in, expected):
    status_ = made(needed_on=D + days(20), due=(("visit_due", D + days(due_in)),))
    found = triage(status_, D, H)
    assert found.group == expected
    if expected != "on_track":
        assert (found.step, found.sort_on, found.overdue) == (
            "visit_due",
            D + days(due_in),
            due_in < 0,
        )


def test_the_most_overdue_task_is_the_step():
    status_ = made(
        needed_on=D + days(20),
        due=(("visit_due", D - days(2)), ("followup_labs_due", D - days(9))),
    )
    found = triage(status_, D, H)
    assert (found.group, found.step, found.sort_on) == (
        "overdue",
        "followup_labs_due",
        D - days(9),
    )


@pytest.mark.parametrize("code", ["window_closes", "lockout_until", "blood_donation_allowed"])
def test_dates_to_tell_the_patient_never_list_a_patient_by_themselves(code):
    assert group(made(needed_on=D + days(20), due=((code, D - days(1)),))) == "on_track"


def test_a_visit_due_in_a_week_for_a_patient_mid_supply_is_due_soon():
    history = replace(
        treating_cannot_get_pregnant(D),
        prescriptions=(prescription(1, D - days(10), dispensed_on=D - days(10)),),
        visits=(visit(1, D - days(10), next_visit_on=D + days(5)),),
    )
    found = triage(status(history, D), D, H)
    assert (found.group, found.step, found.sort_on) == ("due_soon", "visit_due", D + days(5))


def test_a_positive_test_in_treatment_is_safety():
    history = treating_can_get_pregnant(D)
    history = replace(
        history,
        pregnancy_tests=(
            *history.pregnancy_tests,
            pregnancy_test(9, "monthly", D - days(1), result="positive"),
        ),
    )
    assert group(status(history, D)) == "safety"


# Every patient lands in exactly one group, on any day: the first of the table whose condition
# holds, each condition written here straight from the table of docs/clinic-day.md.


def conditions(found: Status, on: date, horizon: int, to_enter: bool) -> dict[str, bool]:
    codes = {b.code for b in found.blockers}
    tasks = [d for d in found.due if d.code in TASKS]
    window = found.window
    needed_on = found.next_prescription_needed_on
    due_by_horizon = needed_on is not None and needed_on <= on + days(horizon)
    return {
        "safety": bool(codes & {"mood_review_required", "pregnancy_test_positive"}),
        "to_enter": found.course_open
        and to_enter
        and (
            (window is not None and window.opens_on <= on <= window.closes_on)
            or found.awaiting_pickup_since is not None
        ),
        "window_closing": found.course_open
        and window is not None
        and window.opens_on <= on <= window.closes_on,
        "needs_prescription": found.course_open and due_by_horizon and bool(codes),
        "ready": found.course_open and due_by_horizon and not codes,
        "post_treatment": not found.course_open and bool(tasks),
        "overdue": any(t.due_on < on for t in tasks),
        "due_soon": any(on <= t.due_on <= on + days(horizon) for t in tasks),
        "on_track": found.course_open,
        "inactive": not found.course_open,
    }


TASKS = {
    "confirmation_test_earliest",
    "monthly_test_due",
    "visit_due",
    "followup_labs_due",
    "end_of_treatment_test_due",
    "post_treatment_test_due",
}


@rules_settings
@given(histories(), st.integers(-40, 40), st.integers(1, 30), st.booleans())
def test_every_patient_lands_in_exactly_one_group_the_first_that_applies(
    history, offset, horizon, to_enter
):
    on = max(history.enrolled_on, D) + days(offset)
    found_status = status(history, on)
    found = triage(found_status, on, horizon, to_enter=to_enter)
    holds = conditions(found_status, on, horizon, to_enter)
    assert list(holds) == list(TRIAGE_GROUPS)
    assert found.group == next(g for g in TRIAGE_GROUPS if holds[g])
    if found.group in ("safety", "to_enter", "window_closing", "needs_prescription", "ready"):
        assert found.step is not None and found.sort_on is not None
