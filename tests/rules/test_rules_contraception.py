"""Contraception validity and the contraception and comprehension blockers."""

from dataclasses import replace

import pytest

from rules import contraception_is_valid, contraception_warnings, evaluate
from tests.rules.builders import (
    BOTH_RULE_SETS,
    RS2021_DAY,
    codes,
    days,
    patient_confirmation,
    ready_can_get_pregnant,
    ready_cannot_get_pregnant,
    staff_confirmation,
    treating_can_get_pregnant,
    visit,
)


@pytest.mark.parametrize(
    ("methods", "abstinence", "valid"),
    [
        ((), True, True),
        (("progestin_only_pill",), True, True),
        ((), False, False),
        (("iud",), False, False),
        (("iud", "male_condom"), False, True),
        (("implant", "combined_oral_contraceptive"), False, True),  # two primary
        (("male_condom", "diaphragm_with_spermicide"), False, False),  # no primary
        (("iud", "iud"), False, False),  # not two distinct
        (("iud", "progestin_only_pill"), False, False),  # progestin-only never counts
        (("progestin_only_pill", "male_condom"), False, False),
        (("iud", "male_condom", "progestin_only_pill"), False, True),
        (("iud", "made_up_method"), False, False),  # unknown codes never count
        (
            ("tubal_sterilization", "partner_vasectomy", "transdermal_patch", "injectable"),
            False,
            True,
        ),
        (("vaginal_ring", "vaginal_sponge"), False, True),
        (("cervical_cap_with_spermicide", "combined_oral_contraceptive"), False, True),
    ],
)
def test_contraception_is_valid_with_abstinence_or_two_distinct_methods_one_primary(
    methods, abstinence, valid
):
    assert contraception_is_valid(list(methods), abstinence) is valid
    assert contraception_is_valid(frozenset(methods), abstinence) is valid


def test_contraception_warnings_name_the_progestin_only_pill_and_unknown_codes():
    assert contraception_warnings({"iud", "male_condom"}) == ()
    assert [w.code for w in contraception_warnings({"iud", "progestin_only_pill"})] == [
        "progestin_only_pill"
    ]
    (unknown,) = contraception_warnings({"iud", "zzz", "aaa"})
    assert unknown.code == "unknown_contraception_method"
    assert "aaa and zzz" in unknown.message


# contraception_unconfirmed: a valid staff-sourced confirmation in the cycle (on - 29 .. on)


@pytest.mark.parametrize(
    ("confirmed_offset", "expected"),
    [
        (-30, ["contraception_unconfirmed"]),
        (-29, []),
        (0, []),
        (1, ["contraception_unconfirmed"]),
    ],
)
@pytest.mark.parametrize("builder", [ready_can_get_pregnant, treating_can_get_pregnant])
@pytest.mark.parametrize("on", BOTH_RULE_SETS)
def test_staff_confirm_contraception_in_every_cycle(builder, on, confirmed_offset, expected):
    confirmation = staff_confirmation(1, on + days(confirmed_offset), started_on=on - days(90))
    history = replace(builder(on), contraception=(confirmation,))
    blockers = evaluate(history, on)
    assert codes(blockers) == expected
    if blockers:
        since = on - days(29)
        assert blockers[0].message == (
            "Staff have not confirmed two valid forms of contraception (or abstinence) since "
            f"{since:%b} {since.day}, {since.year}."
        )


@pytest.mark.parametrize(
    ("confirmation", "expected"),
    [
        ({"methods": ("iud",)}, ["contraception_unconfirmed"]),
        ({"methods": ("progestin_only_pill", "male_condom")}, ["contraception_unconfirmed"]),
        ({"methods": (), "abstinence": True}, []),
        ({"source": "patient"}, ["contraception_unconfirmed"]),
    ],
)
@pytest.mark.parametrize("on", BOTH_RULE_SETS)
def test_only_a_valid_staff_confirmation_counts(on, confirmation, expected):
    history = treating_can_get_pregnant(on)
    record = staff_confirmation(5, on - days(1), **confirmation)
    history = replace(history, contraception=(history.contraception[0], record))
    assert codes(evaluate(history, on)) == expected


@pytest.mark.parametrize("on", BOTH_RULE_SETS)
def test_the_cycle_starts_after_the_previous_prescription(on):
    history = treating_can_get_pregnant(on)
    rewritten = replace(history.prescriptions[0], id=2, written_on=on - days(5), dispensed_on=None)
    history = replace(history, prescriptions=(*history.prescriptions, rewritten))
    # The staff confirmation on - 3 is still in the cycle (on - 4 .. on); the visit on - 2 too.
    assert evaluate(history, on) == ()
    moved = replace(history.contraception[-1], confirmed_on=on - days(5))
    history = replace(history, contraception=(history.contraception[0], moved))
    assert codes(evaluate(history, on)) == ["contraception_unconfirmed"]


def test_patients_who_cannot_get_pregnant_confirm_no_contraception():
    on = RS2021_DAY
    assert evaluate(replace(ready_cannot_get_pregnant(on), contraception=()), on) == ()


# contraception_mismatch


@pytest.mark.parametrize(
    ("reported", "expected"),
    [
        ({}, []),
        ({"methods": ("male_condom", "iud")}, []),  # order does not matter
        ({"methods": ("iud",)}, ["contraception_mismatch"]),
        ({"methods": ("implant", "male_condom")}, ["contraception_mismatch"]),
        ({"abstinence": True}, ["contraception_mismatch"]),
    ],
)
@pytest.mark.parametrize("builder", [ready_can_get_pregnant, treating_can_get_pregnant])
@pytest.mark.parametrize("on", BOTH_RULE_SETS)
def test_a_patient_report_that_differs_from_staff_blocks(builder, on, reported, expected):
    history = builder(on)
    report = patient_confirmation(9, on - days(1), **reported)
    history = replace(history, contraception=(*history.contraception, report))
    assert codes(evaluate(history, on)) == expected


@pytest.mark.parametrize(
    ("reported_offset", "expected"),
    [(-30, []), (-29, ["contraception_mismatch"]), (0, ["contraception_mismatch"]), (1, [])],
)
@pytest.mark.parametrize("on", BOTH_RULE_SETS)
def test_only_a_patient_report_in_the_cycle_is_compared(on, reported_offset, expected):
    history = ready_can_get_pregnant(on)
    report = patient_confirmation(9, on + days(reported_offset), methods=("iud",))
    history = replace(history, contraception=(*history.contraception, report))
    blockers = evaluate(history, on)
    assert codes(blockers) == expected
    if blockers:
        assert blockers[0].message.startswith("The patient reported IUD on ")
        assert "but staff recorded IUD and male condom on" in blockers[0].message


@pytest.mark.parametrize(
    ("correction_offset", "expected"), [(0, []), (1, ["contraception_mismatch"])]
)
def test_a_staff_correction_on_or_before_the_day_settles_a_mismatch(correction_offset, expected):
    on = RS2021_DAY
    history = ready_can_get_pregnant(on)
    report = patient_confirmation(9, on - days(2), methods=("implant", "male_condom"))
    correction = staff_confirmation(
        10,
        on + days(correction_offset),
        methods=("implant", "male_condom"),
        started_on=on - days(70),
    )
    history = replace(history, contraception=(*history.contraception, report, correction))
    assert codes(evaluate(history, on)) == expected


# comprehension_incomplete


@pytest.mark.parametrize(
    ("reported_offset", "expected"),
    [
        (None, ["comprehension_incomplete"]),
        (-30, ["comprehension_incomplete"]),
        (-29, []),
        (0, []),
        (1, ["comprehension_incomplete"]),
    ],
)
@pytest.mark.parametrize("builder", [ready_can_get_pregnant, treating_can_get_pregnant])
@pytest.mark.parametrize("on", BOTH_RULE_SETS)
def test_the_monthly_questions_are_done_at_a_visit_or_reported_by_the_patient_in_the_cycle(
    builder, on, reported_offset, expected
):
    history = builder(on)
    history = replace(
        history,
        visits=tuple(replace(v, comprehension_completed=False) for v in history.visits),
        comprehension_reported_on=() if reported_offset is None else (on + days(reported_offset),),
    )
    assert codes(evaluate(history, on)) == expected


@pytest.mark.parametrize(
    ("visit_offset", "expected"), [(-30, ["comprehension_incomplete"]), (-29, []), (0, [])]
)
def test_comprehension_completed_at_a_visit_in_the_cycle_counts(visit_offset, expected):
    on = RS2021_DAY
    history = treating_can_get_pregnant(on)
    questions = visit(5, on + days(visit_offset), counseling_confirmed=False)
    others = tuple(replace(v, comprehension_completed=False) for v in history.visits)
    history = replace(history, visits=(*others, questions))
    assert codes(evaluate(history, on)) == expected


@pytest.mark.parametrize("on", BOTH_RULE_SETS)
def test_patients_who_cannot_get_pregnant_answer_no_monthly_questions(on):
    history = ready_cannot_get_pregnant(on)
    history = replace(
        history, visits=tuple(replace(v, comprehension_completed=False) for v in history.visits)
    )
    assert evaluate(history, on) == ()
