"""The patient's page says what is theirs to do now, and only that: no "confirm your two forms"
once they have, no "must be picked up by" before a prescription exists, and when the clinic
needs to talk with them, a plain reason without clinical detail and the clinic's phone."""

import re

import pytest
from django.urls import reverse

from monitoring.reminders import signing
from tests.builders import (
    Builder,
    mismatch,
    mood_review,
    no_contraception,
    positive_test,
    ready_first_prescription,
)


@pytest.fixture
def builder(clinic, clinician, staff):
    clinic.contact_phone = "555-0142"
    clinic.save()
    return Builder(clinic, clinician, staff, clinic.today())


def _page(client, patient) -> str:
    response = client.get(reverse("self_service:page", args=[signing.page_token(patient)]))
    assert response.status_code == 200
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


def test_confirming_contraception_takes_it_off_needed_now(client, patient, builder):
    no_contraception(builder, patient)
    before = _page(client, patient)
    assert "Confirm your two forms of birth control" in before
    response = client.post(
        reverse("self_service:contraception", args=[signing.page_token(patient)]),
        {"methods": ["iud", "male_condom"]},
    )
    assert response.status_code == 302
    after = _page(client, patient)
    assert "Confirm your two forms of birth control" not in after
    assert "Done: you confirmed your birth control" in after


def test_no_pick_up_deadline_before_a_prescription_is_written(client, patient, builder):
    ready_first_prescription(builder, patient, confirmation_on=-1)
    text = _page(client, patient)
    assert "must be picked up by" not in text
    assert "can be picked up until" in text and "once the clinic has written it" in text


def test_a_written_prescription_must_be_picked_up_by_the_last_day(client, patient, builder):
    ready_first_prescription(builder, patient, confirmation_on=-1)
    builder.prescribe(patient, 0)
    text = _page(client, patient)
    assert "Your prescription must be picked up by" in text


@pytest.mark.parametrize("state", [positive_test, mood_review])
def test_the_clinic_needs_to_talk_gives_the_phone_and_no_clinical_detail(
    client, patient, builder, state
):
    state(builder, patient)
    text = _page(client, patient)
    assert "Please call the clinic" in text
    assert "555-0142" in text
    assert "go over your treatment with you before the next prescription" in text
    talk = text.split("Please call the clinic")[1].split("Needed now")[0]
    for word in ("positive", "pregnan", "mood", "PHQ", "self-harm", "result"):
        assert word.lower() not in talk.lower()


def test_a_mismatch_says_why_in_plain_words(client, patient, builder):
    mismatch(builder, patient)
    text = _page(client, patient)
    assert "not the same as what the clinic has on record" in text
    assert "555-0142" in text


def test_without_a_phone_the_page_gives_the_email(client, clinic, patient, builder):
    positive_test(builder, patient)
    clinic.contact_phone, clinic.contact_email = "", "desk@example.org"
    clinic.save()
    text = _page(client, patient)
    assert "Write to" in text and "desk@example.org" in text
