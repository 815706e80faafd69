"""Three journeys as users live them (issue 13, point 5), each page checked with axe-core.

Staff's morning: Today -> a window that closes tomorrow -> the missing contraception
confirmation recorded -> the pick-up recorded -> the patient leaves Today, on track. A
clinician's monthly visit through the checklist to the written and dispensed prescription.
A patient following the emailed link and confirming contraception and the monthly questions.
With SCREENSHOTS=1 (`make screenshots`) they also write docs/screenshots/*.png.
"""

import datetime
import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from monitoring.models import Prescription, Reminder, ReminderKind
from monitoring.reminders import emails
from tests.builders import (
    Builder,
    cannot_ready,
    confirmation_missing,
    in_treatment,
    monthly_due,
    mood_review,
    ready_first_prescription,
)
from tests.factories import ClinicFactory, enroll, member

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# People with names (the pages and the screenshots show them); all invented.


@pytest.fixture
def clinic(db):
    return ClinicFactory(name="Riverside Dermatology", contact_phone="555-0100")


@pytest.fixture
def clinician(clinic):
    return member(clinic, "clinician", username="dr.okafor", first_name="Ada", last_name="Okafor")


@pytest.fixture
def staff(clinic):
    return member(clinic, "staff", username="sam.rivera", first_name="Sam", last_name="Rivera")


@pytest.fixture
def clinic_admin(clinic):
    return member(clinic, "clinic_admin", username="lee.admin", first_name="Lee", last_name="Park")


_mrn = iter(range(40100, 49999, 7))


def named_patient(b: Builder, given: str, family: str, **fields):
    return enroll(
        b.clinic,
        by=b.staff,
        mrn=f"RD-{next(_mrn)}",
        given_name=given,
        family_name=family,
        email=f"{given.lower()}.{family.lower()}@example.org",
        **fields,
    )


def short(day: datetime.date) -> str:
    """The pages' MONTH_DAY_FORMAT: Dec 3."""
    return f"{day:%b} {day.day}"


def morning_clinic(b: Builder):
    """A small clinic with someone in most of Today's groups, so Today reads as on a real day."""
    for given, family, enrolled, build in (
        ("Harper", "Lockhart", -45, mood_review),
        ("Casey", "Dunmore", -45, confirmation_missing),
        ("Kai", "Northcott", -45, cannot_ready),
        ("Devon", "Ashdown", -80, monthly_due),
        ("Emery", "Hollis", -80, in_treatment),
    ):
        can = build is not cannot_ready
        build(
            b,
            named_patient(
                b,
                given,
                family,
                enrolled_on=b.day(enrolled),
                risk_category="can_get_pregnant" if can else "cannot_get_pregnant",
            ),
        )


def window_closes_tomorrow_without_contraception(b: Builder):
    """Confirmation test 5 days ago (window closes tomorrow), visit done, no contraception."""
    rowan = named_patient(b, "Rowan", "Brightwater")
    b.baseline(rowan, on=-15, can=True)
    b.test(rowan, "screening", -30)
    b.test(rowan, "confirmation", -5)
    b.visit(rowan, -5)
    return rowan


def today_row(page, family_name):
    return page.locator("section#group-window_closing tbody tr").filter(has_text=family_name)


def group_count(page, group: str) -> int:
    return int(page.locator(f'.triage-summary [data-group="{group}"]').get_attribute("data-count"))


def record_dispense(page, look, on: datetime.date, rma: str):
    """From the patient page: the pick-up today, with the RMA number from the iPLEDGE system."""
    page.get_by_role("link", name="Record dispense").click()
    look(page)
    page.get_by_label("Dispensed on").fill(on.isoformat())
    page.get_by_label("RMA number").fill(rma)
    page.get_by_role("button", name="Record dispense").click()
    expect(page.get_by_role("alert").first).to_contain_text("saved")
    look(page)


def test_staffs_morning_a_closing_window_is_unblocked_and_picked_up(
    log_in, look, live_server, new_context, clinic, clinician, staff, clinic_admin
):
    b = Builder(clinic, clinician, staff, clinic.today())
    morning_clinic(b)
    patient = window_closes_tomorrow_without_contraception(b)

    page = log_in(staff, check=look)
    expect(page).to_have_url(f"{live_server.url}/today/")
    expect(page.get_by_role("heading", name=re.compile("^Today"))).to_be_visible()
    safety = page.locator("section#group-safety")
    expect(safety.get_by_role("row").filter(has_text="Lockhart")).to_be_visible()
    row = today_row(page, "Brightwater")
    expect(row.locator(".badge")).to_have_text("closes tomorrow")
    expect(row).to_contain_text("Confirm two forms of contraception with the patient.")
    on_track_before = group_count(page, "on_track")
    look(page, "today")

    row.get_by_role("link", name="Brightwater, Rowan", exact=True).click()
    expect(page).to_have_url(f"{live_server.url}{patient.get_absolute_url()}")
    panel = page.locator("#status-panel")
    expect(panel.locator(".triage-line")).to_contain_text("Today: Pick-up window open")
    expect(panel.locator('[data-code="contraception_unconfirmed"]')).to_be_visible()
    expect(panel).to_contain_text("1 day left")
    look(page)

    page.get_by_role("link", name="Contraception", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("ontraception")
    look(page)
    page.get_by_label("Confirmed on").fill(clinic.today().isoformat())
    page.get_by_label("IUD").check()
    page.get_by_label("Male condom").check()
    page.get_by_label("Current methods started on").fill(b.day(-70).isoformat())
    page.get_by_role("button", name="Record confirmation").click()

    # The blocker is gone: every value of this cycle is recorded, so they go into iPLEDGE
    # next, from the entry sheet, one tick per item.
    expect(page).to_have_url(f"{live_server.url}{patient.get_absolute_url()}")
    panel = page.locator("#status-panel")
    expect(panel.locator('[data-code="contraception_unconfirmed"]')).to_have_count(0)
    expect(panel).to_contain_text("A prescription can be written today.")
    expect(panel.locator(".triage-line")).to_contain_text("Today: To enter in iPLEDGE")
    page.get_by_role("link", name="Open the entry sheet").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("iPLEDGE entry sheet")
    sheet = page.locator("main")
    expect(sheet).to_contain_text("Intrauterine device (IUD)")
    expect(sheet).to_contain_text("Barrier - male latex condom")
    expect(sheet.locator('[data-state="to-enter"]')).to_have_count(3)
    look(page, "ipledge-sheet")
    for _ in range(3):
        sheet.locator('[data-state="to-enter"]').first.get_by_role(
            "button", name="Tick: entered in iPLEDGE"
        ).click()
        expect(page.get_by_role("alert").first).to_contain_text("Ticked as entered in iPLEDGE")
    expect(sheet.locator('[data-state="entered"]')).to_have_count(3)
    expect(sheet).to_contain_text("Entered in iPLEDGE by Sam Rivera")
    look(page)
    page.get_by_role("link", name="Brightwater").first.click()

    # Entered: the window still closes tomorrow, and staff now ask the prescriber.
    panel = page.locator("#status-panel")
    expect(panel.locator(".triage-line")).to_contain_text("Ask the prescriber")
    look(page)
    page.get_by_role("link", name="Today").first.click()
    row = today_row(page, "Brightwater")
    expect(row.locator(".badge")).to_have_text("closes tomorrow")
    expect(row).to_contain_text("Ask the prescriber to write the prescription.")
    expect(row).not_to_contain_text("Confirm two forms of contraception")
    look(page)

    # The prescriber writes it at their desk; at the pick-up staff record the dispense, and the
    # patient leaves Today: on track until a week before the supply runs out.
    b.prescribe(patient, 0)
    row.get_by_role("link", name="Brightwater, Rowan", exact=True).click()
    record_dispense(page, look, clinic.today(), "000000042")
    panel = page.locator("#status-panel")
    until = clinic.today() + datetime.timedelta(days=30 - clinic.triage_horizon_days)
    expect(panel.locator(".triage-banner")).to_have_text(f"On track until {short(until)}.")
    expect(panel).to_have_attribute("data-group", "on_track")
    page.get_by_role("link", name="Today").first.click()
    expect(page.locator("main")).not_to_contain_text("Brightwater")
    assert group_count(page, "on_track") == on_track_before + 1

    # The clinic admin, in a browser of their own, finds on the audit page who did it, by name.
    admin_page = log_in(clinic_admin, on=new_context().new_page(), check=look)
    admin_page.goto(f"{live_server.url}/audit/")
    expect(admin_page.get_by_role("heading", level=1)).to_contain_text("Audit")
    expect(admin_page.locator("main")).to_contain_text("Brightwater")
    expect(admin_page.locator("main")).to_contain_text("Sam Rivera")
    look(admin_page, "audit")


def due_for_the_monthly_visit(b: Builder):
    """Month two: supply ends tomorrow, the monthly test and contraception are done, the visit
    (weight, mood screen, counseling, questions) is what is missing."""
    quinn = named_patient(b, "Quinn", "Ellery", enrolled_on=b.day(-80), weight_kg=64)
    ready_first_prescription(b, quinn, confirmation_on=-30)
    b.prescribe(quinn, -30, dispensed=-29)
    b.test(quinn, "monthly", -1)
    b.contraception(quinn, on=-1, started=-70)
    return quinn


def test_a_clinicians_monthly_visit_ends_in_a_written_prescription(
    log_in, look, live_server, clinic, clinician, staff
):
    b = Builder(clinic, clinician, staff, clinic.today())
    morning_clinic(b)
    patient = due_for_the_monthly_visit(b)

    page = log_in(clinician, check=look)
    expect(page).to_have_url(f"{live_server.url}/today/")
    look(page)
    row = today_row(page, "Ellery")
    expect(row).to_contain_text("in 5 days")
    expect(row).to_contain_text("See the patient for this month's visit.")
    row.get_by_role("link", name="Ellery, Quinn", exact=True).click()
    panel = page.locator("#status-panel")
    expect(panel).to_contain_text("A prescription cannot be written today.")
    expect(panel.locator('[data-code="visit_missing"]')).to_be_visible()
    look(page)

    page.get_by_role("link", name="Visit checklist", exact=True).click()
    expect(page.get_by_role("heading", name="Monthly visit checklist")).to_be_visible()
    page.get_by_label("Weight (kg)").fill("63.5")
    page.get_by_label("PHQ-2").fill("1")
    page.get_by_label("Dry lips").select_option("mild")
    page.get_by_label("I counseled the patient this month (clinician)").check()
    page.get_by_label("The patient completed this month's iPLEDGE comprehension questions").check()
    look(page, "checklist")
    page.get_by_role("button", name="Save visit").click()

    # The saved visit's page: the gate now lets a prescription through, with a form right there.
    expect(page.get_by_role("heading", level=1)).to_contain_text("Visit of")
    panel = page.locator("#status-panel")
    expect(panel).to_contain_text("A prescription can be written today.")
    expect(panel.locator(".blocker-list li")).to_have_count(0)
    expect(page.locator("#prescription")).to_be_visible()
    look(page)

    # The full prescription form (dosing weight, mg/kg/day, pick-up deadline) from the patient.
    page.get_by_role("link", name=re.compile("Quinn Ellery")).first.click()
    look(page)
    page.get_by_role("link", name="Write prescription").first.click()
    expect(page.get_by_role("heading", name="Prescription", exact=True)).to_be_visible()
    page.get_by_label("Daily dose (mg)").fill("40")
    page.get_by_label("Days' supply (1-30)").fill("30")
    expect(page.locator("#dosing-weight")).to_contain_text("63.5 kg")
    look(page, "prescription")
    page.get_by_role("button", name="Write prescription").click()
    expect(page.get_by_role("alert").first).to_contain_text("saved")
    written = Prescription.objects.filter(patient=patient).latest("pk")
    assert (written.daily_dose_mg, written.days_supply) == (40, 30)
    look(page)

    # Picked up today: the page turns green, on track until a week before this supply ends.
    record_dispense(page, look, clinic.today(), "000000077")
    panel = page.locator("#status-panel")
    until = clinic.today() + datetime.timedelta(days=30 - clinic.triage_horizon_days)
    expect(panel.locator(".triage-banner")).to_have_text(f"On track until {short(until)}.")
    expect(panel).not_to_contain_text("cannot be written")
    look(page, "patient")


def needs_contraception_and_questions(b: Builder):
    sage = named_patient(b, "Sage", "Fairbanks")
    b.baseline(sage, on=-10, can=True)
    b.test(sage, "screening", -30)
    b.test(sage, "confirmation", -1)
    b.visit(sage, -1, comprehension=False)
    return sage


def link_in_latest_email(to: str) -> str:
    message = [m for m in mail.outbox if to in m.to][-1]
    found = re.search(r"https?://\S+/p/[^/\s]+/", message.body)
    assert found, message.body
    return found.group(0)


def test_a_patient_follows_the_emailed_link_and_says_what_is_done(
    page, look, live_server, settings, clinic, clinician, staff
):
    settings.SITE_URL = live_server.url
    b = Builder(clinic, clinician, staff, clinic.today())
    patient = needs_contraception_and_questions(b)
    reminder = Reminder.objects.create(
        patient=patient,
        kind=ReminderKind.CONTRACEPTION_CONFIRM,
        due_on=b.day(5),
        send_at=datetime.datetime.now(datetime.UTC),
    )
    emails.reminder_email(reminder).send()

    page.goto(link_in_latest_email("sage.fairbanks@example.org"))
    main = page.locator("main")
    expect(main).to_contain_text("Hello Sage.")
    expect(main).to_contain_text("Confirm your two forms of birth control")
    expect(main).to_contain_text("555-0100")
    look(page, "self-service")

    page.get_by_label("IUD").check()
    page.get_by_label("Male condom").check()
    page.get_by_role("button", name="Confirm my methods").click()
    expect(page.get_by_text("Thank you: the clinic will see the methods you use.")).to_be_visible()
    expect(main).not_to_contain_text("Confirm your two forms of birth control")
    expect(main).to_contain_text("Done: you confirmed your birth control")
    look(page)

    page.get_by_role("button", name="I have answered this month's questions").click()
    expect(
        page.get_by_text("Thank you: the clinic will see that the questions are done.")
    ).to_be_visible()
    expect(page.get_by_role("button", name="I have answered this month's questions")).to_have_count(
        0
    )
    expect(main).not_to_contain_text("Answer this month's iPLEDGE questions")
    look(page)


# --- accounts that can be recovered (issue 21, item 6) ---------------------------------------


def test_a_clinician_who_forgot_the_password_resets_it_by_email_and_still_uses_the_code(
    page, look, log_in, live_server, settings, clinician
):
    from django.core.cache import cache

    from clinic import passwords
    from tests.e2e.conftest import authenticator, current_code

    cache.clear()
    settings.SITE_URL = live_server.url
    device = authenticator(clinician)
    page.goto(f"{live_server.url}/login/")
    page.get_by_role("link", name="Forgot your password?").click()
    expect(page.get_by_role("heading", name="Reset your password")).to_be_visible()
    page.get_by_label("Email").fill(clinician.email.upper())
    look(page, "password-reset")
    page.get_by_role("button", name="Send the reset link").click()
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
    look(page)

    passwords.wait_for_reset_emails()
    message = [m for m in mail.outbox if clinician.email in m.to][-1]
    link = re.search(r"https?://\S+/account/password/reset/\S+/\S+/", message.body).group(0)
    # The email as the clinician's mail program shows it: its words, in a page of their own.
    email_page = page.context.new_page()
    email_page.set_content(
        '<html lang="en"><head><title>Email</title></head><body style="font: 15px sans-serif;'
        ' margin: 24px; max-width: 720px"><main><h1 style="font-size: 18px">Email</h1>'
        f"<p><b>From:</b> {message.from_email}<br><b>To:</b> {message.to[0]}<br>"
        f"<b>Subject:</b> {message.subject}</p><hr>"
        '<pre style="white-space: pre-wrap; font: inherit"></pre></main></body></html>'
    )
    email_page.locator("pre").evaluate("(el, text) => { el.textContent = text; }", message.body)
    look(email_page, "password-reset-email")
    email_page.close()
    assert "Riverside" not in message.body  # no clinic, nothing clinical

    page.goto(link)
    expect(page.get_by_role("heading", name="Choose a new password")).to_be_visible()
    page.locator("#id_new_password1").fill("a-brand-new-passphrase-7")
    page.get_by_label("New password confirmation").fill("a-brand-new-passphrase-7")
    look(page)
    page.get_by_role("button", name="Save the new password").click()
    expect(page.get_by_role("heading", name="Your new password is saved")).to_be_visible()
    page.get_by_role("link", name="Log in").click()
    page.get_by_label("Username").fill(clinician.username)
    page.get_by_label("Password").fill("a-brand-new-passphrase-7")
    page.get_by_role("button", name="Log in").click()
    # The new password is only the first factor.
    expect(page.get_by_label("Code")).to_be_visible()
    page.get_by_label("Code").fill(current_code(device))
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("heading", name=re.compile("^Today"))).to_be_visible()
    # And the account menu has the change-password page.
    page.get_by_role("link", name="Change password").click()
    expect(page.get_by_role("heading", name="Change your password")).to_be_visible()
    look(page)


def test_a_clinic_admin_resends_an_invitation_asks_before_deactivating_and_reactivates(
    page, look, log_in, live_server, settings, clinic, clinic_admin, clinician, staff
):
    from django.contrib.auth import get_user_model

    settings.SITE_URL = live_server.url
    invited = member(clinic, "staff", username="jo.newman@example.org", first_name="Jo")
    invited.email = "jo.newman@example.org"
    invited.set_unusable_password()
    invited.save()
    gone = member(clinic, "staff", username="max.former", first_name="Max", last_name="Former")
    gone.is_active = False
    gone.save()

    log_in(clinic_admin)
    page.get_by_role("link", name="Team").click()
    expect(page.get_by_role("heading", name=re.compile("^Team of"))).to_be_visible()
    look(page, "team")
    # The action buttons start at the same place on every row.
    lefts = {
        round(box["x"])
        for box in (
            b.bounding_box() for b in page.locator("td.team-actions .btn:first-child").all()
        )
    }
    assert len(lefts) == 1, lefts

    row = page.get_by_role("row", name=re.compile("jo.newman"))
    row.get_by_role("button", name="Resend invitation").click()
    expect(page.get_by_text("A new invitation was sent to jo.newman@example.org.")).to_be_visible()
    assert [m.to for m in mail.outbox] == [["jo.newman@example.org"]]

    row = page.get_by_role("row", name=re.compile("sam.rivera"))
    row.get_by_role("link", name="Deactivate").click()
    expect(page.get_by_role("heading", name="Deactivate sam.rivera?")).to_be_visible()
    look(page, "team-confirm-deactivate")
    page.get_by_role("link", name="Cancel").click()
    staff.refresh_from_db()
    assert staff.is_active
    row = page.get_by_role("row", name=re.compile("sam.rivera"))
    row.get_by_role("link", name="Deactivate").click()
    page.get_by_role("button", name="Deactivate").click()
    expect(page.get_by_text("sam.rivera can no longer work in this clinic.")).to_be_visible()

    row = page.get_by_role("row", name=re.compile("max.former"))
    row.get_by_role("button", name="Reactivate").click()
    expect(page.get_by_text("max.former can work in this clinic again.")).to_be_visible()
    assert get_user_model().objects.get(pk=gone.pk).is_active
    look(page)
