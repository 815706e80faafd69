"""Blockers that apply to every patient (docs/domain.md section 5, first table)."""

from dataclasses import replace

import pytest

from rules import Consent, RuleSettings, evaluate
from tests.rules.builders import (
    BOTH_RULE_SETS,
    RS2021_DAY,
    RS2026_DAY,
    baseline_labs,
    codes,
    days,
    pregnancy_test,
    prescription,
    ready_can_get_pregnant,
    ready_cannot_get_pregnant,
    treating_can_get_pregnant,
    treating_cannot_get_pregnant,
    visit,
)

BUILDERS = [
    ready_can_get_pregnant,
    treating_can_get_pregnant,
    ready_cannot_get_pregnant,
    treating_cannot_get_pregnant,
]
EVERY_PATIENT = [
    pytest.param(builder, on, id=f"{builder.__name__}-{on.year}")
    for builder in BUILDERS
    for on in BOTH_RULE_SETS
]


@pytest.mark.parametrize(("builder", "on"), EVERY_PATIENT)
def test_the_builders_pass_the_gate(builder, on):
    assert evaluate(builder(on), on) == ()


# consent_missing


@pytest.mark.parametrize(
    ("signed_offset", "expected"),
    [(-1, []), (0, []), (1, ["consent_missing"])],
)
@pytest.mark.parametrize(("builder", "on"), EVERY_PATIENT)
def test_a_consent_counts_from_the_day_it_is_signed(builder, on, signed_offset, expected):
    history = builder(on)
    consents = tuple(
        Consent(x.kind, on + days(signed_offset)) if x.kind == "patient_information" else x
        for x in history.consents
    )
    assert codes(evaluate(replace(history, consents=consents), on)) == expected


@pytest.mark.parametrize("on", BOTH_RULE_SETS)
def test_birth_defects_consent_is_required_only_when_the_patient_can_get_pregnant(on):
    can = ready_can_get_pregnant(on)
    can = replace(can, consents=tuple(x for x in can.consents if x.kind != "birth_defects"))
    blockers = evaluate(can, on)
    assert codes(blockers) == ["consent_missing"]
    assert blockers[0].message == "Consent not signed: birth defects."
    cannot = ready_cannot_get_pregnant(on)
    assert "birth_defects" not in {x.kind for x in cannot.consents}
    assert evaluate(cannot, on) == ()


def test_both_missing_consents_are_named_in_one_blocker():
    on = RS2021_DAY
    blockers = evaluate(replace(ready_can_get_pregnant(on), consents=()), on)
    assert [(b.code, b.message) for b in blockers] == [
        ("consent_missing", "Consents not signed: patient information and birth defects.")
    ]


# baseline_labs_missing


@pytest.mark.parametrize(
    ("collected_offset", "expected"),
    [(-31, ["baseline_labs_missing"]), (-30, []), (0, []), (1, ["baseline_labs_missing"])],
)
@pytest.mark.parametrize("builder", [ready_can_get_pregnant, ready_cannot_get_pregnant])
@pytest.mark.parametrize("on", BOTH_RULE_SETS)
def test_baseline_labs_count_when_collected_in_the_last_30_days(
    builder, on, collected_offset, expected
):
    history = replace(builder(on), labs=baseline_labs(on + days(collected_offset)))
    assert codes(evaluate(history, on)) == expected


@pytest.mark.parametrize("on", BOTH_RULE_SETS)
def test_each_baseline_lab_is_needed_and_named(on):
    history = ready_cannot_get_pregnant(on)
    history = replace(history, labs=tuple(x for x in history.labs if x.kind != "alt"))
    (blocker,) = evaluate(history, on)
    assert blocker.code == "baseline_labs_missing"
    assert blocker.message == (
        "Baseline labs missing from the last 30 days (since "
        f"{on - days(30):%b} {(on - days(30)).day}, {(on - days(30)).year}): ALT."
    )


@pytest.mark.parametrize("builder", [treating_can_get_pregnant, treating_cannot_get_pregnant])
@pytest.mark.parametrize("on", BOTH_RULE_SETS)
def test_baseline_labs_are_needed_only_for_the_first_prescription(builder, on):
    assert evaluate(replace(builder(on), labs=()), on) == ()


# visit_missing


def _without_a_visit(builder, on) -> list[str]:
    """No visit also means no counseling and, for can_get_pregnant, no comprehension at one."""
    found = ["visit_missing", "counseling_unconfirmed"]
    if builder is treating_cannot_get_pregnant and on == RS2026_DAY:
        found.remove("counseling_unconfirmed")
    if builder in (ready_can_get_pregnant, treating_can_get_pregnant):
        found.append("comprehension_incomplete")
    return found


@pytest.mark.parametrize(("visit_offset", "in_time"), [(-30, False), (-29, True), (0, True)])
@pytest.mark.parametrize(("builder", "on"), EVERY_PATIENT)
def test_a_visit_counts_from_30_days_back(builder, on, visit_offset, in_time):
    history = replace(builder(on), visits=(visit(1, on + days(visit_offset)),))
    assert codes(evaluate(history, on)) == ([] if in_time else _without_a_visit(builder, on))


@pytest.mark.parametrize(("builder", "on"), EVERY_PATIENT)
def test_a_visit_after_the_day_does_not_count(builder, on):
    history = replace(builder(on), visits=(visit(1, on + days(1)),))
    blockers = evaluate(history, on)
    assert codes(blockers) == _without_a_visit(builder, on)
    assert blockers[0].message.startswith("No clinic visit recorded since ")


NO_VISIT = ["visit_missing", "counseling_unconfirmed"]
NO_VISIT_CAN = [*NO_VISIT, "comprehension_incomplete"]


def _rewritten(builder, on):
    """The previous prescription was written 10 days ago and never dispensed."""
    history = builder(on)
    rewritten = prescription(9, on - days(10))
    return replace(history, prescriptions=(*history.prescriptions, rewritten))


@pytest.mark.parametrize(
    ("builder", "on", "settings", "expected"),
    [
        pytest.param(ready_can_get_pregnant, RS2021_DAY, None, NO_VISIT_CAN, id="can-2021"),
        pytest.param(ready_can_get_pregnant, RS2026_DAY, None, NO_VISIT_CAN, id="can-2026"),
        # RS-2021: the program's 30-day window does not restart with a re-written prescription,
        # so the visit still counts; counseling is judged in the cycle, so it does not.
        pytest.param(
            ready_cannot_get_pregnant,
            RS2021_DAY,
            None,
            ["counseling_unconfirmed"],
            id="cannot-2021",
        ),
        pytest.param(ready_cannot_get_pregnant, RS2026_DAY, None, NO_VISIT, id="cannot-2026"),
        pytest.param(
            ready_cannot_get_pregnant,
            RS2026_DAY,
            RuleSettings(rs2026_cannot_get_pregnant_visit_days=30),
            ["counseling_unconfirmed"],
            id="cannot-2026-clinic-30-days",
        ),
    ],
)
@pytest.mark.parametrize(("visit_offset", "in_cycle"), [(-10, False), (-9, True)])
def test_a_visit_before_the_previous_prescription_is_outside_the_cycle(
    builder, on, settings, expected, visit_offset, in_cycle
):
    history = replace(_rewritten(builder, on), visits=(visit(1, on + days(visit_offset)),))
    if settings is not None:
        history = replace(history, settings=settings)
    assert codes(evaluate(history, on)) == ([] if in_cycle else expected)


# counseling_unconfirmed


@pytest.mark.parametrize(
    ("visit_offset", "expected"),
    [(-30, ["counseling_unconfirmed"]), (-29, []), (0, []), (1, ["counseling_unconfirmed"])],
)
@pytest.mark.parametrize(("builder", "on"), EVERY_PATIENT)
def test_counseling_counts_at_a_visit_in_the_cycle(builder, on, visit_offset, expected):
    history = builder(on)
    counseled = visit(7, on + days(visit_offset), counseling_confirmed=True)
    others = tuple(replace(v, counseling_confirmed=False) for v in history.visits)
    history = replace(history, visits=(*others, counseled))
    if builder is treating_cannot_get_pregnant and on == RS2026_DAY:
        expected = []  # RS-2026: counseling only at the first prescription of the course
    assert codes(evaluate(history, on)) == expected


@pytest.mark.parametrize(
    ("builder", "on", "expected"),
    [
        (ready_can_get_pregnant, RS2021_DAY, ["counseling_unconfirmed"]),
        (ready_can_get_pregnant, RS2026_DAY, ["counseling_unconfirmed"]),
        (treating_can_get_pregnant, RS2021_DAY, ["counseling_unconfirmed"]),
        (treating_can_get_pregnant, RS2026_DAY, ["counseling_unconfirmed"]),
        (ready_cannot_get_pregnant, RS2021_DAY, ["counseling_unconfirmed"]),
        (ready_cannot_get_pregnant, RS2026_DAY, ["counseling_unconfirmed"]),
        (treating_cannot_get_pregnant, RS2021_DAY, ["counseling_unconfirmed"]),
        (treating_cannot_get_pregnant, RS2026_DAY, []),
    ],
)
def test_counseling_is_monthly_except_for_cannot_get_pregnant_under_rs2026(builder, on, expected):
    history = builder(on)
    history = replace(
        history, visits=tuple(replace(v, counseling_confirmed=False) for v in history.visits)
    )
    assert codes(evaluate(history, on)) == expected


# mood_screen_incomplete


@pytest.mark.parametrize(
    ("phq2", "phq9", "expected"),
    [(2, None, []), (3, None, ["mood_screen_incomplete"]), (6, None, ["mood_screen_incomplete"])]
    + [(3, 0, []), (6, 12, [])],
)
@pytest.mark.parametrize(("builder", "on"), EVERY_PATIENT)
def test_a_phq2_of_3_or_more_needs_a_phq9(builder, on, phq2, phq9, expected):
    history = builder(on)
    latest = replace(history.visits[-1], phq2=phq2, phq9=phq9)
    history = replace(history, visits=(*history.visits[:-1], latest))
    assert codes(evaluate(history, on)) == expected


@pytest.mark.parametrize("on", BOTH_RULE_SETS)
def test_only_the_latest_visit_in_the_cycle_needs_its_phq9(on):
    history = treating_can_get_pregnant(on)
    earlier = visit(5, on - days(10), phq2=5)
    later = visit(6, on - days(1), phq2=1)
    assert evaluate(replace(history, visits=(later, earlier)), on) == ()
    assert codes(evaluate(replace(history, visits=(earlier,)), on)) == ["mood_screen_incomplete"]


@pytest.mark.parametrize("on", BOTH_RULE_SETS)
def test_a_visit_after_the_day_does_not_hide_a_missing_phq9(on):
    history = treating_cannot_get_pregnant(on)
    history = replace(
        history, visits=(visit(5, on - days(1), phq2=4), visit(6, on + days(1), phq2=0))
    )
    assert codes(evaluate(history, on)) == ["mood_screen_incomplete"]


# mood_review_required


@pytest.mark.parametrize(
    ("review_offsets", "item9", "expected"),
    [
        ((), 1, ["mood_review_required"]),
        ((), 0, []),
        ((), None, []),
        ((-1,), 2, ["mood_review_required"]),  # a review before the visit is not of it
        ((0,), 2, []),
        ((1,), 3, []),
        ((6,), 3, ["mood_review_required"]),  # dated after the day asked about
    ],
)
@pytest.mark.parametrize(("builder", "on"), EVERY_PATIENT)
def test_a_phq9_item9_above_0_needs_a_clinician_review_on_or_after_the_visit(
    builder, on, review_offsets, item9, expected
):
    history = builder(on)
    visited_on = on - days(5)
    reviews = tuple(visited_on + days(n) for n in review_offsets)
    flagged = visit(8, visited_on, phq2=4, phq9=14, phq9_item9=item9, mood_reviews=reviews)
    history = replace(history, visits=(flagged, *history.visits))
    assert codes(evaluate(history, on)) == expected


@pytest.mark.parametrize("on", BOTH_RULE_SETS)
def test_an_unreviewed_visit_before_the_cycle_still_blocks(on):
    history = treating_can_get_pregnant(on)
    flagged = visit(8, on - days(40), phq2=4, phq9=14, phq9_item9=1)
    blockers = evaluate(replace(history, visits=(flagged, *history.visits)), on)
    assert codes(blockers) == ["mood_review_required"]
    assert str((on - days(40)).year) in blockers[0].message


# pregnancy_test_positive


@pytest.mark.parametrize(
    ("collected_offset", "superseded_offset", "expected"),
    [
        (-1, None, ["pregnancy_test_positive"]),
        (0, None, ["pregnancy_test_positive"]),
        (1, None, []),
        (-3, -1, []),
        (-3, 0, []),
        (-3, 1, ["pregnancy_test_positive"]),
    ],
)
@pytest.mark.parametrize(("builder", "on"), EVERY_PATIENT)
def test_a_positive_test_blocks_until_a_clinician_supersedes_it(
    builder, on, collected_offset, superseded_offset, expected
):
    history = builder(on)
    positive = pregnancy_test(
        99,
        "monthly",
        on + days(collected_offset),
        result="positive",
        superseded_on=None if superseded_offset is None else on + days(superseded_offset),
    )
    history = replace(history, pregnancy_tests=(*history.pregnancy_tests, positive))
    blockers = evaluate(history, on)
    assert codes(blockers) == expected
    assert all(b.until is None for b in blockers)


# course_ended


@pytest.mark.parametrize(
    ("last_dose_offset", "expected"),
    [(-1, ["course_ended"]), (0, ["course_ended"]), (1, [])],
)
@pytest.mark.parametrize(("builder", "on"), EVERY_PATIENT)
def test_a_course_with_a_last_dose_on_or_before_the_day_has_ended(
    builder, on, last_dose_offset, expected
):
    history = replace(builder(on), last_dose_on=on + days(last_dose_offset))
    assert codes(evaluate(history, on)) == expected


def test_blockers_come_in_the_stable_order_of_the_domain():
    on = RS2021_DAY
    history = replace(
        ready_can_get_pregnant(on),
        consents=(),
        labs=(),
        visits=(),
        contraception=(),
        pregnancy_tests=(pregnancy_test(5, "monthly", on, result="positive"),),
        last_dose_on=on,
    )
    assert codes(evaluate(history, on)) == [
        "consent_missing",
        "baseline_labs_missing",
        "visit_missing",
        "counseling_unconfirmed",
        "pregnancy_test_positive",
        "course_ended",
        "screening_test_missing",
        "confirmation_test_missing",
        "pregnancy_test_missing",
        "contraception_unconfirmed",
        "comprehension_incomplete",
    ]
