"""The registry of contraception methods (rules/contraception_methods.py): every method
the database takes has one entry with every column, and the readers -- the model's choices, the
rules' tiers and sentences, the staff and patient forms, the iPLEDGE sheet -- read it."""

from datetime import date

import pytest
from django.utils import translation

import rules
from monitoring import self_service
from patients.forms import GROUPED_METHOD_CHOICES
from patients.models import ContraceptionMethod
from rules import constants
from rules.contraception_methods import (
    CONTRACEPTION_METHODS,
    PRIMARY,
    SECONDARY,
    TIERS,
    UNACCEPTABLE,
)

CODES = ContraceptionMethod.values


def test_the_registry_holds_exactly_the_methods_the_model_takes_in_its_order():
    assert list(CONTRACEPTION_METHODS) == CODES


@pytest.mark.parametrize("code", CODES)
def test_every_method_has_a_label_words_a_tier_and_an_ipledge_name_if_it_counts(code):
    method = CONTRACEPTION_METHODS[code]
    assert method.code == code
    assert ContraceptionMethod(code).label == method.label and method.label[0].isupper()
    assert method.words and method.words.strip() == method.words
    assert method.tier in TIERS
    if method.counts:
        assert method.ipledge_name
    else:
        assert method.ipledge_name is None  # never entered in iPLEDGE


def test_the_tiers_are_those_of_the_program():
    # docs/domain.md section 4.
    assert constants.PRIMARY_METHODS == {
        "tubal_sterilization",
        "partner_vasectomy",
        "iud",
        "combined_oral_contraceptive",
        "transdermal_patch",
        "injectable",
        "implant",
        "vaginal_ring",
    }
    assert constants.SECONDARY_METHODS == {
        "male_condom",
        "diaphragm_with_spermicide",
        "cervical_cap_with_spermicide",
        "vaginal_sponge",
    }
    assert constants.UNACCEPTABLE_METHODS == {"progestin_only_pill"}
    assert {m.tier for m in CONTRACEPTION_METHODS.values()} == {PRIMARY, SECONDARY, UNACCEPTABLE}


def test_each_ipledge_name_names_one_method():
    names = [m.ipledge_name for m in CONTRACEPTION_METHODS.values() if m.counts]
    assert len(set(names)) == len(names)


@pytest.mark.parametrize("code", CODES)
def test_a_staff_sentence_names_each_method_in_its_words(code):
    confirmation = rules.ContraceptionConfirmation(
        id=1,
        confirmed_on=date(2026, 12, 3),
        source="staff",
        methods=frozenset({code}),
        abstinence=False,
        started_on=None,
    )
    assert rules.contraception.describe(confirmation) == CONTRACEPTION_METHODS[code].words


def test_the_staff_form_and_the_patient_s_form_offer_every_method_once_by_tier():
    staff = [code for _tier, choices in GROUPED_METHOD_CHOICES for code, _label in choices]
    patient_form = self_service.ContraceptionForm()
    patient = [
        code for _tier, choices in patient_form.fields["methods"].choices for code, _ in choices
    ]
    assert sorted(staff) == sorted(patient) == sorted(CODES)


@pytest.mark.parametrize("code", CODES)
def test_the_patient_reads_each_method_in_their_language(code):
    with translation.override("es"):
        spanish = self_service.method_words(code)
    assert spanish and spanish != CONTRACEPTION_METHODS[code].label
