"""Bad input is a 400 naming the field and saves nothing; never a 500 (docs/quality.md B1, B3)."""

import datetime
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.api.conftest import database_state
from tests.builders import ready_first_prescription

JUNK = [
    None,
    [],
    ["a", "b"],
    {},
    {"nested": {"deeper": [1]}},
    "",
    "x" * 5000,
    "\x00",
    "nul\x00in the middle",
    "\u202eevil",
    "<script>alert(1)</script>",
    10**30,
    -(10**30),
    1e308,
    -1,
    0.5,
    True,
    "2026-02-30",
    "0001-01-01",
    "9999-12-31",
    "NaN",
    "Infinity",
]


@pytest.fixture
def targets(builder, patient, clinician):
    """(url, a valid body) for every POST endpoint, with the records they act on."""
    ready_first_prescription(builder, patient)
    prescription = builder.prescribe(patient, 0)
    visit = builder.visit(patient, 0, phq2=4, phq9=12, item9=1)
    test = builder.test(patient, "monthly", 0, result="positive")
    iso, p = builder.today.isoformat(), f"/api/v1/patients/{patient.pk}"
    return [
        (
            "/api/v1/patients/",
            {
                "mrn": "JUNK-1",
                "given_name": "Jo",
                "family_name": "Junk",
                "birth_date": "2000-01-01",
                "email": "jo@example.org",
                "risk_category": "cannot_get_pregnant",
                "weight_kg": "70.0",
                "phone": "555",
                "ipledge_id": "1",
                "home_tests_allowed": False,
                "target_mg_per_kg": 120,
                "enrolled_on": iso,
            },
        ),
        (f"{p}/consents/", {"kind": "birth_defects", "signed_on": iso}),
        (
            f"{p}/contraception/",
            {
                "confirmed_on": iso,
                "source": "patient",
                "methods": ["iud", "male_condom"],
                "abstinence": False,
                "started_on": iso,
            },
        ),
        (
            f"{p}/pregnancy-tests/",
            {
                "kind": "monthly",
                "collected_on": iso,
                "result": "negative",
                "setting": "medical",
                "clia_lab": False,
                "method": "urine",
            },
        ),
        (f"{p}/labs/", {"kind": "hdl", "collected_on": iso, "value": "50", "unit": "mg/dL"}),
        (
            f"{p}/visits/",
            {
                "visited_on": iso,
                "weight_kg": "60.0",
                "counseling_confirmed": True,
                "comprehension_completed": True,
                "phq2": 0,
                "phq9": 1,
                "phq9_item9": 0,
                "side_effects": {"dry_skin": "mild"},
                "missed_dose_days": 0,
                "next_visit_on": (builder.today + datetime.timedelta(days=30)).isoformat(),
                "notes": "Fine.",
            },
        ),
        (f"{p}/prescriptions/", {"written_on": iso, "daily_dose_mg": "40", "days_supply": 30}),
        (
            f"/api/v1/prescriptions/{prescription.pk}/dispense/",
            {"dispensed_on": iso, "rma_number": "100000001"},
        ),
        (f"/api/v1/visits/{visit.pk}/mood-review/", {"reviewed_on": iso, "note": "Seen."}),
        (f"/api/v1/pregnancy-tests/{test.pk}/supersede/", {"reason": "Lab error."}),
        (f"{p}/end-treatment/", {"last_dose_on": iso}),
    ]


def test_junk_in_any_field_of_any_endpoint_is_never_a_500_and_a_400_saves_nothing(
    api, clinician, targets
):
    client = api(clinician)
    for url, valid in targets:
        for field in valid:
            before, accepted = database_state(), []
            for junk in JUNK:
                response = client.post(url, {**valid, field: junk}, format="json")
                where = (url, field, junk, response.status_code)
                assert response.status_code in {200, 201, 400, 409}, where
                if response.status_code in {400, 409}:
                    assert response.json(), where
                else:  # junk the field tolerates (e.g. a blank phone)
                    accepted.append(junk)
            if not accepted:  # a partial save by any refused request would still be there
                assert database_state() == before, (url, field)


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b'{"kind": "alt",', "application/json"),
        (b"[1, 2, 3]", "application/json"),
        (b'"just a string"', "application/json"),
        (b"null", "application/json"),
        (b'{"value": NaN}', "application/json"),
        (b'{"value": 1' + b"0" * 5000 + b"}", "application/json"),
        (b"\xff\xfe not utf-8", "application/json"),
        (b"", "application/json"),
        (b"kind=alt&value=1", "application/x-www-form-urlencoded"),
    ],
)
def test_a_body_that_is_not_a_json_object_is_refused_and_saves_nothing(
    api, staff, patient, body, content_type
):
    before = database_state()
    response = api(staff).generic(
        "POST", f"/api/v1/patients/{patient.pk}/labs/", body, content_type=content_type
    )
    assert response.status_code in {400, 415}
    assert database_state() == before


def test_a_json_list_body_is_a_400_saying_an_object_was_expected(api, staff, patient):
    response = api(staff).post(f"/api/v1/patients/{patient.pk}/labs/", [], format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["non_field_errors"]


@pytest.mark.parametrize(
    "on", ["2026-02-30", "tomorrow", "0001-01-01", "9999-12-31", "1899-12-31", "2021-12-12"]
)
def test_a_status_asked_about_a_date_that_is_not_one_is_a_400_naming_on(api, staff, patient, on):
    response = api(staff).get(f"/api/v1/patients/{patient.pk}/status/", {"on": on})
    assert response.status_code == 400
    assert list(response.json()) == ["on"]


@pytest.mark.parametrize("on", ["2021-12-13", "2999-12-31"])
def test_a_status_at_either_end_of_the_allowed_dates_answers(api, staff, builder, patient, on):
    ready_first_prescription(builder, patient)
    builder.prescribe(patient, 0, dispensed=0)
    assert api(staff).get(f"/api/v1/patients/{patient.pk}/status/", {"on": on}).status_code == 200


def test_a_visit_far_in_the_future_as_next_visit_does_not_break_the_status(
    api, clinician, patient, today
):
    body = {"visited_on": today.isoformat(), "phq2": 0, "next_visit_on": "9999-12-31"}
    client = api(clinician)
    assert client.post(
        f"/api/v1/patients/{patient.pk}/visits/", body, format="json"
    ).status_code in {201, 400}
    assert client.get(f"/api/v1/patients/{patient.pk}/status/").status_code == 200


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=50)
    | st.dates().map(datetime.date.isoformat),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=10), children, max_size=3)
    ),
    max_leaves=8,
)
VISIT_FIELDS = [
    "visited_on",
    "weight_kg",
    "counseling_confirmed",
    "comprehension_completed",
    "phq2",
    "phq9",
    "phq9_item9",
    "side_effects",
    "missed_dose_days",
    "next_visit_on",
]


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=st.dictionaries(st.sampled_from(VISIT_FIELDS), json_values))
def test_any_json_object_posted_as_a_visit_is_answered_without_a_server_error(
    api, clinician, patient, body
):
    before = database_state()
    response = api(clinician).post(f"/api/v1/patients/{patient.pk}/visits/", body, format="json")
    assert response.status_code in {201, 400}, (json.dumps(body, default=str), response.content)
    if response.status_code == 400:
        assert database_state() == before
