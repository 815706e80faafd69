"""A passkey instead of the authenticator app, in Chromium with a virtual authenticator (the
DevTools protocol's WebAuthn domain): a clinician registers one at the first login, then logs
in with it and no code (clinic/twofactor.py, docs/security.md)."""

import re

import pytest
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp_webauthn.models import WebAuthnCredential
from playwright.sync_api import expect

from tests.e2e.conftest import PASSWORD

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

TODAY = re.compile("^Today")


@pytest.fixture
def passkey_site(live_server, settings):
    """The live server's origin as the relying party (settings derive it from SITE_URL)."""
    settings.OTP_WEBAUTHN_RP_ID = "localhost"
    settings.OTP_WEBAUTHN_ALLOWED_ORIGINS = [live_server.url]
    assert live_server.url.startswith("http://localhost:")  # a passkey needs a host name
    return live_server.url


@pytest.fixture
def authenticator(page):
    """A platform authenticator that verifies the user (as a fingerprint would) at once."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    found = cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
            }
        },
    )
    yield cdp, found["authenticatorId"]
    cdp.send("WebAuthn.disable")


def log_in_with_password(page, site, user):
    page.goto(f"{site}/login/")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def test_a_clinician_sets_up_a_passkey_then_logs_in_with_it_and_no_code(
    page, passkey_site, authenticator, clinician
):
    cdp, authenticator_id = authenticator
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

    log_in_with_password(page, passkey_site, clinician)
    expect(page.get_by_role("heading", name="Set up your second factor")).to_be_visible()
    # The passkey scripts load deferred: a click before they run would do nothing.
    page.wait_for_load_state("networkidle")
    page.get_by_role("button", name="Use a passkey instead").click()
    # The browser's passkey ceremony and two round trips: slow on a loaded machine.
    expect(page.get_by_role("heading", name="Your backup codes")).to_be_visible(timeout=30_000)
    assert page.locator(".backup-codes li").count() == 10
    assert WebAuthnCredential.objects.filter(user=clinician, confirmed=True).count() == 1
    assert not TOTPDevice.objects.filter(user=clinician, confirmed=True).exists()
    stored = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator_id})
    assert len(stored["credentials"]) == 1
    page.get_by_role("link", name="Continue").click()
    expect(page.get_by_role("heading", name=TODAY)).to_be_visible(timeout=30_000)

    page.get_by_role("button", name=re.compile("Log out")).click()
    expect(page.get_by_label("Username")).to_be_visible()

    log_in_with_password(page, passkey_site, clinician)
    expect(page.get_by_role("heading", name="Use your passkey")).to_be_visible()
    assert "Today" not in page.title()
    page.wait_for_load_state("networkidle")
    page.get_by_role("button", name="Use your passkey").click()
    expect(page.get_by_role("heading", name=TODAY)).to_be_visible(timeout=30_000)
    assert not [e for e in errors if "Content Security Policy" in e], errors
