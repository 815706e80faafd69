"""A whole first month through the API only, with a real token: enroll, record every check,
prescribe, dispense, and read the dose back days later."""

import datetime

import time_machine
from django.utils import timezone

from monitoring.models import Prescription
from tests.auth import totp_code

PASSWORD = "correct-horse-battery"


def test_a_first_prescription_from_enrollment_to_dose_through_the_api(
    api, clinic, clinician, staff
):
    today = clinic.today()

    def on(offset: int) -> str:
        return (today + datetime.timedelta(days=offset)).isoformat()

    def client_for(user):
        token = (
            api()
            .post(
                "/api/v1/auth/token/",
                {"username": user.username, "password": PASSWORD, "otp": totp_code(user)},
                format="json",
            )
            .json()["token"]
        )
        return api(HTTP_AUTHORIZATION=f"Token {token}")

    desk, doctor = client_for(staff), client_for(clinician)

    def ok(client, path, body, expected=201):
        response = client.post(f"/api/v1/{path}", body, format="json")
        assert response.status_code == expected, (path, response.json())
        return response.json()

    patient = ok(
        desk,
        "patients/",
        {
            "mrn": "FLOW-1",
            "given_name": "Sam",
            "family_name": "Flowers",
            "birth_date": "1999-09-09",
            "email": "sam@example.org",
            "risk_category": "can_get_pregnant",
            "weight_kg": "60.0",
            "enrolled_on": on(-40),
        },
    )
    p = f"patients/{patient['id']}"
    for kind in ("patient_information", "birth_defects"):
        ok(desk, f"{p}/consents/", {"kind": kind, "signed_on": on(-40)})
    for kind, value, unit in (
        ("triglycerides", "110", "mg/dL"),
        ("total_cholesterol", "170", "mg/dL"),
        ("alt", "22", "U/L"),
    ):
        ok(
            desk,
            f"{p}/labs/",
            {"kind": kind, "collected_on": on(-12), "value": value, "unit": unit},
        )
    test = {"result": "negative", "setting": "medical", "clia_lab": True, "method": "serum"}
    ok(desk, f"{p}/pregnancy-tests/", {**test, "kind": "screening", "collected_on": on(-26)})
    ok(
        desk,
        f"{p}/contraception/",
        {
            "confirmed_on": on(-1),
            "source": "staff",
            "methods": ["iud", "male_condom"],
            "abstinence": False,
            "started_on": on(-70),  # may precede enrollment
        },
    )
    ok(desk, f"{p}/pregnancy-tests/", {**test, "kind": "confirmation", "collected_on": on(-1)})
    ok(
        doctor,
        f"{p}/visits/",
        {
            "visited_on": on(-1),
            "weight_kg": "60.0",
            "counseling_confirmed": True,
            "comprehension_completed": True,
            "phq2": 0,
        },
    )

    status = doctor.get(f"/api/v1/{p}/status/").json()
    assert status["can_prescribe"] is True
    assert status["blockers"] == []
    assert status["window"] == {"opens_on": on(-1), "closes_on": on(5)}

    prescription = ok(
        doctor,
        f"{p}/prescriptions/",
        {"written_on": on(0), "daily_dose_mg": "40", "days_supply": 30},
    )
    dispensed = ok(
        desk,
        f"prescriptions/{prescription['id']}/dispense/",
        {"dispensed_on": on(0), "rma_number": "100 000 001"},
        expected=200,
    )
    assert dispensed["dispensed_on"] == on(0)
    assert Prescription.objects.get(pk=prescription["id"]).rma_number == "100000001"

    # Ten days later (days 0 through 9 taken): 400 mg, 6.7 mg/kg of 60 kg; the remaining
    # 7,200 - 400 mg at 40 mg a day take 170 more days.
    with time_machine.travel(timezone.now() + datetime.timedelta(days=9), tick=False):
        doctor = client_for(clinician)  # a token lasts 12 hours: a new day, a new token
        later = doctor.get(f"/api/v1/{p}/status/").json()
    assert later["cumulative"] == {
        "mg": "400.0",
        "mg_per_kg": "6.7",
        "target_mg_per_kg": "120.0",
        "projected_completion_on": on(9 + 170),
    }
    assert doctor.get(f"/api/v1/{p}/status/", {"on": on(9)}).json() == later
