"""The second factor (docs/quality.md A4, docs/security.md), on django-otp.

Clinicians and clinic admins (and superusers) see no patient data, on pages or in the API,
until their session has passed a second factor: a TOTP code from an authenticator app, set up
at the first login with a QR code, or one of ten single-use backup codes. A passkey (WebAuthn,
django-otp-webauthn) is the alternative to the app: registered on the same set-up page, used on
the verify page; backup codes come with it too. The API's token endpoint asks for the code as
well. A clinic admin can reset a colleague's devices, passkeys included (audited).

With DJANGO_DEBUG=true, DEMO_OTP=off turns the requirement off for scripted demos; production
settings ignore it (SECOND_FACTOR_REQUIRED in settings.py).
"""

import base64

import segno
from auditlog.models import LogEntry
from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import DisallowedHost, ValidationError
from django.db import transaction
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST
from django.views.i18n import JavaScriptCatalog
from django_otp import devices_for_user, user_has_device
from django_otp import login as otp_login
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp_webauthn import views as passkey_views
from django_otp_webauthn.models import WebAuthnCredential

from . import throttle
from .models import Membership
from .roles import Role

SECOND_FACTOR_ROLES = (Role.CLINICIAN, Role.CLINIC_ADMIN)
BACKUP_CODE_COUNT = 10


# --- who must pass it -----------------------------------------------------------------------


def needs_second_factor(user, memberships=None) -> bool:
    """Clinicians and clinic admins in any of their clinics, and superusers. `memberships`,
    when the request has them loaded already, saves a query."""
    if not settings.SECOND_FACTOR_REQUIRED or not user.is_authenticated:
        return False
    if user.is_superuser:
        return True
    if memberships is not None:
        return any(m.role in SECOND_FACTOR_ROLES for m in memberships)
    return Membership.objects.filter(user=user, role__in=SECOND_FACTOR_ROLES).exists()


def is_verified(user) -> bool:
    """The session passed a second factor (django-otp's OTPMiddleware sets is_verified)."""
    check = getattr(user, "is_verified", None)
    return bool(check and check())


def second_factor_passed(user, memberships=None) -> bool:
    return not needs_second_factor(user, memberships) or is_verified(user)


# --- services -------------------------------------------------------------------------------


def pending_totp_device(user) -> TOTPDevice:
    """The device being set up: an unconfirmed one kept across page loads (so the QR code a
    user scanned stays valid), else a new random key."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
    return device or TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=False)


def new_backup_codes(user) -> list[str]:
    """Ten fresh single-use codes; any earlier ones stop working."""
    with transaction.atomic():
        StaticDevice.objects.filter(user=user).delete()
        device = StaticDevice.objects.create(user=user, name="Backup codes", confirmed=True)
        codes = [StaticToken.random_token() for _ in range(BACKUP_CODE_COUNT)]
        StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    return codes


def passkey_origin() -> str:
    """The address on which passkeys work (the relying party's origin, from SITE_URL)."""
    return settings.OTP_WEBAUTHN_ALLOWED_ORIGINS[0]


def passkeys_work_here(request) -> bool:
    """A passkey works only on the relying party's own origin (OTP_WEBAUTHN_ALLOWED_ORIGINS:
    its host name OTP_WEBAUTHN_RP_ID, scheme and port). On http://127.0.0.1:8000 the browser
    refuses the ceremony (an IP address is never a relying party id), so the button is not
    offered there and the page names the address that works. Whether the browser can run it
    at all (WebAuthn, a secure context) is checked on the page (clinic/static/passkey.js in
    clinic/static).
    """
    try:
        host = request.get_host()
    except DisallowedHost:
        return False
    return (
        host.rsplit(":", 1)[0].strip("[]") == settings.OTP_WEBAUTHN_RP_ID
        and f"{request.scheme}://{host}" in settings.OTP_WEBAUTHN_ALLOWED_ORIGINS
    )


def has_passkey(user) -> bool:
    """The verify page then offers "Use your passkey" (backup codes still work)."""
    return WebAuthnCredential.objects.filter(user=user, confirmed=True).exists()


def matching_device(user, code: str, client_address: str | None):
    """The confirmed device (app or backup code) that accepts this code, else None; a backup
    code is used up by matching. Wrong codes are throttled per (user, client address), with a
    cap over every address (clinic/throttle.py): raises TooManyWrongCodes when this
    address must wait, without trying the code. django-otp's own throttle, one per device
    whatever the address, is off (OTP_*_THROTTLE_FACTOR = 0): an attacker's guesses would
    refuse the owner's right code."""
    code = "".join(code.split()).lower()
    with transaction.atomic():
        # One code check at a time per user (the user's row lock): parallel guesses would
        # otherwise all pass the wait below before any of them was counted.
        get_user_model().objects.select_for_update().only("pk").get(pk=user.pk)
        wait = throttle.wait_before_code(user, client_address)
        if wait > 0:
            raise throttle.TooManyWrongCodes(wait)
        if code and len(code) <= 16:
            for device in devices_for_user(user, confirmed=True, for_verify=True):
                if device.verify_token(code):
                    throttle.record_right_code(user, client_address)
                    return device
        throttle.record_wrong_code(user, client_address)
    return None


def reset_second_factor(membership: Membership, *, by) -> None:
    """A clinic admin clears a colleague's devices: they set up a new one at the next login."""
    if membership.user_id == by.pk:
        raise ValidationError("You cannot reset your own second factor; ask another clinic admin.")
    user = membership.user
    if user.is_superuser and not by.is_superuser:
        # A superuser's devices guard the whole site, not one clinic (clinic/team.py).
        raise ValidationError("Only a superuser can reset the second factor of a superuser.")
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user).delete()
        StaticDevice.objects.filter(user=user).delete()
        WebAuthnCredential.objects.filter(user=user).delete()
        user.auth_token_set.all().delete()  # API tokens were issued on the old device's codes
        LogEntry.objects.log_create(
            user,
            action=LogEntry.Action.UPDATE,
            changes={"second_factor": ["set up", "reset"]},
            actor=by,
            additional_data={"clinic_id": membership.clinic_id},
        )


# --- pages ----------------------------------------------------------------------------------


class CodeForm(forms.Form):
    code = forms.CharField(
        label="Code",
        max_length=32,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )


def _next_url(request) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return settings.LOGIN_REDIRECT_URL


def _device_for_code(request, form):
    """(the device the typed code matches, 200), else (None, 400) with the form's error, or
    (None, 429) while this client address must wait."""
    try:
        device = matching_device(
            request.user, form.cleaned_data["code"], throttle.client_address(request)
        )
    except throttle.TooManyWrongCodes as refused:
        form.add_error("code", refused.message)
        return None, 429
    if device is None:
        form.add_error("code", "That code is wrong or has expired. Try the newest one.")
        return None, 400
    return device, 200


@never_cache
def verify(request):
    """Enter a code from the app or a backup code."""
    if not needs_second_factor(request.user) or is_verified(request.user):
        return redirect(_next_url(request))
    if not user_has_device(request.user, confirmed=True):
        return redirect("otp_setup")
    form = CodeForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        device, status = _device_for_code(request, form)
        if device is not None:
            otp_login(request, device)
            if isinstance(device, StaticDevice):
                left = device.token_set.count()
                messages.warning(request, f"Backup code used: {left} left.")
            return redirect(_next_url(request))
    return render(
        request,
        "clinic/otp_verify.html",
        {
            "form": form,
            "next": _next_url(request),
            "has_passkey": has_passkey(request.user),
            "passkeys_here": passkeys_work_here(request),
            "passkey_origin": passkey_origin(),
        },
        status=400 if form.errors and status == 200 else status,
    )


@never_cache
def setup(request):
    """First login: scan the QR code, type a code to prove it works, keep the backup codes."""
    user = request.user
    if user_has_device(user, confirmed=True) and not is_verified(user):
        # Someone with only the password must not add a device of their own.
        return redirect("otp_verify")
    device = pending_totp_device(user)
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        code = "".join(form.cleaned_data["code"].split())
        if device.verify_token(code):
            with transaction.atomic():
                TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
                device.confirmed = True
                device.save(update_fields=["confirmed"])
            otp_login(request, device)
            return render(
                request, "clinic/otp_backup_codes.html", {"codes": new_backup_codes(user)}
            )
        form.add_error("code", "That code did not match. Check the app and try the newest one.")
    qr = segno.make(device.config_url, error="m").svg_inline(scale=4, border=2)
    qr_svg = mark_safe(qr)  # noqa: S308  # nosec B308 B703  # segno's paths, no text
    return render(
        request,
        "clinic/otp_setup.html",
        {
            "form": form,
            "qr_svg": qr_svg,
            "secret": base64.b32encode(device.bin_key).decode(),
            "passkeys_here": passkeys_work_here(request),
            "passkey_origin": passkey_origin(),
        },
        status=400 if form.errors else 200,
    )


@never_cache
@require_POST
def backup_codes(request):
    """A verified user replaces their backup codes (the old ones stop working)."""
    if not is_verified(request.user):
        return redirect("otp_verify")
    return render(
        request, "clinic/otp_backup_codes.html", {"codes": new_backup_codes(request.user)}
    )


# --- passkeys (docs/security.md) -----------------------------------------------------------
# django-otp-webauthn's ceremonies, under /account/ (open before the second factor, like the
# pages above) and for logged-in users only: an anonymous visitor is sent to the login page.
# Its own checks keep a user who has a device but has not passed it from adding a passkey, and
# a passkey of one user from verifying another; password-less login is off in settings.
# The scripts (its registration and authentication JS, clinic/static/clinic/passkey.js) are
# served from the app, as the Content-Security-Policy asks.
passkey_urlpatterns = [
    path(
        "registration/begin/",
        login_required(passkey_views.BeginCredentialRegistrationView.as_view()),
        name="credential-registration-begin",
    ),
    path(
        "registration/complete/",
        login_required(passkey_views.CompleteCredentialRegistrationView.as_view()),
        name="credential-registration-complete",
    ),
    path(
        "authentication/begin/",
        login_required(passkey_views.BeginCredentialAuthenticationView.as_view()),
        name="credential-authentication-begin",
    ),
    path(
        "authentication/complete/",
        login_required(passkey_views.CompleteCredentialAuthenticationView.as_view()),
        name="credential-authentication-complete",
    ),
    path(
        "jsi18n/",
        login_required(JavaScriptCatalog.as_view(packages=["django_otp_webauthn"])),
        name="js-i18n-catalog",
    ),
]
