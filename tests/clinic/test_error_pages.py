"""403, 404 and 500 in the app's layout, each saying what the user can do instead."""

from django.test import RequestFactory
from django.urls import reverse
from django.views import defaults

from tests.factories import enroll


def test_staff_opening_a_clinician_page_see_the_styled_403(client_for, staff, patient):
    response = client_for(staff).get(reverse("monitoring:prescription_create", args=[patient.pk]))
    assert response.status_code == 403
    html = response.content.decode()
    assert 'class="navbar' in html  # the app's layout, not a bare "403 Forbidden"
    assert "This page is not open to your role" in html
    assert "Ask a clinician" in html
    assert reverse("patients:list") in html


def test_a_clinic_admin_is_pointed_at_their_own_pages(client_for, clinic_admin, patient):
    response = client_for(clinic_admin).get(reverse("patients:consent_create", args=[patient.pk]))
    assert response.status_code == 403
    html = response.content.decode()
    assert reverse("audit_log") in html and reverse("clinic_settings") in html


def test_another_clinics_patient_is_the_styled_404(client_for, staff, other_clinic):
    elsewhere = enroll(other_clinic, mrn="ELSEWHERE")
    response = client_for(staff).get(elsewhere.get_absolute_url())
    assert response.status_code == 404
    html = response.content.decode()
    assert 'class="navbar' in html
    assert "does not exist in Clinic A" in html
    assert "patient list" in html


def test_the_500_page_needs_no_request_context():
    response = defaults.server_error(RequestFactory().get("/"))
    assert response.status_code == 500
    html = response.content.decode()
    assert 'class="navbar' in html
    assert "Something went wrong on our side" in html
    assert "nothing is half-saved" in html
