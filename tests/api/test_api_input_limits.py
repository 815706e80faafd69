"""Input that cannot lie, through the API (docs/domain.md section 4): a note or reason past its
limit is a 400 naming the field and the limit; a lab value far outside what labs report needs
`confirm_unusual: true` (else a 400 naming `value`); IU/L is stored as U/L; an RMA number has
iPLEDGE's shape. Nothing is saved by a refused request."""

import pytest

from clinic.notes import NOTE_MAX_LENGTH, REASON_MAX_LENGTH
from monitoring.models import LabResult
from tests.api.conftest import database_state, day
from tests.builders import ready_first_prescription


def post(client, url, body):
    return client.post(url, body, format="json")


def refused(response, field: str, before: dict) -> str:
    assert response.status_code == 400, response.content
    assert database_state() == before
    return " ".join(response.json()[field])


# Notes and reasons --------------------------------------------------------------------------


def test_visit_notes_at_the_limit_are_kept_whole_and_one_over_is_a_400(
    api, clinician, patient, today
):
    url = f"/api/v1/patients/{patient.pk}/visits/"
    body = {"visited_on": day(today, 0), "phq2": 0}
    before = database_state()
    over = post(api(clinician), url, {**body, "notes": "n" * (NOTE_MAX_LENGTH + 1)})
    assert "At most 4,000 characters" in refused(over, "notes", before)
    at = post(api(clinician), url, {**body, "notes": "n" * NOTE_MAX_LENGTH})
    assert at.status_code == 201
    assert at.json()["notes"] == "n" * NOTE_MAX_LENGTH


def test_a_mood_review_note_one_over_is_a_400(api, clinician, builder, patient, today):
    visit = builder.visit(patient, -1, phq2=4, phq9=12, item9=1)
    before = database_state()
    response = post(
        api(clinician),
        f"/api/v1/visits/{visit.pk}/mood-review/",
        {"reviewed_on": day(today, 0), "note": "r" * (NOTE_MAX_LENGTH + 1)},
    )
    assert "At most 4,000 characters" in refused(response, "note", before)


def test_a_supersede_reason_one_over_is_a_400_and_at_the_limit_a_200(
    api, clinician, builder, patient
):
    test = builder.test(patient, "screening", -5, result="positive")
    url = f"/api/v1/pregnancy-tests/{test.pk}/supersede/"
    before = database_state()
    over = post(api(clinician), url, {"reason": "r" * (REASON_MAX_LENGTH + 1)})
    assert "At most 300 characters" in refused(over, "reason", before)
    at = post(api(clinician), url, {"reason": "r" * REASON_MAX_LENGTH})
    assert at.status_code == 200
    assert at.json()["superseded_reason"] == "r" * REASON_MAX_LENGTH


def test_a_risk_category_reason_one_over_is_a_400(api, clinician, patient, today):
    before = database_state()
    response = post(
        api(clinician),
        f"/api/v1/patients/{patient.pk}/risk-category/",
        {
            "risk_category": "cannot_get_pregnant",
            "changed_on": day(today, 0),
            "reason": "r" * (REASON_MAX_LENGTH + 1),
        },
    )
    assert "At most 300 characters" in refused(response, "reason", before)


# Labs ---------------------------------------------------------------------------------------


def lab(today, **changes) -> dict:
    return {
        "kind": "triglycerides",
        "collected_on": day(today, 0),
        "value": "150",
        "unit": "mg/dL",
        **changes,
    }


def test_triglycerides_of_2000_are_a_201_and_2001_a_400_naming_value(api, staff, patient, today):
    url = f"/api/v1/patients/{patient.pk}/labs/"
    assert post(api(staff), url, lab(today, value="2000")).status_code == 201
    before = database_state()
    message = refused(post(api(staff), url, lab(today, value="2001")), "value", before)
    assert "far above what labs report (up to 2,000 mg/dL)" in message
    assert "confirm" in message
    confirmed = post(api(staff), url, lab(today, value="2001", confirm_unusual=True))
    assert confirmed.status_code == 201
    assert confirmed.json()["value"] == "2001.00"
    assert "confirm_unusual" not in confirmed.json()


def test_mmol_per_litre_has_its_own_bounds(api, staff, patient, today):
    url = f"/api/v1/patients/{patient.pk}/labs/"
    before = database_state()
    # 150 is a mg/dL figure: in mmol/L it is far above anything labs report (22.6).
    response = post(api(staff), url, lab(today, value="150", unit="mmol/L"))
    assert "up to 22.6 mmol/L" in refused(response, "value", before)
    assert post(api(staff), url, lab(today, value="1.7", unit="mmol/L")).status_code == 201


@pytest.mark.parametrize("kind", ["alt", "ast"])
def test_iu_per_litre_is_stored_as_u_per_litre(api, staff, patient, today, kind):
    url = f"/api/v1/patients/{patient.pk}/labs/"
    response = post(api(staff), url, lab(today, kind=kind, value="28", unit="IU/L"))
    assert response.status_code == 201
    assert response.json()["unit"] == "U/L"
    assert LabResult.objects.get().unit == "U/L"


def test_the_schema_describes_confirm_unusual_and_the_units(api, staff):
    schema = api(staff).get("/api/v1/schema/?format=json").json()
    lab_in = schema["components"]["schemas"]["LabIn"]["properties"]
    assert lab_in["confirm_unusual"]["type"] == "boolean"
    assert "value" in lab_in["confirm_unusual"]["description"]
    assert "IU/L" in lab_in["unit"]["description"]
    post_labs = schema["paths"]["/api/v1/patients/{id}/labs/"]["post"]
    assert "confirm_unusual" in post_labs["description"]
    assert (
        "6 to 12 digits"
        in (
            schema["components"]["schemas"]["DispenseIn"]["properties"]["rma_number"]["description"]
        )
    )


# RMA numbers --------------------------------------------------------------------------------


@pytest.fixture
def prescription(builder, patient):
    ready_first_prescription(builder, patient)
    return builder.prescribe(patient, 0)


@pytest.mark.parametrize(
    ("typed", "stored"), [("123 456", "123456"), ("1234-5678-9012", "123456789012")]
)
def test_an_rma_number_of_digits_is_stored_as_digits(
    api, staff, prescription, today, typed, stored
):
    url = f"/api/v1/prescriptions/{prescription.pk}/dispense/"
    response = post(api(staff), url, {"dispensed_on": day(today, 0), "rma_number": typed})
    assert response.status_code == 200
    assert response.json()["rma_number"] == stored


@pytest.mark.parametrize("typed", ["12345", "1234567890123", "RMA-123456", "١٢٣٤٥٦"])
def test_an_rma_number_of_another_shape_is_a_400_naming_it(api, staff, prescription, today, typed):
    url = f"/api/v1/prescriptions/{prescription.pk}/dispense/"
    before = database_state()
    response = post(api(staff), url, {"dispensed_on": day(today, 0), "rma_number": typed})
    assert "6 to 12 digits" in refused(response, "rma_number", before)
