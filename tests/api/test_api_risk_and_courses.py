"""POST .../risk-category/ (clinician only) and POST .../courses/ (a new course, not before the
last dose + 56 days), through the services the web pages use (docs/domain.md sections 4 and 8)."""

import datetime
from decimal import Decimal

import pytest
from auditlog.models import LogEntry

from monitoring import services as monitoring
from monitoring.models import Course
from patients.models import RiskCategoryChange
from tests.api.conftest import database_state, day
from tests.factories import enroll


def post(client, url, body):
    return client.post(url, body, format="json")


def assert_refused(response, field, before):
    assert response.status_code == 400, response.content
    assert field in response.json(), response.json()
    assert database_state() == before


# Risk category ------------------------------------------------------------------------------


def change(patient, today, **overrides):
    body = {
        "risk_category": "cannot_get_pregnant",
        "changed_on": day(today, -2),
        "reason": "Reassessed at the visit.",
        **overrides,
    }
    return f"/api/v1/patients/{patient.pk}/risk-category/", body


def test_a_clinician_changes_the_risk_category_from_a_date(api, clinician, patient, today):
    response = post(api(clinician), *change(patient, today))
    assert response.status_code == 201, response.content
    body = response.json()
    assert {k: body[k] for k in ("previous", "risk_category", "changed_on", "reason")} == {
        "previous": "can_get_pregnant",
        "risk_category": "cannot_get_pregnant",
        "changed_on": day(today, -2),
        "reason": "Reassessed at the visit.",
    }
    patient.refresh_from_db()
    assert (patient.risk_category, patient.risk_category_set_on) == (
        "cannot_get_pregnant",
        today - datetime.timedelta(days=2),
    )
    saved = RiskCategoryChange.objects.get(pk=body["id"])
    assert (saved.patient, saved.changed_by) == (patient, clinician)
    assert LogEntry.objects.get_for_object(saved).get().actor == clinician


def test_the_change_is_read_back_through_the_patient(api, clinician, patient, today):
    post(api(clinician), *change(patient, today))
    response = api(clinician).get(f"/api/v1/patients/{patient.pk}/")
    assert response.json()["risk_category"] == "cannot_get_pregnant"
    assert response.json()["risk_category_set_on"] == day(today, -2)


@pytest.mark.parametrize("role", ["staff", "clinic_admin"])
def test_only_a_clinician_may_change_the_category(api, patient, today, role, request):
    user = request.getfixturevalue(role)
    before = database_state()
    response = post(api(user), *change(patient, today))
    assert response.status_code == 403
    assert database_state() == before


def test_the_403_comes_before_the_400(api, staff, patient, today):
    url, _ = change(patient, today)
    assert post(api(staff), url, {}).status_code == 403


def test_another_clinics_patient_is_404_and_anonymous_401(api, clinic_b_clinician, patient, today):
    before = database_state()
    assert post(api(clinic_b_clinician), *change(patient, today)).status_code == 404
    assert post(api(), *change(patient, today)).status_code == 401
    assert database_state() == before


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("risk_category", "female"),
        ("risk_category", "can_get_pregnant"),  # already in it
        ("risk_category", None),
        ("changed_on", "2026-02-30"),
        ("changed_on", "tomorrow"),
        ("reason", ""),
        ("reason", "   "),
        ("reason", "x" * 301),
        ("reason", 12),
    ],
)
def test_a_change_the_rules_refuse_is_a_400_naming_the_field(
    api, clinician, patient, today, field, value
):
    before = database_state()
    url, body = change(patient, today, **{field: value})
    assert_refused(post(api(clinician), url, body), field, before)


@pytest.mark.parametrize("offset", [1, -41])  # tomorrow; the day before enrollment (-40)
def test_a_change_dated_in_the_future_or_before_enrollment_is_refused(
    api, clinician, patient, today, offset
):
    before = database_state()
    url, body = change(patient, today, changed_on=day(today, offset))
    assert_refused(post(api(clinician), url, body), "changed_on", before)


@pytest.mark.parametrize("offset", [0, -40])  # today; the enrollment day
def test_a_change_dated_today_or_on_enrollment_is_accepted(api, clinician, patient, today, offset):
    url, body = change(patient, today, changed_on=day(today, offset))
    assert post(api(clinician), url, body).status_code == 201


@pytest.mark.parametrize("missing", ["risk_category", "changed_on", "reason"])
def test_each_field_is_required(api, clinician, patient, today, missing):
    before = database_state()
    url, body = change(patient, today)
    del body[missing]
    assert_refused(post(api(clinician), url, body), missing, before)


# New course ---------------------------------------------------------------------------------


@pytest.fixture
def ended(clinic, staff, clinician, today):
    """A patient enrolled 200 days ago whose course ended with a last dose 100 days ago, so a
    new course may start 44 days ago (LD + 56) at the earliest."""
    patient = enroll(clinic, by=staff, enrolled_on=today - datetime.timedelta(days=200))
    monitoring.end_treatment(
        patient, by=clinician, last_dose_on=today - datetime.timedelta(days=100)
    )
    return patient


def courses_url(patient):
    return f"/api/v1/patients/{patient.pk}/courses/"


@pytest.mark.parametrize("role", ["staff", "clinician"])
def test_a_new_course_starts_on_the_last_dose_plus_56(api, ended, today, role, request, clinic):
    user = request.getfixturevalue(role)
    response = post(api(user), courses_url(ended), {"enrolled_on": day(today, -44)})
    assert response.status_code == 201, response.content
    assert response.json()["enrolled_on"] == day(today, -44)
    assert response.json()["last_dose_on"] is None
    course = Course.objects.get(pk=response.json()["id"])
    assert (course.patient, course.target_mg_per_kg) == (ended, clinic.default_target_mg_per_kg)
    ended.refresh_from_db()
    assert ended.enrolled_on == today - datetime.timedelta(days=44)
    assert ended.courses.count() == 2


def test_a_new_course_takes_its_own_dose_target(api, staff, ended, today):
    body = {"enrolled_on": day(today, 0), "target_mg_per_kg": "150.0"}
    response = post(api(staff), courses_url(ended), body)
    assert response.status_code == 201
    assert Course.objects.get(pk=response.json()["id"]).target_mg_per_kg == Decimal(150)
    assert response.json()["target_mg_per_kg"] == "150.0"


def test_a_new_course_the_day_before_ld_plus_56_is_a_400_naming_enrolled_on(
    api, staff, ended, today
):
    before = database_state()
    response = post(api(staff), courses_url(ended), {"enrolled_on": day(today, -45)})
    assert_refused(response, "enrolled_on", before)
    assert "at the earliest" in response.json()["enrolled_on"][0]


def test_a_course_that_has_not_ended_cannot_be_followed_by_another(api, staff, patient, today):
    before = database_state()
    response = post(api(staff), courses_url(patient), {"enrolled_on": day(today, 0)})
    assert_refused(response, "enrolled_on", before)
    assert "has not ended" in response.json()["enrolled_on"][0]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("enrolled_on", day(datetime.date.today(), 2)),  # in the future
        ("enrolled_on", "2026-02-30"),
        ("enrolled_on", None),
        ("target_mg_per_kg", "49.9"),
        ("target_mg_per_kg", 300.1),
        ("target_mg_per_kg", "lots"),
    ],
)
def test_a_new_course_the_rules_refuse_is_a_400_naming_the_field(
    api, staff, ended, today, field, value
):
    before = database_state()
    body = {"enrolled_on": day(today, 0), field: value}
    assert_refused(post(api(staff), courses_url(ended), body), field, before)


def test_a_new_course_needs_its_date(api, staff, ended):
    before = database_state()
    assert_refused(post(api(staff), courses_url(ended), {}), "enrolled_on", before)


def test_a_clinic_admin_may_not_start_a_course(api, clinic_admin, ended, today):
    before = database_state()
    response = post(api(clinic_admin), courses_url(ended), {"enrolled_on": day(today, 0)})
    assert response.status_code == 403
    assert database_state() == before


def test_another_clinics_patient_is_404_and_anonymous_401_for_courses(
    api, clinic_b_clinician, ended, today
):
    before = database_state()
    body = {"enrolled_on": day(today, 0)}
    assert post(api(clinic_b_clinician), courses_url(ended), body).status_code == 404
    assert post(api(), courses_url(ended), body).status_code == 401
    assert database_state() == before
