"""Who may call what: another clinic's object is a 404, a role that may not is a 403, and a
refused request changes nothing."""

import pytest

from tests.api.conftest import database_state
from tests.builders import ready_first_prescription


@pytest.fixture
def objects(builder, patient):
    """A patient of clinic A with one of each record an endpoint acts on."""
    ready_first_prescription(builder, patient)
    prescription = builder.prescribe(patient, 0)
    visit = builder.visit(patient, 0, phq2=4, phq9=12, item9=1)
    test = builder.test(patient, "monthly", 0, result="positive")
    return {"patient": patient, "prescription": prescription, "visit": visit, "test": test}


COLLECTIONS = ("consents", "contraception", "pregnancy-tests", "labs", "visits", "prescriptions")


def endpoints(objects, today):
    """(name, method, url, a valid body) for every endpoint with an object id."""
    p, iso = objects["patient"].pk, today.isoformat()
    return {
        "patient": ("get", f"/api/v1/patients/{p}/", None),
        "status": ("get", f"/api/v1/patients/{p}/status/", None),
        "reminders": ("get", f"/api/v1/patients/{p}/reminders/", None),
        **{
            f"list {collection}": ("get", f"/api/v1/patients/{p}/{collection}/", None)
            for collection in COLLECTIONS
        },
        "consent": (
            "post",
            f"/api/v1/patients/{p}/consents/",
            {"kind": "birth_defects", "signed_on": iso},
        ),
        "contraception": (
            "post",
            f"/api/v1/patients/{p}/contraception/",
            {"confirmed_on": iso, "source": "staff", "methods": ["iud", "male_condom"]},
        ),
        "pregnancy_test": (
            "post",
            f"/api/v1/patients/{p}/pregnancy-tests/",
            {
                "kind": "monthly",
                "collected_on": iso,
                "result": "negative",
                "setting": "medical",
                "clia_lab": False,
                "method": "urine",
            },
        ),
        "lab": (
            "post",
            f"/api/v1/patients/{p}/labs/",
            {"kind": "ast", "collected_on": iso, "value": "20", "unit": "U/L"},
        ),
        "visit": ("post", f"/api/v1/patients/{p}/visits/", {"visited_on": iso, "phq2": 0}),
        "counseling": (
            "post",
            f"/api/v1/patients/{p}/visits/",
            {"visited_on": iso, "phq2": 0, "counseling_confirmed": True},
        ),
        "prescription": (
            "post",
            f"/api/v1/patients/{p}/prescriptions/",
            {"written_on": iso, "daily_dose_mg": "40", "days_supply": 30},
        ),
        "dispense": (
            "post",
            f"/api/v1/prescriptions/{objects['prescription'].pk}/dispense/",
            {"dispensed_on": iso, "rma_number": "100000001"},
        ),
        "end_treatment": ("post", f"/api/v1/patients/{p}/end-treatment/", {"last_dose_on": iso}),
        "mood_review": (
            "post",
            f"/api/v1/visits/{objects['visit'].pk}/mood-review/",
            {"reviewed_on": iso, "note": "Reviewed."},
        ),
        "supersede": (
            "post",
            f"/api/v1/pregnancy-tests/{objects['test'].pk}/supersede/",
            {"reason": "Lab error."},
        ),
    }


def call(client, method, url, body):
    return getattr(client, method)(url, body, format="json") if body else client.get(url)


def test_a_clinician_of_clinic_b_gets_404_on_every_object_of_clinic_a_and_nothing_changes(
    api, objects, today, clinic_b_clinician
):
    client = api(clinic_b_clinician)
    before = database_state()
    answers = {name: call(client, *e).status_code for name, e in endpoints(objects, today).items()}
    assert set(answers.values()) == {404}, answers
    assert database_state() == before


# docs/domain.md section 8: staff may not write prescriptions, confirm counseling, review mood or
# supersede a test.
STAFF_MAY_NOT = {"counseling", "prescription", "mood_review", "supersede"}


@pytest.mark.parametrize("name", sorted(STAFF_MAY_NOT))
def test_staff_get_403_for_clinical_acts_and_nothing_changes(api, staff, objects, today, name):
    before = database_state()
    response = call(api(staff), *endpoints(objects, today)[name])
    assert response.status_code == 403
    assert database_state() == before


def test_staff_may_do_everything_else(api, staff, objects, today):
    client = api(staff)
    for name, endpoint in endpoints(objects, today).items():
        if name not in STAFF_MAY_NOT:
            assert call(client, *endpoint).status_code in {200, 201}, name


@pytest.mark.parametrize(
    "name",
    [
        "consent",
        "contraception",
        "pregnancy_test",
        "lab",
        "visit",
        "counseling",
        "prescription",
        "dispense",
        "end_treatment",
        "mood_review",
        "supersede",
    ],
)
def test_a_clinic_admin_may_not_write_clinical_records(api, clinic_admin, objects, today, name):
    before = database_state()
    assert call(api(clinic_admin), *endpoints(objects, today)[name]).status_code == 403
    assert database_state() == before


def test_a_clinic_admin_may_not_enroll_a_patient(api, clinic_admin):
    before = database_state()
    response = api(clinic_admin).post("/api/v1/patients/", {"mrn": "X"}, format="json")
    assert response.status_code == 403
    assert database_state() == before


@pytest.mark.parametrize(
    "name", ["patient", "status", "reminders", *(f"list {c}" for c in COLLECTIONS)]
)
def test_a_clinic_admin_may_read(api, clinic_admin, objects, today, name):
    assert call(api(clinic_admin), *endpoints(objects, today)[name]).status_code == 200


def test_a_clinician_may_do_every_clinical_act(api, clinician, objects, today):
    client = api(clinician)
    answers = {}
    for name in ("counseling", "end_treatment", "mood_review", "supersede"):
        answers[name] = call(client, *endpoints(objects, today)[name]).status_code
    assert answers == {
        "counseling": 201,
        "end_treatment": 200,
        "mood_review": 200,
        "supersede": 200,
    }


def test_the_403_comes_before_the_400_so_a_role_cannot_probe_input(api, staff, objects):
    response = api(staff).post(
        f"/api/v1/patients/{objects['patient'].pk}/prescriptions/", {}, format="json"
    )
    assert response.status_code == 403
