"""Passkeys where `make run` points (issue 21, item 11): the address it prints is the relying
party's origin, and the passkey button is offered only on that origin
(clinic/twofactor.py, passkeys_work_here)."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.urls import reverse
from django_otp_webauthn.models import WebAuthnCredential

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_run_prints_the_address_where_passkeys_work():
    env = {k: v for k, v in os.environ.items() if k not in ("SITE_URL", "OTP_WEBAUTHN_RP_ID")}
    dry_run = subprocess.run(
        ["make", "-n", "run", "PORT=8123"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    printed = re.search(r"Open (\S+)/ ", dry_run.stdout).group(1)
    # The settings `make run` starts with (SITE_URL from the Makefile), in a fresh process.
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "import json, django; django.setup(); from django.conf import settings; "
            "print(json.dumps(settings.OTP_WEBAUTHN_ALLOWED_ORIGINS))",
        ],
        cwd=ROOT,
        env={
            **env,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DJANGO_DEBUG": "true",
            "SITE_URL": "http://127.0.0.1:8123",
        },
        capture_output=True,
        text=True,
        check=True,
    )
    assert printed == "http://localhost:8123"
    assert json.loads(probe.stdout.strip().splitlines()[-1]) == [printed]


@pytest.fixture
def localhost_site(settings):
    """The development settings: SITE_URL on 127.0.0.1, passkeys on localhost."""
    settings.OTP_WEBAUTHN_RP_ID = "localhost"
    settings.OTP_WEBAUTHN_ALLOWED_ORIGINS = ["http://localhost:8000"]
    settings.ALLOWED_HOSTS = ["localhost", "127.0.0.1", "testserver"]


def test_the_set_up_page_offers_a_passkey_only_on_its_address(client, clinician, localhost_site):
    client.force_login(clinician)
    on_ip = client.get(reverse("otp_setup"), HTTP_HOST="127.0.0.1:8000").content.decode()
    assert "passkey-register-button" not in on_ip
    assert "otp_webauthn_register.js" not in on_ip
    assert 'Passkeys work only at <a href="http://localhost:8000/login/">' in on_ip
    on_name = client.get(reverse("otp_setup"), HTTP_HOST="localhost:8000").content.decode()
    assert "passkey-register-button" in on_name
    assert "otp_webauthn_register.js" in on_name
    assert "clinic/passkey.js" in on_name  # hides it where the browser cannot run it


def test_the_code_page_names_the_passkeys_address_elsewhere(client, clinician, localhost_site):
    WebAuthnCredential.objects.create(
        user=clinician,
        name="laptop",
        confirmed=True,
        credential_id=b"x",
        public_key=b"y",
        sign_count=0,
    )
    client.force_login(clinician)
    on_ip = client.get(reverse("otp_verify"), HTTP_HOST="127.0.0.1:8000").content.decode()
    assert "Use your passkey" not in on_ip
    assert "otp_webauthn_auth.js" not in on_ip
    assert "Your passkey works only at" in on_ip and "backup codes" in on_ip
    on_name = client.get(reverse("otp_verify"), HTTP_HOST="localhost:8000").content.decode()
    assert "Use your passkey" in on_name and "otp_webauthn_auth.js" in on_name


def test_another_port_of_the_same_host_is_not_the_relying_party(client, clinician, localhost_site):
    client.force_login(clinician)
    page = client.get(reverse("otp_setup"), HTTP_HOST="localhost:9000").content.decode()
    assert "passkey-register-button" not in page
