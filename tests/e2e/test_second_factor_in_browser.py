"""A clinician's first login in the browser goes through the TOTP set-up (docs/quality.md A4)."""

import base64

import pytest
from django_otp.oath import TOTP
from playwright.sync_api import expect

from tests.e2e.conftest import PASSWORD
from tests.factories import enroll

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def code_for(secret: str) -> str:
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    return f"{TOTP(key).token():06d}"


def test_first_login_sets_up_the_app_then_shows_backup_codes_then_patients(
    page, live_server, clinic, clinician, staff
):
    patient = enroll(clinic, by=staff, given_name="Rowan", family_name="Hollis")
    page.goto(f"{live_server.url}/patients/{patient.pk}/")
    page.get_by_label("Username").fill(clinician.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Set up your second factor")).to_be_visible()
    expect(page.locator(".otp-qr svg")).to_be_visible()
    assert "Hollis" not in page.content()
    secret = page.locator(".otp-secret").inner_text()
    page.get_by_label("Code").fill(code_for(secret))
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("heading", name="Your backup codes")).to_be_visible()
    assert page.locator(".backup-codes li").count() == 10
    page.goto(f"{live_server.url}/patients/{patient.pk}/")
    expect(page.get_by_role("heading", name="Rowan Hollis")).to_be_visible()
