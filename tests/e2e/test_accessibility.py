"""Keyboard and screen-reader users (issue 21, item 10): the skip link, and a failed submit that
takes them to the first error with every error named and linked to its field."""

import datetime

import pytest
from playwright.sync_api import expect

from tests.factories import ClinicFactory, enroll, member

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def staff():
    clinic = ClinicFactory(name="Riverside Dermatology")
    return member(clinic, "staff", username="sam.rivera", first_name="Sam", last_name="Rivera")


def test_the_first_tab_offers_to_skip_to_the_main_content(log_in, live_server, staff):
    page = log_in(staff)
    page.goto(f"{live_server.url}/patients/")
    page.keyboard.press("Tab")
    skip = page.locator(":focus")
    expect(skip).to_have_text("Skip to main content")
    expect(skip).to_be_visible()  # visible once focused
    page.keyboard.press("Enter")
    expect(page.locator(":focus")).to_have_attribute("id", "main")
    assert page.locator("main#main").count() == 1


def test_a_failed_submit_moves_focus_to_the_first_error_and_links_each_error(
    log_in, live_server, staff, look
):
    clinic = staff.memberships.get().clinic
    patient = enroll(clinic, by=staff)
    page = log_in(staff)
    page.goto(f"{live_server.url}/patients/{patient.pk}/consents/new/")
    tomorrow = clinic.today() + datetime.timedelta(days=1)
    page.get_by_label("Kind").select_option("birth_defects")
    page.get_by_label("Signed on").fill(tomorrow.isoformat())
    page.get_by_role("button", name="Record consent").click()
    page.wait_for_load_state()

    field = page.locator("#id_signed_on")
    expect(field).to_be_focused()
    expect(field).to_have_attribute("aria-invalid", "true")
    described = field.get_attribute("aria-describedby").split()
    messages = " ".join(page.locator(f"#{i}").inner_text() for i in described)
    assert "future" in messages

    summary = page.get_by_role("alert").filter(has_text="There is a problem with 1 field")
    link = summary.get_by_role("link")
    expect(link).to_have_text("Signed on: This date is in the future.")
    expect(link).to_have_attribute("href", "#id_signed_on")
    page.locator("#id_kind").focus()
    link.click()
    expect(field).to_be_focused()
    look(page, "form-error-summary")
