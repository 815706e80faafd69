"""In the browser: a note says how many characters are left, keeps a longer paste whole and says
how many too many (clinic/static/clinic/charcount.js), and the server then refuses it with
the same limit; a lab value far outside what labs report is saved on the second submit with
"save anyway" ticked."""

import pytest
from playwright.sync_api import expect

from monitoring.models import LabResult, Visit
from tests.builders import Builder

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_a_note_counts_down_and_a_longer_paste_is_kept_whole_then_refused(
    log_in, look, live_server, clinic, staff, patient
):
    page = log_in(staff)
    page.goto(f"{live_server.url}/patients/{patient.pk}/visits/new/")
    notes = page.locator("textarea[name=notes]")
    counter = page.locator("#id_notes-count")
    expect(counter).to_have_text("4,000 characters left")
    notes.fill("Dry lips, better.")
    expect(counter).to_have_text("3,983 characters left")
    notes.fill("x" * 10_000)
    assert notes.evaluate("element => element.value.length") == 10_000  # not cut to 4,000
    expect(counter).to_have_text("6,000 characters too many")
    expect(notes).to_have_attribute("aria-invalid", "true")
    expect(page.locator("[aria-live=polite]").filter(has_text="too many")).to_have_text(
        "6,000 characters too many"
    )
    look(page)
    page.get_by_label("PHQ-2").fill("0")
    page.get_by_role("button", name="Save visit").click()
    expect(page.locator('[data-error-for="notes"]')).to_contain_text(
        "At most 4,000 characters: this has 10,000."
    )
    assert page.locator("textarea[name=notes]").evaluate("e => e.value.length") == 10_000
    assert not Visit.objects.exists()


def test_a_reason_counts_down_on_a_record_page(log_in, live_server, clinic, clinician, patient):
    test = Builder(clinic, clinician, clinician).test(patient, "screening", -1, result="positive")
    page = log_in(clinician)
    page.goto(f"{live_server.url}/patients/pregnancy-tests/{test.pk}/supersede/")
    expect(page.get_by_text("Up to 300 characters.")).to_be_visible()
    page.get_by_label("Reason").fill("Lab error: the sample was mislabelled.")
    expect(page.locator("#id_reason-count")).to_have_text("262 characters left")


def test_an_unusual_lab_value_is_saved_anyway_once_ticked(
    log_in, look, live_server, clinic, staff, patient
):
    page = log_in(staff)
    page.goto(f"{live_server.url}/patients/{patient.pk}/labs/new/")
    page.get_by_label("Kind").select_option("triglycerides")
    page.get_by_label("Value").fill("5000")
    page.get_by_role("button", name="Record lab").click()
    expect(page.locator("#form-warnings")).to_contain_text(
        "Triglycerides 5,000 mg/dL is far above what labs report (up to 2,000 mg/dL)"
    )
    look(page)
    assert not LabResult.objects.exists()
    expect(page.get_by_label("Value")).to_have_value("5000")
    page.get_by_label("I have checked the warning above: save anyway").check()
    page.get_by_role("button", name="Record lab").click()
    expect(page.get_by_role("alert").first).to_contain_text("saved")
    assert LabResult.objects.get().value == 5000
