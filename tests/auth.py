"""Logging a test client in as a user whose session has passed the second factor, as after a
real login with a code (clinic/twofactor.py). Tests of the second factor itself log in without
it, with client.force_login."""

from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from clinic.twofactor import needs_second_factor


def verified_login(client, user):
    """Staff need no second factor: their session stays as a real login leaves it."""
    client.force_login(user)
    if not needs_second_factor(user):
        return client
    device, _ = TOTPDevice.objects.get_or_create(
        user=user, name="test authenticator", defaults={"confirmed": True}
    )
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client


def totp_code(user) -> str:
    """The current code of the user's authenticator app (made confirmed if they had none)."""
    device, _ = TOTPDevice.objects.get_or_create(
        user=user, name="test authenticator", defaults={"confirmed": True}
    )
    return current_code(device)


def current_code(device) -> str:
    value = totp(device.bin_key, device.step, device.t0, device.digits, device.drift)
    return f"{value:0{device.digits}d}"
