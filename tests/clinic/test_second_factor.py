"""A second factor before any patient data for clinicians and clinic admins (docs/quality.md A4)."""

import datetime
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from auditlog.models import LogEntry
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp_webauthn.models import WebAuthnCredential
from rest_framework.test import APIClient

from clinic.models import Membership, SecondFactorFailures
from tests.auth import SoftPasskey, current_code, totp_code
from tests.factories import UserFactory, member
from tests.production import PRODUCTION, clean_environment

PASSWORD = "correct-horse-battery"
TOKEN_URL = "/api/v1/auth/token/"
ROOT = Path(__file__).resolve().parents[2]


def log_in(client, user):
    return client.post(reverse("login"), {"username": user.username, "password": PASSWORD})


def set_up(client, user) -> list[str]:
    """The first login's set-up, as a person does it: read the key off the page, type a code."""
    page = client.get(reverse("otp_setup"))
    assert page.status_code == 200
    assert "<svg" in page.content.decode()
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    assert page.context["secret"].rstrip("=") in page.content.decode()
    done = client.post(reverse("otp_setup"), {"code": current_code(device)})
    assert done.status_code == 200
    return re.findall(r"<li>([a-z2-7]+)</li>", done.content.decode())


@pytest.mark.parametrize("role", ["clinician", "clinic_admin"])
def test_first_login_goes_through_the_set_up_before_any_patient_page(client, clinic, patient, role):
    user = member(clinic, role)
    log_in(client, user)
    blocked = client.get(patient.get_absolute_url())
    assert blocked.status_code == 302
    assert blocked.url.startswith(reverse("otp_setup"))
    assert client.get(reverse("patients:list")).status_code == 302
    codes = set_up(client, user)
    assert len(set(codes)) == 10
    assert client.get(patient.get_absolute_url()).status_code == 200


def test_staff_are_not_asked_for_a_second_factor(client, staff, patient):
    log_in(client, staff)
    assert client.get(patient.get_absolute_url()).status_code == 200


def test_later_logins_ask_for_the_code_and_refuse_a_wrong_one(client, clinician, patient):
    code = totp_code(clinician)
    log_in(client, clinician)
    redirected = client.get(patient.get_absolute_url())
    assert redirected.url.startswith(reverse("otp_verify"))
    wrong = client.post(reverse("otp_verify"), {"code": "000000" if code != "000000" else "111111"})
    assert wrong.status_code == 400
    assert "code" in wrong.context["form"].errors
    assert client.get(patient.get_absolute_url()).status_code == 302
    # A wrong code makes this client address wait a second (clinic/throttle.py).
    too_soon = client.post(reverse("otp_verify"), {"code": code})
    assert too_soon.status_code == 429
    assert "wait 1 second," in too_soon.context["form"].errors["code"][0]
    SecondFactorFailures.objects.filter(user=clinician).update(
        last_failure_at=timezone.now() - datetime.timedelta(seconds=2)
    )
    answer = client.post(reverse("otp_verify"), {"code": code, "next": patient.get_absolute_url()})
    assert answer.url == patient.get_absolute_url()
    assert client.get(patient.get_absolute_url()).status_code == 200


def test_verify_does_not_follow_a_next_to_another_site(client, clinician):
    code = totp_code(clinician)
    log_in(client, clinician)
    answer = client.post(reverse("otp_verify"), {"code": code, "next": "https://evil.example/"})
    assert answer.url == reverse("home")


def test_a_backup_code_works_once(client, clinician, patient):
    log_in(client, clinician)
    codes = set_up(client, clinician)
    client.post(reverse("logout"))
    log_in(client, clinician)
    assert client.post(reverse("otp_verify"), {"code": codes[0]}).status_code == 302
    assert client.get(patient.get_absolute_url()).status_code == 200
    client.post(reverse("logout"))
    log_in(client, clinician)
    assert client.post(reverse("otp_verify"), {"code": codes[0]}).status_code == 400
    assert StaticDevice.objects.get(user=clinician).token_set.count() == 9


def test_with_only_the_password_no_new_device_can_be_added(client, clinician):
    totp_code(clinician)  # a confirmed device exists
    log_in(client, clinician)
    assert client.get(reverse("otp_setup")).url == reverse("otp_verify")
    assert client.post(reverse("otp_setup"), {"code": "123456"}).url == reverse("otp_verify")
    assert TOTPDevice.objects.filter(user=clinician).count() == 1


def test_an_unverified_session_gets_nothing_from_the_api(client, clinician, patient):
    log_in(client, clinician)
    response = client.get(f"/api/v1/patients/{patient.pk}/")
    assert response.status_code in (401, 403)
    assert b"given_name" not in response.content


def test_the_admin_asks_a_superuser_for_the_second_factor_too(client, db):
    superuser = UserFactory(is_staff=True, is_superuser=True)
    log_in(client, superuser)
    assert client.get("/admin/").url.startswith(reverse("otp_setup"))


# --- the API token endpoint -----------------------------------------------------------------


def ask_token(user, **extra):
    return APIClient().post(
        TOKEN_URL, {"username": user.username, "password": PASSWORD, **extra}, format="json"
    )


def test_the_token_endpoint_asks_a_clinician_for_the_code(clinician):
    code = totp_code(clinician)
    missing = ask_token(clinician)
    assert missing.status_code == 400 and list(missing.json()) == ["otp"]
    wrong = ask_token(clinician, otp="000000" if code != "000000" else "111111")
    assert wrong.status_code == 400 and list(wrong.json()) == ["otp"]
    SecondFactorFailures.objects.filter(user=clinician).update(
        last_failure_at=timezone.now() - datetime.timedelta(seconds=2)
    )
    assert list(ask_token(clinician, otp=code).json()) == ["token"]


def test_a_clinician_without_a_device_sets_it_up_in_the_browser_first(clinician):
    response = ask_token(clinician, otp="123456")
    assert response.status_code == 400
    assert "browser" in response.json()["otp"][0]


def test_a_wrong_password_says_nothing_about_the_second_factor(clinician):
    response = ask_token(clinician, password="nope")
    assert response.status_code == 400
    assert list(response.json()) == ["non_field_errors"]


def test_staff_get_a_token_without_a_code(staff):
    assert list(ask_token(staff).json()) == ["token"]


# --- a clinic admin resets a colleague's device ---------------------------------------------


def test_a_clinic_admin_resets_a_colleagues_device_and_it_is_audited(
    client_for, clinic, clinic_admin, clinician
):
    totp_code(clinician)
    membership = Membership.objects.get(user=clinician)
    client_for(clinic_admin).post(reverse("team_reset_otp", args=[membership.pk]))
    assert not TOTPDevice.objects.filter(user=clinician).exists()
    entry = LogEntry.objects.get(
        additional_data__clinic_id=clinic.pk, content_type__model="user", object_pk=clinician.pk
    )
    assert entry.actor == clinic_admin
    assert entry.changes_dict["second_factor"] == ["set up", "reset"]


def test_a_reset_sends_the_colleague_back_to_the_set_up(
    client, client_for, clinician, clinic_admin
):
    totp_code(clinician)
    admin_client = client_for(clinic_admin)
    admin_client.post(reverse("team_reset_otp", args=[Membership.objects.get(user=clinician).pk]))
    admin_client.logout()
    log_in(client, clinician)
    assert client.get(reverse("patients:list")).url.startswith(reverse("otp_setup"))


def test_an_admin_cannot_reset_their_own_or_another_clinics_device(
    client_for, clinic_admin, other_clinic
):
    own_code = totp_code(clinic_admin)
    theirs = member(other_clinic, "clinician")
    totp_code(theirs)
    client = client_for(clinic_admin)
    client.post(reverse("team_reset_otp", args=[Membership.objects.get(user=clinic_admin).pk]))
    other = client.post(reverse("team_reset_otp", args=[Membership.objects.get(user=theirs).pk]))
    assert other.status_code == 404
    assert TOTPDevice.objects.filter(user=clinic_admin).exists() and own_code
    assert TOTPDevice.objects.filter(user=theirs).exists()


# --- DEMO_OTP --------------------------------------------------------------------------------


def test_demo_otp_off_lets_a_development_server_skip_it(client, clinician, patient, settings):
    settings.SECOND_FACTOR_REQUIRED = False  # what DJANGO_DEBUG=true DEMO_OTP=off gives
    log_in(client, clinician)
    assert client.get(patient.get_absolute_url()).status_code == 200


@pytest.mark.parametrize(
    ("env", "required"),
    [
        ({"DJANGO_DEBUG": "true", "DEMO_OTP": "off"}, "False"),
        ({"DJANGO_DEBUG": "true"}, "True"),
        (
            {"DEMO_OTP": "off", **PRODUCTION},
            "True",
        ),
    ],
)
def test_production_settings_ignore_demo_otp(env, required):
    base = clean_environment()
    result = subprocess.run(
        [sys.executable, "-c", "import config.settings as s; print(s.SECOND_FACTOR_REQUIRED)"],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.stdout.strip() == required, result.stderr


# --- a passkey instead of the app (django-otp-webauthn) ---------------------------------------

PASSKEY = "/account/two-factor/passkey/"


@pytest.fixture
def passkey_site(settings):
    """The test client's origin as the relying party (settings derive it from SITE_URL)."""
    settings.OTP_WEBAUTHN_RP_ID = "testserver"
    settings.OTP_WEBAUTHN_ALLOWED_ORIGINS = ["http://testserver"]


def ceremony(client, kind: str, answer, next_url=""):
    """Begin and complete a registration or authentication: the JSON the page's script sends."""
    begin = client.post(f"{PASSKEY}{kind}/begin/", content_type="application/json")
    assert begin.status_code == 200, begin.content
    query = f"?next={next_url}" if next_url else ""
    return client.post(
        f"{PASSKEY}{kind}/complete/{query}",
        json.dumps(answer(begin.json())),
        content_type="application/json",
    )


def register_passkey(client, user) -> SoftPasskey:
    """The first login's set-up with a passkey: the page offers it, the browser makes one."""
    log_in(client, user)
    page = client.get(reverse("otp_setup")).content.decode()
    assert "Use a passkey instead" in page
    assert 'id="otp_webauthn_config"' in page and "otp_webauthn_register.js" in page
    passkey = SoftPasskey()
    assert ceremony(client, "registration", passkey.create).status_code == 200
    return passkey


def test_a_passkey_set_up_at_first_login_passes_the_second_factor(
    client, clinician, patient, passkey_site
):
    log_in(client, clinician)
    assert client.get(patient.get_absolute_url()).url.startswith(reverse("otp_setup"))
    register_passkey(client, clinician)
    assert WebAuthnCredential.objects.filter(user=clinician, confirmed=True).count() == 1
    assert client.get(patient.get_absolute_url()).status_code == 200
    # The page then asks for the backup codes, as after the app's set-up.
    codes = client.post(reverse("otp_backup_codes"))
    assert len(re.findall(r"<li>([a-z2-7]+)</li>", codes.content.decode())) == 10


def test_a_later_login_with_the_passkey_is_verified_without_a_code(
    client, clinician, patient, passkey_site
):
    passkey = register_passkey(client, clinician)
    client.post(reverse("logout"))
    log_in(client, clinician)
    blocked = client.get(patient.get_absolute_url())
    assert blocked.url.startswith(reverse("otp_verify"))
    page = client.get(blocked.url).content.decode()
    assert "Use your passkey" in page and "otp_webauthn_auth.js" in page
    done = ceremony(client, "authentication", passkey.get, next_url=patient.get_absolute_url())
    assert done.status_code == 200
    assert done.json()["redirect_url"] == patient.get_absolute_url()
    response = client.get(patient.get_absolute_url())
    assert response.status_code == 200
    assert response.wsgi_request.user.is_verified()


def test_another_users_passkey_or_a_wrong_key_does_not_verify(
    client, clinician, clinic, patient, passkey_site
):
    passkey = register_passkey(client, clinician)
    client.post(reverse("logout"))
    colleague = member(clinic, "clinician")
    register_passkey(client, colleague)
    client.post(reverse("logout"))
    log_in(client, colleague)
    assert ceremony(client, "authentication", passkey.get).status_code >= 400
    forged = SoftPasskey()
    forged.credential_id = passkey.credential_id  # the clinician's id, a key of its own
    client.post(reverse("logout"))
    log_in(client, clinician)
    assert ceremony(client, "authentication", forged.get).status_code >= 400
    assert client.get(patient.get_absolute_url()).url.startswith(reverse("otp_verify"))


def test_with_only_the_password_no_passkey_can_be_added(client, clinician, passkey_site):
    totp_code(clinician)  # a confirmed app exists
    log_in(client, clinician)
    begin = client.post(f"{PASSKEY}registration/begin/", content_type="application/json")
    assert begin.status_code == 403
    assert not WebAuthnCredential.objects.filter(user=clinician).exists()


def test_passkeys_need_a_login_and_never_replace_the_password(client, passkey_site):
    for kind in ("registration", "authentication"):
        response = client.post(f"{PASSKEY}{kind}/begin/", content_type="application/json")
        assert response.status_code == 302 and response.url.startswith(reverse("login"))


def test_a_passkey_user_can_still_use_a_backup_code(client, clinician, patient, passkey_site):
    register_passkey(client, clinician)
    codes = re.findall(
        r"<li>([a-z2-7]+)</li>", client.post(reverse("otp_backup_codes")).content.decode()
    )
    client.post(reverse("logout"))
    log_in(client, clinician)
    assert client.post(reverse("otp_verify"), {"code": codes[0]}).status_code == 302
    assert client.get(patient.get_absolute_url()).status_code == 200


def test_a_reset_removes_the_passkey_too_and_is_audited(
    client, client_for, clinic, clinician, clinic_admin, passkey_site
):
    passkey = register_passkey(client, clinician)
    client.post(reverse("otp_backup_codes"))
    client.post(reverse("logout"))
    membership = Membership.objects.get(user=clinician)
    client_for(clinic_admin).post(reverse("team_reset_otp", args=[membership.pk]))
    assert not WebAuthnCredential.objects.filter(user=clinician).exists()
    assert not StaticDevice.objects.filter(user=clinician).exists()
    entry = LogEntry.objects.get(
        additional_data__clinic_id=clinic.pk, content_type__model="user", object_pk=clinician.pk
    )
    assert entry.actor == clinic_admin
    assert entry.changes_dict["second_factor"] == ["set up", "reset"]
    log_in(client, clinician)
    assert client.get(reverse("patients:list")).url.startswith(reverse("otp_setup"))
    assert ceremony(client, "authentication", passkey.get).status_code >= 400
