"""The session's end in Chromium (clinic/session_guard.py, clinic/static/clinic/
idle.js and kept-form.js): the idle warning and its "Stay signed in" button, with the timeout
shortened by settings; a form sent after the session ended is filled in again after login."""

import datetime
import time

import pytest
from django.contrib.sessions.models import Session
from django.utils import timezone
from playwright.sync_api import expect

from patients.models import Patient

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_the_idle_warning_offers_to_stay_signed_in_and_then_says_the_session_ended(
    page, log_in, live_server, settings, staff
):
    # Fifteen minutes warned at thirteen, shrunk: ten seconds warned at four.
    settings.SESSION_COOKIE_AGE, settings.SESSION_IDLE_WARNING_SECONDS = 10, 6
    log_in(staff)
    page.goto(f"{live_server.url}/patients/")
    warning = page.locator("#idle-warning")
    expect(warning).to_be_hidden()
    expect(warning).to_be_visible(timeout=8_000)
    expect(warning).to_contain_text("You will be signed out in")
    stay = page.get_by_role("button", name="Stay signed in")
    expect(stay).to_be_focused()
    stay.click()
    expect(warning).to_be_hidden()
    # The click refreshed the server's session: well past the first deadline it still works.
    time.sleep(5)
    session = Session.objects.order_by("-expire_date").first()
    assert session.expire_date > timezone.now()
    # Left alone, the warning comes back and then says the session has ended.
    expect(page.locator("#idle-ended")).to_be_visible(timeout=15_000)
    expect(warning).to_be_hidden()
    page.reload()
    expect(page.get_by_label("Username")).to_be_visible()


def test_a_form_sent_after_the_session_ended_is_filled_in_again_after_login(
    page, log_in, live_server, staff
):
    log_in(staff)
    page.goto(f"{live_server.url}/patients/new/")
    page.get_by_label("Given name").fill("Reese")
    page.get_by_label("Family name").fill("Ashdown")
    # Fifteen idle minutes, at once: the server's session is past its expiry.
    Session.objects.update(expire_date=timezone.now() - datetime.timedelta(seconds=1))
    form = page.locator("main form", has=page.get_by_label("Given name"))
    # Sent half-filled (the browser's own required-field check off): the server's answer to an
    # ended session comes before any validation.
    form.evaluate("f => { f.noValidate = true; }")
    form.locator("[type=submit]").click()

    expect(page.get_by_label("Username")).to_be_visible()
    page.get_by_label("Username").fill(staff.username)
    page.get_by_label("Password").fill("correct-horse-battery")
    page.get_by_role("button", name="Log in").click()

    expect(page.locator("#kept-form-notice")).to_contain_text("What you typed is filled in again")
    expect(page.get_by_label("Given name")).to_have_value("Reese")
    expect(page.get_by_label("Family name")).to_have_value("Ashdown")
    assert page.url.endswith("/patients/new/")
    assert not Patient.objects.filter(family_name="Ashdown").exists()  # not sent by itself
