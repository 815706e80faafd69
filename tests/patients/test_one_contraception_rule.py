"""One rule for a valid contraception confirmation (docs/domain.md section 4), everywhere: the
staff form, the patient's own page and the gate give the same answer the same verdict, because
all three ask the rules engine's one check. The patient is told in plain words what is missing,
and their answer is kept all the same (the staff decide). Today's row says what the patient
reported."""

import re

import pytest
from django.urls import reverse
from django.utils import translation

import rules
from monitoring.history import load_history
from monitoring.kept import refresh_patient
from monitoring.models import Visit
from monitoring.reminders import signing
from patients.models import ContraceptionConfirmation, Source
from tests.builders import Builder, no_contraception
from tests.triage import kept_row

# (methods, abstinence, counts?) at the rule's edges.
ANSWERS = [
    pytest.param(["iud", "male_condom"], False, True, id="primary+secondary"),
    pytest.param(["iud", "implant"], False, True, id="two-primary"),
    pytest.param([], True, True, id="abstinence"),
    pytest.param(["male_condom"], True, True, id="abstinence-with-one-method"),
    pytest.param(["male_condom"], False, False, id="one-secondary"),
    pytest.param(["iud"], False, False, id="one-primary"),
    pytest.param(["male_condom", "vaginal_sponge"], False, False, id="two-secondary"),
    pytest.param(["iud", "progestin_only_pill"], False, False, id="primary+progestin-only"),
    pytest.param(["progestin_only_pill"], False, False, id="progestin-only"),
]


@pytest.fixture
def builder(clinic, clinician, staff):
    return Builder(clinic, clinician, staff, clinic.today())


def _text(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


def _patient_page(client, patient) -> str:
    response = client.get(reverse("self_service:page", args=[signing.page_token(patient)]))
    assert response.status_code == 200
    return _text(response)


def _patient_answers(client, patient, methods, abstinence):
    data = {"methods": methods}
    if abstinence:
        data["abstinence"] = "on"
    return client.post(
        reverse("self_service:contraception", args=[signing.page_token(patient)]), data
    )


def _staff_form_warns(client, patient, methods, abstinence, today) -> bool:
    data = {"confirmed_on": today.isoformat(), "methods": methods}
    if abstinence:
        data["abstinence"] = "on"
    response = client.post(reverse("patients:contraception_create", args=[patient.pk]), data)
    if response.status_code == 302:
        return False
    assert 'id="form-warnings"' in response.content.decode(), _text(response)
    return True


def _gate_counts(patient, methods, abstinence, on) -> bool:
    """The gate's verdict on a staff confirmation of this answer today."""
    ContraceptionConfirmation.objects.create(
        patient=patient,
        confirmed_on=on,
        source=Source.STAFF,
        methods=sorted(methods),
        abstinence=abstinence,
    )
    blockers = rules.evaluate(load_history(patient)[1], on)
    return rules.constants.CONTRACEPTION_UNCONFIRMED not in {b.code for b in blockers}


@pytest.mark.parametrize(("methods", "abstinence", "counts"), ANSWERS)
def test_the_same_answer_gets_the_same_verdict_on_the_staff_form_the_patient_page_and_the_gate(
    client, client_for, clinic, staff, builder, methods, abstinence, counts
):
    today = clinic.today()
    at_home = builder.enroll(mrn="HOME-1")
    no_contraception(builder, at_home)
    _patient_answers(client, at_home, methods, abstinence)
    page = _patient_page(client, at_home)
    assert ("Done: you confirmed your birth control" in page) is counts
    assert ("is not enough yet" in page) is not counts
    # What the patient said is kept, whatever the verdict (the staff decide).
    kept = ContraceptionConfirmation.objects.get(patient=at_home, source=Source.PATIENT)
    assert (sorted(kept.methods), kept.abstinence) == (sorted(methods), abstinence)

    client_for(staff)
    at_desk = builder.enroll(mrn="DESK-1")
    assert _staff_form_warns(client, at_desk, methods, abstinence, today) is not counts

    at_gate = builder.enroll(mrn="GATE-1")
    no_contraception(builder, at_gate)
    assert _gate_counts(at_gate, methods, abstinence, today) is counts


def test_one_method_is_kept_and_the_patient_is_told_what_is_missing(client, patient, builder):
    no_contraception(builder, patient)
    response = _patient_answers(client, patient, ["male_condom"], False)
    assert response.status_code == 302
    page = _patient_page(client, patient)
    assert "We have kept your answer, but it is not enough yet." in page
    assert "you told us you use: Male condom." in page
    assert "You ticked only one method that counts." in page
    assert "at least one of them a main method, or abstinence" in page
    assert "Confirm your two forms of birth control" in page  # still needed
    assert "Thank you" not in page and "Done:" not in page


@pytest.mark.parametrize(
    ("methods", "words"),
    [
        (["progestin_only_pill"], "None of the methods you ticked counts"),
        (["male_condom", "diaphragm_with_spermicide"], "None of the methods you ticked is a main"),
    ],
)
def test_the_page_names_each_way_an_answer_falls_short(client, patient, builder, methods, words):
    no_contraception(builder, patient)
    _patient_answers(client, patient, methods, False)
    assert words in _patient_page(client, patient)


def test_a_spanish_reader_is_told_in_spanish(client, patient, builder):
    patient.preferred_language = "es"
    patient.save()
    no_contraception(builder, patient)
    _patient_answers(client, patient, ["male_condom"], False)
    page = _patient_page(client, patient)
    assert "Marcó solo un método que cuenta." in page
    assert "Condón masculino" in page or "Preservativo masculino" in page
    assert "al menos uno de ellos principal" in page
    assert "not enough" not in page


def test_the_patient_form_groups_the_methods_as_the_rule_counts_them(client, patient, builder):
    no_contraception(builder, patient)
    page = _patient_page(client, patient)
    main = page.index("Main methods (at least one is needed)")
    other = page.index("Other methods (only with a main method)")
    never = page.index("Does not count")
    assert main < page.index("Implant") < other < page.index("Male condom") < never


def test_todays_row_says_what_the_patient_reported(client, clinic, patient, builder):
    """Staff have not confirmed this cycle; the patient said one method: Today's "why" names it
    and what it lacks (the blocker's sentence, kept on the triage row)."""
    no_contraception(builder, patient)
    _patient_answers(client, patient, ["male_condom"], False)
    refresh_patient(patient)
    row = kept_row(patient)
    assert row.step == rules.constants.CONTRACEPTION_UNCONFIRMED
    assert (
        f"The patient reported male condom on {rules.text.day(clinic.today())} "
        "(only one method that counts)." in row.what
    )


def test_a_mismatch_names_the_patients_methods_in_words(clinic, patient, builder):
    no_contraception(builder, patient)
    builder.contraception(patient, on=0, started=-70)  # staff: IUD and male condom
    builder.contraception(
        patient, on=0, started=-70, source="patient", methods=("partner_vasectomy",)
    )
    blockers = rules.evaluate(load_history(patient)[1], clinic.today())
    (mismatch,) = [b for b in blockers if b.code == rules.constants.CONTRACEPTION_MISMATCH]
    assert mismatch.message.startswith(
        "The patient reported partner's vasectomy on "
        f"{rules.text.day(clinic.today())} (only one method that counts), but staff recorded "
        "IUD and male condom"
    )


def test_spanish_words_exist_for_every_shortfall():
    from monitoring.self_service import SHORTFALL_WORDS

    assert set(SHORTFALL_WORDS) == set(rules.constants.CONTRACEPTION_SHORTFALLS)
    for words in SHORTFALL_WORDS.values():
        with translation.override("en"):
            english = str(words)
        with translation.override("es"):
            assert str(words) != english


def test_todays_row_keeps_a_mismatch_when_another_step_comes_first(clinic, patient, builder):
    """The patient's differing answer is on the row whatever its first step: here the first
    step is another blocker, and the row still says what the patient reported."""
    no_contraception(builder, patient)
    builder.contraception(patient, on=0, started=-70)  # staff: IUD and male condom
    builder.contraception(
        patient, on=0, started=-70, source="patient", methods=("partner_vasectomy",)
    )
    Visit.objects.filter(patient=patient).delete()  # a step before the mismatch: no visit
    refresh_patient(patient)
    row = kept_row(patient)
    assert row.step != rules.constants.CONTRACEPTION_MISMATCH
    assert "The patient reported partner's vasectomy" in row.what
