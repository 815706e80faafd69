"""Each endpoint's happy path and the 400s that name the field (the services' checks included)."""

import datetime
from decimal import Decimal

import pytest
from auditlog.models import LogEntry
from django.utils import timezone

from monitoring.models import Course, Reminder
from patients.models import Patient
from tests.api.conftest import database_state, day
from tests.builders import ready_first_prescription
from tests.factories import enroll

ENROLLMENT = {
    "mrn": "API-0001",
    "given_name": "Robin",
    "family_name": "Testwell",
    "birth_date": "2000-03-04",
    "email": "robin@example.org",
    "risk_category": "can_get_pregnant",
    "weight_kg": "62.5",
}


def post(client, url, body):
    return client.post(url, body, format="json")


def assert_refused(response, field, before):
    """A 400 that names exactly this field, and nothing saved."""
    assert response.status_code == 400, response.content
    assert field in response.json(), response.json()
    assert database_state() == before


# Enrollment ---------------------------------------------------------------------------------


def test_enrolling_answers_201_with_the_id_and_opens_a_course(api, staff, clinic, today):
    response = post(api(staff), "/api/v1/patients/", ENROLLMENT)
    assert response.status_code == 201
    patient = Patient.objects.get(pk=response.json()["id"])
    assert patient.clinic == clinic
    assert patient.enrolled_on == today
    assert patient.risk_category_reason == "Set at enrollment"
    assert patient.weight_kg == Decimal("62.5")
    assert response.json()["enrolled_on"] == today.isoformat()
    assert Course.objects.get(patient=patient).target_mg_per_kg == Decimal(120)


def test_staff_may_not_enroll_with_home_tests_allowed(api, staff):
    response = post(api(staff), "/api/v1/patients/", {**ENROLLMENT, "home_tests_allowed": True})
    assert response.status_code == 403
    assert not Patient.objects.exists()
    assert post(api(staff), "/api/v1/patients/", ENROLLMENT).status_code == 201


def test_enrolling_takes_the_optional_fields(api, clinician, today):
    body = {
        **ENROLLMENT,
        "phone": "555-0100",
        "ipledge_id": "1234567890",
        "home_tests_allowed": True,
        "target_mg_per_kg": 150,
        "enrolled_on": day(today, -3),
    }
    response = post(api(clinician), "/api/v1/patients/", body)
    assert response.status_code == 201
    patient = Patient.objects.get(pk=response.json()["id"])
    assert (patient.phone, patient.ipledge_id, patient.home_tests_allowed) == (
        "555-0100",
        "1234567890",
        True,
    )
    assert patient.enrolled_on == today - datetime.timedelta(days=3)
    assert Course.objects.get(patient=patient).target_mg_per_kg == Decimal(150)


def test_enrolling_without_the_required_fields_names_each_of_them(api, staff, db):
    before = database_state()
    response = post(api(staff), "/api/v1/patients/", {})
    assert_refused(response, "mrn", before)
    assert set(response.json()) == {
        "mrn",
        "given_name",
        "family_name",
        "birth_date",
        "email",
        "risk_category",
        "weight_kg",
    }


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("weight_kg", "19.9"),
        ("weight_kg", "300.1"),
        ("target_mg_per_kg", 49),
        ("target_mg_per_kg", 301),
        ("birth_date", "2999-01-01"),
        ("enrolled_on", "2026-02-30"),
        ("enrolled_on", "1999-01-01"),  # before the birth date
        ("email", "not-an-email"),
        ("risk_category", "female"),
        ("given_name", "Ro\x00bin"),
        ("mrn", "M" * 41),
        ("mrn", 12345),  # text, not a number
        ("phone", ["555"]),
    ],
)
def test_enrollment_input_the_rules_refuse_is_a_400_naming_the_field(api, staff, field, value):
    before = database_state()
    assert_refused(
        post(api(staff), "/api/v1/patients/", {**ENROLLMENT, field: value}), field, before
    )


def test_an_mrn_already_in_the_clinic_is_refused(api, staff, clinic):
    enroll(clinic, mrn="API-0001")
    before = database_state()
    assert_refused(post(api(staff), "/api/v1/patients/", ENROLLMENT), "mrn", before)


def test_the_same_mrn_in_another_clinic_is_fine(api, staff, other_clinic):
    enroll(other_clinic, mrn="API-0001")
    assert post(api(staff), "/api/v1/patients/", ENROLLMENT).status_code == 201


# Reading a patient --------------------------------------------------------------------------


def test_reading_a_patient_answers_200_and_logs_one_access_event(api, clinic_admin, patient):
    response = api(clinic_admin).get(f"/api/v1/patients/{patient.pk}/")
    assert response.status_code == 200
    assert response.json()["mrn"] == patient.mrn
    assert response.json()["id"] == patient.pk
    accesses = LogEntry.objects.filter(action=LogEntry.Action.ACCESS, object_pk=str(patient.pk))
    assert accesses.count() == 1
    assert accesses.get().actor == clinic_admin


def test_an_unknown_patient_id_is_404_even_beyond_the_integer_range(api, staff, db):
    assert api(staff).get("/api/v1/patients/999999/").status_code == 404
    assert api(staff).get(f"/api/v1/patients/{10**30}/").status_code == 404


# Consents, contraception, pregnancy tests, labs ---------------------------------------------


def test_a_consent_answers_201(api, staff, patient):
    body = {"kind": "birth_defects", "signed_on": patient.enrolled_on.isoformat()}
    response = post(api(staff), f"/api/v1/patients/{patient.pk}/consents/", body)
    assert response.status_code == 201
    assert response.json() == {"id": response.json()["id"], **body}


@pytest.mark.parametrize(
    ("field", "value"),
    [("kind", "verbal"), ("signed_on", -41), ("signed_on", 1), ("signed_on", "yesterday")],
)
def test_a_consent_the_rules_refuse_names_the_field(api, staff, patient, today, field, value):
    body = {"kind": "patient_information", "signed_on": day(today, 0)}
    body[field] = day(today, value) if isinstance(value, int) else value
    before = database_state()
    assert_refused(
        post(api(staff), f"/api/v1/patients/{patient.pk}/consents/", body), field, before
    )


def test_a_consent_on_the_enrollment_day_is_accepted_and_the_day_before_is_not(api, staff, patient):
    url = f"/api/v1/patients/{patient.pk}/consents/"
    day_before = patient.enrolled_on - datetime.timedelta(days=1)
    on_the_day = {"kind": "patient_information", "signed_on": patient.enrolled_on.isoformat()}
    assert (
        post(api(staff), url, {**on_the_day, "signed_on": day_before.isoformat()}).status_code
        == 400
    )
    assert post(api(staff), url, on_the_day).status_code == 201


CONTRACEPTION = {
    "source": "staff",
    "methods": ["male_condom", "iud"],
    "abstinence": False,
}


def test_a_contraception_confirmation_answers_201(api, staff, patient, today):
    body = {**CONTRACEPTION, "confirmed_on": day(today, 0), "started_on": day(today, -90)}
    response = post(api(staff), f"/api/v1/patients/{patient.pk}/contraception/", body)
    assert response.status_code == 201
    assert response.json()["methods"] == ["iud", "male_condom"]
    assert response.json()["started_on"] == day(today, -90)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("methods", ["iud", "wishful_thinking"]),
        ("methods", ["iud", "iud"]),
        ("methods", "iud"),
        ("source", "pharmacy"),
        ("started_on", "AFTER"),  # replaced below by a day after confirmed_on
        ("abstinence", "maybe"),
    ],
)
def test_a_contraception_confirmation_the_rules_refuse_names_the_field(
    api, staff, patient, today, field, value
):
    body = {**CONTRACEPTION, "confirmed_on": day(today, -1), "started_on": day(today, -30)}
    body[field] = day(today, 0) if value == "AFTER" else value
    before = database_state()
    response = post(api(staff), f"/api/v1/patients/{patient.pk}/contraception/", body)
    assert_refused(response, field, before)


PREGNANCY_TEST = {
    "kind": "screening",
    "result": "negative",
    "setting": "medical",
    "clia_lab": True,
    "method": "serum",
}


def test_a_pregnancy_test_answers_201_and_is_verified_by_the_user(api, staff, patient, today):
    body = {**PREGNANCY_TEST, "collected_on": day(today, -2)}
    response = post(api(staff), f"/api/v1/patients/{patient.pk}/pregnancy-tests/", body)
    assert response.status_code == 201
    test = patient.pregnancy_tests.get(pk=response.json()["id"])
    assert test.verified_by == staff
    assert test.collected_on == today - datetime.timedelta(days=2)


@pytest.mark.parametrize(
    ("field", "change"),
    [
        ("evidence", {"setting": "home", "clia_lab": False}),  # the API cannot upload one
        ("collected_on", {"collected_on": "FUTURE"}),
        ("result", {"result": "unclear"}),
        ("kind", {"kind": None}),
    ],
)
def test_a_pregnancy_test_the_rules_refuse_names_the_field(
    api, staff, patient, today, field, change
):
    body = {**PREGNANCY_TEST, "collected_on": day(today, 0), **change}
    if body["collected_on"] == "FUTURE":
        body["collected_on"] = day(today, 1)
    before = database_state()
    response = post(api(staff), f"/api/v1/patients/{patient.pk}/pregnancy-tests/", body)
    assert_refused(response, field, before)


def test_a_lab_answers_201_and_baseline_labs_may_precede_enrollment_by_30_days(api, staff, patient):
    url = f"/api/v1/patients/{patient.pk}/labs/"
    on_the_edge = (patient.enrolled_on - datetime.timedelta(days=30)).isoformat()
    one_day_more = (patient.enrolled_on - datetime.timedelta(days=31)).isoformat()
    body = {"kind": "alt", "value": "22.5", "unit": "U/L"}
    response = post(api(staff), url, {**body, "collected_on": on_the_edge})
    assert response.status_code == 201
    assert response.json()["value"] == "22.50"
    before = database_state()
    assert_refused(
        post(api(staff), url, {**body, "collected_on": one_day_more}), "collected_on", before
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [("value", "-1"), ("value", "1e400"), ("value", "0.001"), ("unit", "  "), ("kind", "tsh")],
)
def test_a_lab_the_rules_refuse_names_the_field(api, staff, patient, today, field, value):
    body = {"kind": "alt", "collected_on": day(today, 0), "value": "22", "unit": "U/L"}
    before = database_state()
    response = post(api(staff), f"/api/v1/patients/{patient.pk}/labs/", {**body, field: value})
    assert_refused(response, field, before)


# Visits and mood reviews --------------------------------------------------------------------


def visit_body(today, **changes):
    return {
        "visited_on": day(today, 0),
        "weight_kg": "61.0",
        "counseling_confirmed": False,
        "comprehension_completed": True,
        "phq2": 1,
        **changes,
    }


def test_a_clinician_records_a_visit_with_counseling_confirmed(api, clinician, patient, today):
    body = visit_body(
        today,
        counseling_confirmed=True,
        phq2=3,
        phq9=8,
        phq9_item9=0,
        side_effects={"dry_lips": "mild"},
        missed_dose_days=2,
        next_visit_on=day(today, 28),
    )
    response = post(api(clinician), f"/api/v1/patients/{patient.pk}/visits/", body)
    assert response.status_code == 201
    visit = patient.visits.get(pk=response.json()["id"])
    assert visit.counseling_confirmed is True
    assert visit.side_effects == {"dry_lips": "mild"}
    assert (visit.phq9, visit.missed_dose_days) == (8, 2)


def test_staff_record_a_visit_without_confirming_counseling(api, staff, patient, today):
    response = post(api(staff), f"/api/v1/patients/{patient.pk}/visits/", visit_body(today))
    assert response.status_code == 201
    assert response.json()["counseling_confirmed"] is False


@pytest.mark.parametrize(
    ("field", "changes"),
    [
        ("phq2", {"phq2": 7}),
        ("phq2", {"phq2": None}),
        ("phq9", {"phq9": 28}),
        ("phq9", {"phq9_item9": 1}),  # item 9 without the total
        ("phq9_item9", {"phq9": 2, "phq9_item9": 3}),
        ("weight_kg", {"weight_kg": "19.9"}),
        ("missed_dose_days", {"missed_dose_days": 31}),
        ("side_effects", {"side_effects": {"hiccups": "mild"}}),
        ("side_effects", {"side_effects": {"dry_lips": "unbearable"}}),
        ("side_effects", {"side_effects": ["dry_lips"]}),
        ("next_visit_on", {"next_visit_on": "TODAY"}),
        ("visited_on", {"visited_on": "2026-02-30"}),
    ],
)
def test_a_visit_the_rules_refuse_names_the_field(api, clinician, patient, today, field, changes):
    body = visit_body(today, **changes)
    if body.get("next_visit_on") == "TODAY":
        body["next_visit_on"] = body["visited_on"]
    before = database_state()
    response = post(api(clinician), f"/api/v1/patients/{patient.pk}/visits/", body)
    assert_refused(response, field, before)


def test_a_clinician_reviews_the_mood_of_a_visit(api, clinician, builder, patient):
    visit = builder.visit(patient, -1, phq2=4, phq9=12, item9=1)
    body = {"reviewed_on": builder.day(0).isoformat(), "note": "Safety plan discussed."}
    response = post(api(clinician), f"/api/v1/visits/{visit.pk}/mood-review/", body)
    assert response.status_code == 200
    assert response.json()["visit"] == visit.pk
    assert visit.mood_reviews.get().note == "Safety plan discussed."


@pytest.mark.parametrize(
    ("field", "body"),
    [
        ("reviewed_on", {"reviewed_on": -2, "note": "Reviewed."}),  # before the visit
        ("reviewed_on", {"reviewed_on": 1, "note": "Reviewed."}),  # in the future
        ("note", {"reviewed_on": 0, "note": "   "}),
    ],
)
def test_a_mood_review_the_rules_refuse_names_the_field(
    api, clinician, builder, patient, field, body
):
    visit = builder.visit(patient, -1, phq2=4, phq9=12, item9=1)
    body = {**body, "reviewed_on": builder.day(body["reviewed_on"]).isoformat()}
    before = database_state()
    response = post(api(clinician), f"/api/v1/visits/{visit.pk}/mood-review/", body)
    assert_refused(response, field, before)


# Superseding, dispensing, ending treatment, reminders ---------------------------------------


def test_a_clinician_supersedes_a_positive_test(api, clinician, builder, patient, today):
    test = builder.test(patient, "screening", -5, result="positive")
    response = post(
        api(clinician), f"/api/v1/pregnancy-tests/{test.pk}/supersede/", {"reason": "Lab error."}
    )
    assert response.status_code == 200
    assert response.json()["superseded_on"] == today.isoformat()
    assert response.json()["superseded_reason"] == "Lab error."


def test_only_a_positive_test_not_yet_superseded_can_be_superseded(
    api, clinician, builder, patient
):
    negative = builder.test(patient, "screening", -5)
    positive = builder.test(patient, "screening", -4, result="positive")
    client = api(clinician)
    before = database_state()
    url = f"/api/v1/pregnancy-tests/{negative.pk}/supersede/"
    assert_refused(post(client, url, {"reason": "Lab error."}), "reason", before)
    url = f"/api/v1/pregnancy-tests/{positive.pk}/supersede/"
    assert_refused(post(client, url, {"reason": ""}), "reason", before)
    assert post(client, url, {"reason": "Lab error."}).status_code == 200
    before = database_state()
    assert_refused(post(client, url, {"reason": "Again."}), "reason", before)


@pytest.fixture
def prescription(builder, patient):
    ready_first_prescription(builder, patient)
    return builder.prescribe(patient, 0)


def test_staff_record_a_dispense(api, staff, prescription, today):
    body = {"dispensed_on": day(today, 0), "rma_number": " 4242-4242 "}
    response = post(api(staff), f"/api/v1/prescriptions/{prescription.pk}/dispense/", body)
    assert response.status_code == 200
    assert response.json()["dispensed_on"] == day(today, 0)
    assert response.json()["rma_number"] == "42424242"


def test_a_prescription_is_dispensed_only_once(api, staff, prescription, today):
    url = f"/api/v1/prescriptions/{prescription.pk}/dispense/"
    body = {"dispensed_on": day(today, 0), "rma_number": "42424242"}
    assert post(api(staff), url, body).status_code == 200
    before = database_state()
    assert_refused(
        post(api(staff), url, {**body, "rma_number": "43434343"}), "dispensed_on", before
    )


@pytest.mark.parametrize(
    ("field", "body"),
    [
        ("rma_number", {"dispensed_on": 0}),
        ("rma_number", {"dispensed_on": 0, "rma_number": "R" * 41}),
        ("dispensed_on", {"dispensed_on": 1, "rma_number": "42424242"}),
        ("dispensed_on", {"rma_number": "42424242"}),
    ],
)
def test_a_dispense_the_rules_refuse_names_the_field(api, staff, prescription, today, field, body):
    if "dispensed_on" in body:
        body = {**body, "dispensed_on": day(today, body["dispensed_on"])}
    before = database_state()
    response = post(api(staff), f"/api/v1/prescriptions/{prescription.pk}/dispense/", body)
    assert_refused(response, field, before)


def test_a_clinician_ends_treatment_once(api, clinician, patient, today):
    url = f"/api/v1/patients/{patient.pk}/end-treatment/"
    response = post(api(clinician), url, {"last_dose_on": day(today, -1)})
    assert response.status_code == 200
    assert response.json()["last_dose_on"] == day(today, -1)
    before = database_state()
    assert_refused(
        post(api(clinician), url, {"last_dose_on": day(today, 0)}), "last_dose_on", before
    )


def test_ending_treatment_in_the_future_is_refused(api, clinician, patient, today):
    before = database_state()
    response = post(
        api(clinician),
        f"/api/v1/patients/{patient.pk}/end-treatment/",
        {"last_dose_on": day(today, 1)},
    )
    assert_refused(response, "last_dose_on", before)


def test_reminders_list_kind_due_date_and_status_by_due_date(api, staff, patient, today):
    for kind, offset, status in (("visit", 5, "pending"), ("monthly_test", 2, "sent")):
        Reminder.objects.create(
            patient=patient,
            kind=kind,
            due_on=today + datetime.timedelta(days=offset),
            send_at=timezone.now(),
            status=status,
        )
    enroll(patient.clinic).reminders.create(kind="visit", due_on=today, send_at=timezone.now())
    response = api(staff).get(f"/api/v1/patients/{patient.pk}/reminders/")
    assert response.status_code == 200
    assert response.json() == [
        {"kind": "monthly_test", "due_on": day(today, 2), "status": "sent"},
        {"kind": "visit", "due_on": day(today, 5), "status": "pending"},
    ]


# Audit --------------------------------------------------------------------------------------


def test_a_write_through_a_token_is_audited_with_the_tokens_user(api, staff, patient):
    token = api().post(
        "/api/v1/auth/token/",
        {"username": staff.username, "password": "correct-horse-battery"},
        format="json",
    )
    client = api(HTTP_AUTHORIZATION=f"Token {token.json()['token']}")
    body = {"kind": "birth_defects", "signed_on": patient.enrolled_on.isoformat()}
    response = post(client, f"/api/v1/patients/{patient.pk}/consents/", body)
    entry = LogEntry.objects.get(
        action=LogEntry.Action.CREATE,
        content_type__model="consent",
        object_pk=str(response.json()["id"]),
    )
    assert entry.actor == staff


def test_reading_the_status_logs_one_access_event(api, clinician, patient):
    api(clinician).get(f"/api/v1/patients/{patient.pk}/status/")
    assert LogEntry.objects.filter(action=LogEntry.Action.ACCESS).count() == 1


def test_a_database_conflict_is_a_400_not_a_500(api, staff, monkeypatch):
    from django.db import IntegrityError

    from monitoring import enrollment

    def collide(**kwargs):
        raise IntegrityError("duplicate key value violates unique constraint")

    monkeypatch.setattr(enrollment, "enroll_patient", collide)
    response = post(api(staff), "/api/v1/patients/", ENROLLMENT)
    assert response.status_code == 400
    assert list(response.json()) == ["non_field_errors"]
