"""A user of several clinics chooses one: on the web after login, in the API with X-Clinic-Id.
Never a silent default (docs/domain.md section 8)."""

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from clinic.models import Membership
from patients.models import Patient
from tests.factories import enroll, member


@pytest.fixture
def both(clinic, other_clinic):
    user = member(clinic, "staff")
    Membership.objects.create(user=user, clinic=other_clinic, role="staff")
    return user


def test_after_login_a_user_of_two_clinics_chooses_one_before_any_page(
    client_for, both, clinic, other_clinic
):
    client = client_for(both)
    assert client.get(reverse("patients:list")).url == reverse("choose_clinic")
    page = client.get(reverse("choose_clinic")).content.decode()
    assert clinic.name in page and other_clinic.name in page
    client.post(reverse("switch_clinic"), {"clinic": other_clinic.pk})
    theirs, ours = enroll(other_clinic, mrn="B-1"), enroll(clinic, mrn="A-1")
    listing = client.get(reverse("patients:list"))
    assert listing.status_code == 200
    assert b"B-1" in listing.content and b"A-1" not in listing.content
    assert client.get(ours.get_absolute_url()).status_code == 404
    assert client.get(theirs.get_absolute_url()).status_code == 200


def test_a_user_of_one_clinic_goes_straight_to_work(client_for, staff):
    client = client_for(staff)
    assert client.get(reverse("patients:list")).status_code == 200
    assert client.get(reverse("choose_clinic")).status_code == 302


def test_an_api_write_without_the_clinic_header_is_a_400_and_writes_nothing(both, other_clinic):
    api = APIClient()
    api.force_authenticate(both)
    body = {
        "mrn": "SCRIPT-B",
        "given_name": "Sam",
        "family_name": "Script",
        "birth_date": "1999-09-09",
        "email": "sam@example.org",
        "risk_category": "cannot_get_pregnant",
        "weight_kg": "60.0",
    }
    response = api.post("/api/v1/patients/", body, format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["X-Clinic-Id"]
    assert not Patient.objects.exists()
    named = api.post(
        "/api/v1/patients/", body, format="json", HTTP_X_CLINIC_ID=str(other_clinic.pk)
    )
    assert named.status_code == 201
    assert Patient.objects.get().clinic == other_clinic
