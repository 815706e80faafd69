"""A clinician runs a monthly visit from one screen and prescribes; staff see who needs what."""

import pytest
from playwright.sync_api import expect

from monitoring.models import Prescription, Visit
from tests.builders import Builder
from tests.factories import enroll

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def ready_but_for_the_visit(clinic, clinician, staff, **names):
    """Tests, consents, labs and contraception done; the visit of this month is missing."""
    patient = enroll(clinic, by=staff, **names)
    b = Builder(clinic, clinician, staff, clinic.today())
    b.baseline(patient, on=-11, can=True)
    b.test(patient, "screening", -26)
    b.contraception(patient, on=-1, started=-70)
    b.test(patient, "confirmation", -1)
    return patient


def test_a_clinician_runs_the_monthly_visit_and_prescribes(
    log_in, live_server, clinic, clinician, staff
):
    patient = ready_but_for_the_visit(clinic, clinician, staff, given_name="Quinn")
    page = log_in(clinician)
    page.goto(f"{live_server.url}/patients/{patient.pk}/visits/new/")
    expect(page.get_by_role("heading", name="Monthly visit checklist")).to_be_visible()

    page.get_by_label("Weight (kg)").fill("61.5")
    phq9 = page.locator("#phq9-block")
    page.get_by_label("PHQ-2").fill("1")
    expect(phq9).to_be_hidden()
    page.get_by_label("PHQ-2").fill("4")
    expect(phq9).to_be_visible()
    page.get_by_label("PHQ-9 total").fill("9")
    page.get_by_label("PHQ-9 item 9 (thoughts of self-harm)").fill("0")
    page.get_by_label("Dry lips").select_option("mild")
    page.get_by_label("I counseled the patient this month (clinician)").check()
    page.get_by_label("The patient completed this month's iPLEDGE comprehension questions").check()
    page.get_by_role("button", name="Save visit").click()

    expect(page.locator("#status-panel")).to_contain_text("A prescription can be written today.")
    visit = Visit.objects.get(patient=patient)
    assert (visit.phq2, visit.phq9, visit.side_effects) == (4, 9, {"dry_lips": "mild"})

    page.get_by_label("Daily dose (mg)").fill("40")
    page.get_by_label("Days' supply (1-30)").fill("30")
    page.get_by_role("button", name="Write prescription").click()
    expect(page.get_by_role("alert").first).to_contain_text("saved")
    assert Prescription.objects.get(patient=patient).daily_dose_mg == 40


def test_a_phq2_of_3_without_a_phq9_is_refused_and_nothing_is_saved(
    log_in, live_server, clinic, clinician, staff
):
    patient = ready_but_for_the_visit(clinic, clinician, staff)
    page = log_in(clinician)
    page.goto(f"{live_server.url}/patients/{patient.pk}/visits/new/")
    page.get_by_label("PHQ-2").fill("3")
    page.get_by_role("button", name="Save visit").click()
    expect(page.get_by_text("Nothing was saved.")).to_be_visible()
    expect(page.locator("#phq9-block")).to_contain_text("record the PHQ-9 total")
    assert not Visit.objects.exists()


def test_staff_land_on_today_and_see_the_closing_window(
    log_in, live_server, clinic, clinician, staff
):
    patient = ready_but_for_the_visit(clinic, clinician, staff, family_name="Brightwater")
    page = log_in(staff)
    expect(page).to_have_url(f"{live_server.url}/today/")
    row = page.get_by_role("row").filter(has_text="Brightwater").first
    expect(row).to_be_visible()
    row.get_by_role("link").first.click()
    expect(page).to_have_url(f"{live_server.url}/patients/{patient.pk}/")
    expect(page.locator("#status-panel")).to_contain_text("No clinic visit recorded")
