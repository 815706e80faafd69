"""The prescription gate through the API: 201, 409 with the engine's blocker codes, 400s."""

import pytest

from monitoring.models import Prescription
from tests.api.conftest import database_state, day
from tests.builders import ready_first_prescription
from tests.factories import enroll


def prescribe(client, patient, **body):
    return client.post(f"/api/v1/patients/{patient.pk}/prescriptions/", body, format="json")


def test_a_newly_enrolled_patient_is_refused_with_409_and_every_blocker(
    api, clinician, patient, today
):
    before = database_state()
    response = prescribe(
        api(clinician), patient, written_on=day(today, 0), daily_dose_mg="40", days_supply=30
    )
    assert response.status_code == 409
    assert [b["code"] for b in response.json()["blockers"]] == [
        "consent_missing",
        "baseline_labs_missing",
        "visit_missing",
        "counseling_unconfirmed",
        "screening_test_missing",
        "confirmation_test_missing",
        "pregnancy_test_missing",
        "contraception_unconfirmed",
        "comprehension_incomplete",
    ]
    assert all(set(b) == {"code", "message", "until"} for b in response.json()["blockers"])
    assert database_state() == before


def test_a_patient_who_cannot_get_pregnant_has_only_the_blockers_for_everyone(
    api, clinician, clinic, today
):
    patient = enroll(clinic, risk_category="cannot_get_pregnant")
    response = prescribe(
        api(clinician), patient, written_on=day(today, 0), daily_dose_mg="40", days_supply=30
    )
    assert response.status_code == 409
    assert [b["code"] for b in response.json()["blockers"]] == [
        "consent_missing",
        "baseline_labs_missing",
        "visit_missing",
        "counseling_unconfirmed",
    ]


def test_a_ready_patient_gets_a_201_with_the_id(api, clinician, builder, patient, today):
    ready_first_prescription(builder, patient)
    response = prescribe(
        api(clinician), patient, written_on=day(today, 0), daily_dose_mg="40", days_supply=30
    )
    assert response.status_code == 201
    prescription = Prescription.objects.get(pk=response.json()["id"])
    assert prescription.patient == patient
    assert prescription.recorded_by == clinician
    assert response.json()["days_supply"] == 30


def test_a_positive_test_refuses_until_a_clinician_supersedes_it(
    api, clinician, builder, patient, today
):
    ready_first_prescription(builder, patient)
    positive = builder.test(patient, "monthly", 0, result="positive")
    client = api(clinician)
    body = {"written_on": day(today, 0), "daily_dose_mg": "40", "days_supply": 30}
    refused = prescribe(client, patient, **body)
    assert refused.status_code == 409
    assert [b["code"] for b in refused.json()["blockers"]] == ["pregnancy_test_positive"]
    supersede_url = f"/api/v1/pregnancy-tests/{positive.pk}/supersede/"
    assert client.post(supersede_url, {"reason": "Lab error."}, format="json").status_code == 200
    assert prescribe(client, patient, **body).status_code == 201


def test_the_window_closes_six_days_after_the_confirmation_test(
    api, clinician, builder, patient, today
):
    """Confirmation collected 6 days ago: today is the last day; one more day and it is gone."""
    ready_first_prescription(builder, patient, confirmation_on=-6)
    status = api(clinician).get(f"/api/v1/patients/{patient.pk}/status/").json()
    assert status["window"] == {"opens_on": day(today, -6), "closes_on": day(today, 0)}
    assert status["can_prescribe"] is True
    ready = enroll(patient.clinic)
    ready_first_prescription(builder, ready, confirmation_on=-7)
    response = prescribe(
        api(clinician), ready, written_on=day(today, 0), daily_dose_mg="40", days_supply=30
    )
    assert response.status_code == 409
    assert [b["code"] for b in response.json()["blockers"]] == ["pregnancy_test_missing"]


@pytest.mark.parametrize(
    ("field", "body"),
    [
        ("daily_dose_mg", {"daily_dose_mg": "120.1", "days_supply": 30}),  # 2 mg/kg of 60 kg
        ("daily_dose_mg", {"daily_dose_mg": "0", "days_supply": 30}),
        ("daily_dose_mg", {"daily_dose_mg": "40.05", "days_supply": 30}),
        ("daily_dose_mg", {"daily_dose_mg": "1e400", "days_supply": 30}),
        ("days_supply", {"daily_dose_mg": "40", "days_supply": 31}),
        ("days_supply", {"daily_dose_mg": "40", "days_supply": 0}),
        ("days_supply", {"daily_dose_mg": "40", "days_supply": 10**30}),
        ("days_supply", {"daily_dose_mg": "40", "days_supply": 2.5}),
        ("written_on", {"daily_dose_mg": "40", "days_supply": 30, "written_on": "TOMORROW"}),
    ],
)
def test_invalid_prescription_input_is_a_400_not_a_blocker(
    api, clinician, builder, patient, today, field, body
):
    ready_first_prescription(builder, patient)
    body = {"written_on": day(today, 0), **body}
    if body["written_on"] == "TOMORROW":
        body["written_on"] = day(today, 1)
    before = database_state()
    response = prescribe(api(clinician), patient, **body)
    assert response.status_code == 400
    assert list(response.json()) == [field]
    assert database_state() == before


def test_a_dose_of_exactly_2_mg_per_kg_is_accepted(api, clinician, builder, patient, today):
    ready_first_prescription(builder, patient)
    response = prescribe(
        api(clinician), patient, written_on=day(today, 0), daily_dose_mg="120.0", days_supply=1
    )
    assert response.status_code == 201
