"""Deny by default; another clinic's patient is a 404 on every patient URL."""

import pytest
from django.urls import reverse

from clinic.models import Membership
from tests.auth import verified_login
from tests.factories import enroll, member


def patient_urls(patient):
    return [
        reverse("patients:detail", args=[patient.pk]),
        reverse("patients:edit", args=[patient.pk]),
        reverse("patients:risk_category", args=[patient.pk]),
        reverse("patients:consent_create", args=[patient.pk]),
        reverse("patients:contraception_create", args=[patient.pk]),
        reverse("patients:test_create", args=[patient.pk]),
        reverse("monitoring:lab_create", args=[patient.pk]),
        reverse("monitoring:visit_create", args=[patient.pk]),
        reverse("monitoring:prescription_create", args=[patient.pk]),
        reverse("monitoring:end_treatment", args=[patient.pk]),
    ]


@pytest.fixture
def clinic_b_clinician(other_clinic):
    return member(other_clinic, "clinician")


def test_a_clinician_of_clinic_b_gets_404_on_every_patient_url_of_clinic_a(
    client, patient, clinic_b_clinician
):
    verified_login(client, clinic_b_clinician)
    for url in patient_urls(patient):
        assert client.get(url).status_code == 404, url
        assert client.post(url, {}).status_code == 404, url


def test_the_same_clinician_reaches_them_after_switching_to_clinic_a(
    client, patient, clinic_b_clinician
):
    Membership.objects.create(user=clinic_b_clinician, clinic=patient.clinic, role="clinician")
    verified_login(client, clinic_b_clinician)
    client.post(reverse("switch_clinic"), {"clinic": patient.clinic.pk})
    assert client.get(patient.get_absolute_url()).status_code == 200


def test_switching_to_a_clinic_one_is_not_a_member_of_changes_nothing(
    client, patient, clinic_b_clinician
):
    verified_login(client, clinic_b_clinician)
    client.post(reverse("switch_clinic"), {"clinic": patient.clinic.pk})
    assert client.get(patient.get_absolute_url()).status_code == 404


def test_records_of_another_clinic_are_404(client, clinic, other_clinic, clinic_b_clinician):
    from patients import services

    patient = enroll(clinic)
    test = services.record_pregnancy_test(
        patient,
        by=None,
        data={
            "kind": "screening",
            "collected_on": patient.enrolled_on,
            "result": "positive",
            "setting": "medical",
            "clia_lab": True,
            "method": "serum",
        },
    )
    verified_login(client, clinic_b_clinician)
    assert client.get(reverse("patients:test_supersede", args=[test.pk])).status_code == 404


@pytest.mark.parametrize(
    "url",
    [
        "/",
        "/patients/",
        "/patients/new/",
        "/patients/1/",
        "/audit/",
        "/patients/1/visits/new/",
        "/prescriptions/1/dispense/",
    ],
)
def test_anonymous_users_are_redirected_to_login(client, db, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize("url", ["/login/", "/health/"])
def test_login_and_health_answer_anonymously(client, db, url):
    assert client.get(url).status_code == 200


def test_a_user_without_a_clinic_sees_no_patients(client, db):
    from tests.factories import UserFactory

    verified_login(client, UserFactory())
    assert client.get("/").status_code == 403
    assert client.get("/patients/").status_code == 403


def test_patient_pages_are_not_cached(client, staff, patient):
    verified_login(client, staff)
    response = client.get(patient.get_absolute_url())
    assert "no-store" in response["Cache-Control"]


def test_clinic_admins_read_patients_but_cannot_enroll(client, clinic_admin, patient):
    verified_login(client, clinic_admin)
    assert client.get(patient.get_absolute_url()).status_code == 200
    assert client.get(reverse("patients:create")).status_code == 403


@pytest.mark.parametrize("value", ["abc", "", "99999999999999999999", "1e3"])
def test_switching_to_a_malformed_clinic_is_refused_without_an_error(client, staff, value):
    verified_login(client, staff)
    response = client.post(reverse("switch_clinic"), {"clinic": value})
    assert response.status_code == 302


def test_the_switch_clinic_url_refuses_get(client, staff):
    verified_login(client, staff)
    assert client.get(reverse("switch_clinic")).status_code == 405


def test_pages_show_times_in_the_clinics_time_zone(client, staff, patient):
    import datetime

    from monitoring.models import Reminder

    Reminder.objects.create(
        patient=patient,
        kind="visit",
        due_on=datetime.date(2027, 1, 14),
        send_at=datetime.datetime(2027, 1, 12, 14, 0, tzinfo=datetime.UTC),
    )
    verified_login(client, staff)
    page = client.get(reverse("reminders:list")).content.decode()
    assert "Jan 12, 2027, 9:00 AM EST" in page  # America/New_York in winter
    assert "2:00 PM" not in page


def test_pages_allow_only_the_apps_own_scripts_and_styles(client, staff, patient):
    verified_login(client, staff)
    policy = client.get(patient.get_absolute_url())["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "style-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy
