"""Property-based bad input to every record page: never a 500; a refusal saves nothing
(docs/quality.md B1, B2, B3 for the pages; the API has its own in tests/api)."""

import datetime

import pytest
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitoring.models import LabResult, Prescription, Visit
from patients.models import Consent, ContraceptionConfirmation, Patient, PregnancyTest
from tests.auth import verified_login

NASTY = st.sampled_from(
    [
        "",
        "0",
        "-1",
        "1e309",
        "NaN",
        "99999999999999999999999",
        "2026-02-30",
        "0001-01-01",
        "9999-12-31",
        "<script>alert(1)</script>",
        "{{ 7*7 }}",
        "a\r\nBcc: x@example.org",
        "\u202eevil",
        "x\x00y",
        "x" * 5000,
        "staff",
        "home",
        "positive",
    ]
)
VALUE = st.one_of(NASTY, st.text(max_size=40))

FIELDS = [
    "mrn",
    "given_name",
    "family_name",
    "birth_date",
    "email",
    "weight_kg",
    "risk_category",
    "risk_category_reason",
    "enrolled_on",
    "target_mg_per_kg",
    "kind",
    "signed_on",
    "confirmed_on",
    "methods",
    "abstinence",
    "started_on",
    "collected_on",
    "result",
    "setting",
    "clia_lab",
    "method",
    "value",
    "unit",
    "visited_on",
    "phq2",
    "phq9",
    "phq9_item9",
    "missed_dose_days",
    "next_visit_on",
    "notes",
    "written_on",
    "daily_dose_mg",
    "days_supply",
    "reason",
    "changed_on",
    "last_dose_on",
    "se_dry_lips",
    "reconfirm_contraception",
]
BODY = st.dictionaries(st.sampled_from(FIELDS), VALUE, max_size=12)

PAGES = [
    "patients:create",
    "patients:edit",
    "patients:risk_category",
    "patients:consent_create",
    "patients:contraception_create",
    "patients:test_create",
    "monitoring:lab_create",
    "monitoring:visit_create",
    "monitoring:prescription_create",
    "monitoring:end_treatment",
]
MODELS = [
    Patient,
    Consent,
    ContraceptionConfirmation,
    PregnancyTest,
    LabResult,
    Visit,
    Prescription,
]


def counts():
    return [model.objects.count() for model in MODELS]


@pytest.mark.parametrize("url_name", PAGES)
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=BODY)
def test_no_bad_input_gives_a_server_error_and_a_refusal_saves_nothing(
    client, clinician, patient, url_name, body
):
    verified_login(client, clinician)
    url = (
        reverse(url_name) if url_name == "patients:create" else reverse(url_name, args=[patient.pk])
    )
    before = counts()
    response = client.post(url, body)
    assert response.status_code in (200, 302), (response.status_code, body)
    if response.status_code == 200:
        assert counts() == before, body
        assert response.context["form"].errors, body


def test_markup_in_a_name_is_shown_as_text(client, clinician, clinic):
    from tests.factories import enroll

    patient = enroll(clinic, given_name="<script>alert(1)</script>", family_name="{{ 7*7 }}")
    verified_login(client, clinician)
    page = client.get(patient.get_absolute_url()).content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "{{ 7*7 }}" in page and "49" not in page.split("{{ 7*7 }}")[0][-20:]


def test_an_oversized_body_is_refused_without_a_server_error(client, clinician, patient):
    verified_login(client, clinician)
    response = client.post(
        reverse("monitoring:visit_create", args=[patient.pk]),
        {f"field{i}": "x" for i in range(2000)},
    )
    assert response.status_code == 400
    assert not Visit.objects.exists()


def test_an_end_of_treatment_before_enrollment_names_the_field(client, clinician, patient):
    verified_login(client, clinician)
    before = (patient.enrolled_on - datetime.timedelta(days=1)).isoformat()
    response = client.post(
        reverse("monitoring:end_treatment", args=[patient.pk]), {"last_dose_on": before}
    )
    assert "last_dose_on" in response.context["form"].errors
    assert patient.courses.get().last_dose_on is None
