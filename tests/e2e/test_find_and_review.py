"""Two journeys of issue 21, each page checked with axe-core: staff find a patient from the
navigation's search box as the list writes the name ("Ashdown, Reese") and land on the patient;
a clinician opens the mood review from Today and reviews the mood screen shown beside the form.
With SCREENSHOTS=1 (`make screenshots`) they write docs/screenshots/search-results.png and
mood-review.png."""

import datetime
import re

import pytest
from playwright.sync_api import expect

from monitoring import services
from tests.builders import Builder, in_treatment, monthly_due, ready_first_prescription
from tests.factories import ClinicFactory, enroll, member

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def clinic(db):
    return ClinicFactory(name="Riverside Dermatology", contact_phone="555-0100")


@pytest.fixture
def clinician(clinic):
    return member(clinic, "clinician", username="dr.okafor", first_name="Ada", last_name="Okafor")


@pytest.fixture
def staff(clinic):
    return member(clinic, "staff", username="sam.rivera", first_name="Sam", last_name="Rivera")


def named(b: Builder, given: str, family: str, mrn: str, born: datetime.date, **fields):
    return enroll(
        b.clinic,
        by=b.staff,
        mrn=mrn,
        given_name=given,
        family_name=family,
        birth_date=born,
        email=f"{mrn.lower()}@example.org",  # an ASCII address, also for José
        enrolled_on=b.day(-80),
        **fields,
    )


def test_staff_find_a_patient_from_the_navigation_as_the_list_writes_the_name(
    log_in, look, live_server, clinic, clinician, staff
):
    b = Builder(clinic, clinician, staff, clinic.today())
    reese = named(b, "Reese", "Ashdown", "RD-40107", datetime.date(2001, 5, 17))
    monthly_due(b, reese)
    devon = named(b, "Devon", "Ashdown", "RD-40114", datetime.date(1998, 11, 2))
    in_treatment(b, devon)
    jose = named(b, "José", "Ashworth", "RD-40121", datetime.date(2003, 2, 9))
    ready_first_prescription(b, jose)

    page = log_in(staff)
    box = page.get_by_role("search", name="Find a patient").get_by_label("Find a patient")
    box.fill("Ashdown, Reese")
    box.press("Enter")
    # One patient found: their page, and the term is in no URL the server logged.
    expect(page).to_have_url(f"{live_server.url}{reese.get_absolute_url()}")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Reese Ashdown")
    look(page)

    # Several found: the list, by name, case and accents aside; then one click to the patient.
    box = page.get_by_role("search", name="Find a patient").get_by_label("Find a patient")
    box.fill("ASH")
    box.press("Enter")
    expect(page).to_have_url(re.compile(r"/patients/\?s=[\w-]+"))
    assert "ash" not in page.url.lower()
    rows = page.locator("main tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.first).to_contain_text("Ashdown, Devon")
    look(page, "search-results")
    page.get_by_role("link", name="Ashworth, José").click()
    expect(page).to_have_url(f"{live_server.url}{jose.get_absolute_url()}")

    # A date of birth as US clinics type it.
    box = page.get_by_role("search", name="Find a patient").get_by_label("Find a patient")
    box.fill("5/17/2001")
    box.press("Enter")
    expect(page).to_have_url(f"{live_server.url}{reese.get_absolute_url()}")


def test_a_clinician_reviews_the_mood_screen_beside_the_review_form(
    log_in, look, live_server, clinic, clinician, staff
):
    b = Builder(clinic, clinician, staff, clinic.today())
    harper = named(b, "Harper", "Lockhart", "RD-40135", datetime.date(2004, 8, 21))
    ready_first_prescription(b, harper, confirmation_on=-2)
    visit = services.record_visit(
        harper,
        by=clinician,
        may_confirm_counseling=True,
        data={
            "visited_on": b.day(-1),
            "weight_kg": None,
            "counseling_confirmed": True,
            "comprehension_completed": True,
            "phq2": 4,
            "phq9": 12,
            "phq9_item9": 1,
            "missed_dose_days": 0,
            "next_visit_on": None,
            "side_effects": {"dry_lips": "moderate", "nosebleeds": "mild"},
            "notes": "Exams next month; sleeping badly. Lives with her mother.",
        },
    )

    page = log_in(clinician)
    page.locator("section#group-safety tr").filter(has_text="Lockhart").get_by_role(
        "link", name="Review now"
    ).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Mood review of the visit")
    screen = page.locator("#mood-screen")
    expect(screen).to_contain_text("12 of 27 (moderate)")
    expect(screen).to_contain_text("Several days (score 1)")
    expect(screen).to_contain_text("Dry lips: moderate")
    expect(screen).to_contain_text("sleeping badly")
    look(page, "mood-review")

    page.get_by_label("Reviewed on").fill(clinic.today().isoformat())
    page.get_by_label("Note").fill("Seen today; no plan or intent; safety plan agreed.")
    page.get_by_role("button", name="Record mood review").click()
    expect(page.get_by_role("alert").first).to_contain_text("saved")
    assert visit.mood_reviews.count() == 1
