"""A clinician prescribes for a ready patient; the gate refuses one who is not ready."""

import pytest
from playwright.sync_api import expect

from monitoring.models import Prescription
from tests.builders import Builder, ready_first_prescription
from tests.factories import enroll

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_a_clinician_writes_a_prescription_for_a_ready_patient(
    log_in, live_server, clinic, clinician, staff
):
    patient = enroll(clinic, by=staff, given_name="Sage", family_name="Oakes")
    ready_first_prescription(Builder(clinic, clinician, staff, clinic.today()), patient)
    page = log_in(clinician)
    page.goto(f"{live_server.url}/patients/{patient.pk}/")
    expect(page.locator("#status-panel")).to_contain_text("A prescription can be written today.")
    page.get_by_role("link", name="Write prescription").first.click()
    page.get_by_label("Daily dose (mg)").fill("40")
    page.get_by_label("Days' supply (1-30)").fill("30")
    page.get_by_role("button", name="Write prescription").click()
    expect(page.get_by_role("alert").first).to_contain_text("saved")
    assert Prescription.objects.get(patient=patient).days_supply == 30


def test_the_gate_explains_why_a_prescription_is_refused(
    log_in, live_server, clinic, clinician, staff
):
    patient = enroll(clinic, by=staff)
    page = log_in(clinician)
    page.goto(f"{live_server.url}/patients/{patient.pk}/")
    panel = page.locator("#status-panel")
    expect(panel).to_contain_text("A prescription cannot be written today.")
    expect(panel.locator('[data-code="screening_test_missing"]')).to_be_visible()
    page.goto(f"{live_server.url}/patients/{patient.pk}/prescriptions/new/")
    page.get_by_label("Daily dose (mg)").fill("40")
    page.get_by_label("Days' supply (1-30)").fill("30")
    page.get_by_role("button", name="Write prescription").click()
    blockers = page.locator("#prescription-blockers")
    expect(blockers).to_contain_text("Not written")
    expect(blockers.locator('[data-code="screening_test_missing"]')).to_be_visible()
    assert not Prescription.objects.exists()
