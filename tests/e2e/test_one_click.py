"""Every row one click from done (issue 21, item 1): issue 13's journeys, counting clicks.

Staff's journey: a window closing tomorrow without contraception -> contraception confirmed ->
the iPLEDGE entry sheet ticked -> (the prescriber writes the prescription) -> the pick-up
recorded -> off Today. The clinician's: the monthly visit -> the written prescription -> Today.

A click is a click on a link or a button (`Clicks.click`); ticking a checkbox of the form is
counted apart (`entries`), and is the same in both versions: two methods, two visit boxes.
Measured on the code before the change (the same journeys through the patient page, run with
tests/e2e/test_one_click.py at commit a4f1a58; the page on screen is used as it is, and once
the prescriber has written the prescription staff reload Today, which is no click):

    staff:     13 clicks before (patient, Contraception, Record confirmation, Open the entry
               sheet, 3 ticks, patient, Today, patient, Record dispense, Record dispense, Today);
               6 after (Confirm contraception, Record confirmation, Open the entry sheet,
               Tick all 3, Record the pick-up, Record dispense)
    clinician:  5 clicks before (patient, Visit checklist, Save visit, Write prescription,
               Today); 3 after (Open visit checklist, Save visit, Write prescription)
"""

import re

import pytest
from playwright.sync_api import expect

from monitoring.models import Prescription
from patients.models import PregnancyTest
from tests.builders import Builder
from tests.e2e import test_journeys as journeys
from tests.e2e.test_journeys import (
    due_for_the_monthly_visit,
    morning_clinic,
    window_closes_tomorrow_without_contraception,
)

# The journeys' named people (the screenshots show them).
clinic, clinician, staff = journeys.clinic, journeys.clinician, journeys.staff

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

STAFF_CLICKS_BEFORE = 13
CLINICIAN_CLICKS_BEFORE = 5


class Clicks:
    """What the user does with the mouse: `clicks` on links and buttons, `entries` on form
    fields (checkboxes), and `pages` loaded in the tab."""

    def __init__(self, page):
        self.page, self.clicks, self.entries, self.pages = page, 0, 0, 0
        page.on("framenavigated", self._loaded)

    def _loaded(self, frame):
        if frame == self.page.main_frame:
            self.pages += 1

    def click(self, locator):
        self.clicks += 1
        locator.click()

    def check(self, locator):
        self.entries += 1
        locator.check()


def row_of(page, family_name):
    return page.locator("main tbody tr").filter(has_text=family_name)


def test_staff_journey_takes_at_most_half_the_clicks(
    log_in, look, live_server, clinic, clinician, staff
):
    b = Builder(clinic, clinician, staff, clinic.today())
    morning_clinic(b)
    patient = window_closes_tomorrow_without_contraception(b)
    page = log_in(staff)
    today_url = f"{live_server.url}/today/"
    expect(page).to_have_url(today_url)
    c = Clicks(page)

    row = row_of(page, "Brightwater")
    expect(row).to_contain_text("Confirm two forms of contraception with the patient.")
    look(page, "today-staff")
    c.click(row.get_by_role("link", name=re.compile("^Confirm contraception")))
    # The form is the patient's, dated today: only the methods are left to give.
    expect(page.get_by_role("heading", level=1)).to_have_text("Contraception confirmation")
    expect(page.get_by_label("Confirmed on")).to_have_value(clinic.today().isoformat())
    look(page)
    c.check(page.get_by_label("IUD"))
    c.check(page.get_by_label("Male condom"))
    page.get_by_label("Current methods started on").fill(b.day(-70).isoformat())
    c.click(page.get_by_role("button", name="Record confirmation"))

    # Back on Today: the row now asks for the iPLEDGE entries, and opens the sheet itself.
    expect(page).to_have_url(today_url)
    expect(page.get_by_role("alert").first).to_contain_text("saved")
    row = row_of(page, "Brightwater")
    expect(row).not_to_contain_text("Confirm two forms of contraception")
    c.click(row.get_by_role("link", name=re.compile("^Open the entry sheet")))
    expect(page.get_by_role("heading", level=1)).to_have_text("iPLEDGE entry sheet")
    expect(page.locator('[data-state="to-enter"]')).to_have_count(3)
    look(page)
    c.click(page.get_by_role("button", name="Tick all 3: entered in iPLEDGE"))

    expect(page).to_have_url(today_url)
    expect(page.get_by_role("alert").first).to_contain_text("3 items")
    row = row_of(page, "Brightwater")
    expect(row).to_contain_text("Ask the prescriber to write the prescription.")
    # Staff cannot write it: no button that would end in "not allowed".
    expect(row.get_by_role("link", name=re.compile("^Write prescription"))).to_have_count(0)

    b.prescribe(patient, 0)
    page.reload()
    row = row_of(page, "Brightwater")
    c.click(row.get_by_role("link", name=re.compile("^Record the pick-up")))
    expect(page.get_by_label("Dispensed on")).to_have_value(clinic.today().isoformat())
    page.get_by_label("RMA number").fill("000000042")
    c.click(page.get_by_role("button", name="Record dispense"))

    expect(page).to_have_url(today_url)
    expect(row_of(page, "Brightwater")).to_have_count(0)
    assert Prescription.objects.get(patient=patient).rma_number == "000000042"
    assert (c.clicks, c.entries) == (6, 2), (c.clicks, c.entries)
    assert c.clicks * 2 <= STAFF_CLICKS_BEFORE


def test_clinician_journey_visit_to_prescription_in_three_clicks(
    log_in, look, live_server, clinic, clinician, staff
):
    b = Builder(clinic, clinician, staff, clinic.today())
    morning_clinic(b)
    patient = due_for_the_monthly_visit(b)
    page = log_in(clinician)
    today_url = f"{live_server.url}/today/"
    c = Clicks(page)

    row = row_of(page, "Ellery")
    look(page, "today-clinician")
    c.click(row.get_by_role("link", name=re.compile("^Open visit checklist")))
    expect(page.get_by_role("heading", name="Monthly visit checklist")).to_be_visible()
    expect(page.get_by_label("Visit date")).to_have_value(clinic.today().isoformat())
    page.get_by_label("Weight (kg)").fill("63.5")
    page.get_by_label("PHQ-2").fill("1")
    c.check(page.get_by_label("I counseled the patient this month (clinician)"))
    c.check(page.get_by_label("The patient completed this month's iPLEDGE comprehension questions"))
    c.click(page.get_by_role("button", name="Save visit"))

    # The saved visit with the gate and the prescription form; writing it returns to Today.
    expect(page.locator("#status-panel")).to_contain_text("A prescription can be written today.")
    prescription = page.locator("#prescription")
    prescription.get_by_label("Daily dose (mg)").fill("40")
    c.click(prescription.get_by_role("button", name="Write prescription"))

    expect(page).to_have_url(today_url)
    expect(page.get_by_role("alert").first).to_contain_text("Prescription: saved.")
    # Written: the row moves on to what follows it (entering this cycle in iPLEDGE).
    row = row_of(page, "Ellery")
    expect(row).to_have_attribute("data-code", "enter_in_ipledge")
    expect(row.get_by_role("link", name=re.compile("^Write prescription"))).to_have_count(0)
    assert Prescription.objects.filter(patient=patient).count() == 2
    assert c.clicks == 3, c.clicks
    assert c.clicks < CLINICIAN_CLICKS_BEFORE


def test_each_rows_action_is_reached_with_tab_and_shows_its_focus(
    log_in, live_server, clinic, clinician, staff
):
    b = Builder(clinic, clinician, staff, clinic.today())
    morning_clinic(b)
    window_closes_tomorrow_without_contraception(b)
    page = log_in(staff)
    row = row_of(page, "Brightwater")
    row.get_by_role("link", name="Brightwater, Rowan", exact=True).focus()
    page.keyboard.press("Tab")
    focused = page.evaluate_handle("document.activeElement")
    assert focused.evaluate("e => e.textContent").startswith("Confirm contraception")
    # Bootstrap draws the focus ring as a box shadow on :focus-visible.
    assert focused.evaluate("e => getComputedStyle(e).boxShadow") != "none"
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Contraception confirmation")


def test_a_positive_test_from_due_next_asks_first_then_leads_safety(
    log_in, look, live_server, clinic, clinician, staff
):
    """Issue 21, item 5: the patient page's Due next opens the monthly test form; a positive
    result is saved only at the second step, and the patient then leads Today's Safety group."""
    b = Builder(clinic, clinician, staff, clinic.today())
    morning_clinic(b)  # Devon Ashdown: first supply 29 days ago, the monthly test due
    page = log_in(staff)
    page.get_by_role("link", name="Ashdown, Devon", exact=True).click()
    due = page.locator("#status-panel")
    expect(due.get_by_role("link", name="Write prescription")).to_have_count(0)
    look(page, "patient-due-next")
    # One button per form on the page: the blocker and the due item share it.
    expect(due.get_by_role("link", name="Open visit checklist")).to_have_count(1)
    due.get_by_role("link", name="Record monthly test").click()
    expect(page.get_by_label("Kind")).to_have_value("monthly")
    expect(page.get_by_label("Specimen collection date")).to_have_value(clinic.today().isoformat())
    page.get_by_label("Result").select_option("positive")
    page.get_by_label("Setting").select_option("medical")
    page.get_by_label("Method").select_option("urine")
    page.get_by_label("CLIA-certified lab").check()
    page.get_by_role("button", name="Record test").click()

    expect(page.locator("main")).to_contain_text("This records a POSITIVE pregnancy test")
    assert not PregnancyTest.objects.filter(result="positive").exists()
    look(page, "positive-test-confirm")
    page.get_by_role("button", name="Save positive result").click()
    expect(page.get_by_role("alert").first).to_contain_text("saved")
    assert PregnancyTest.objects.filter(result="positive").count() == 1

    page.get_by_role("link", name="Today").first.click()
    first = page.locator("main section").first
    expect(first).to_have_attribute("id", "group-safety")
    expect(first.locator("tbody tr").filter(has_text="Ashdown")).to_contain_text(
        "positive pregnancy test"
    )
