"""Links for patients, who have no password (docs/security.md, "Patient links").

A token names one patient and a fingerprint of the email address it was sent to: it never opens
another patient's page, and a link mailed to an address since corrected stops working. Page links
expire (REMINDER_LINK_MAX_AGE_DAYS); calendar and unsubscribe links do not: calendar apps poll
for months, and an old email must still stop the next one.

The token is encrypted, not only signed: a signed token's payload is base64 that anyone holding
the link (a mail scanner, a proxy's log, a shared screen) reads as the patient's id and an email
fingerprint. It is AES-SIV (RFC 5297) under a key derived from SECRET_KEY, with the link's purpose
as associated data, so a calendar token opens no page; the same patient, purpose and second give
the same token, which is all SIV's determinism reveals. Keys from SECRET_KEY_FALLBACKS still
open links made before a key rotation.

Links made before these tokens (Django-signed, "payload:timestamp:signature") still open until
they expire: page links after REMINDER_LINK_MAX_AGE_DAYS; calendar and unsubscribe links, which
never expired, keep working (an unsubscribe link in an old email must still work).
"""

import base64
import binascii
import datetime as dt
import functools
import hashlib
import struct
import time

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESSIV
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core import signing
from django.http import Http404

from patients.models import Patient

# The purposes, as the associated data of each token (and the legacy tokens' salts).
PAGE_SALT = "monitoring.reminders.self-service"
CALENDAR_SALT = "monitoring.reminders.calendar"
# Unsubscribe links never expire (an old email must still be able to stop the next one) and
# can do nothing but opt the patient out.
UNSUBSCRIBE_SALT = "monitoring.reminders.unsubscribe"

_VERSION = b"\x01"
# patient id, seconds since the epoch when made, the email fingerprint's first 8 bytes
_PAYLOAD = struct.Struct(">QQ8s")


class LinkExpired(Exception):
    """The token is good but older than the links' lifetime."""


def _email_digest(patient: Patient) -> bytes:
    return hashlib.sha256(patient.email.strip().lower().encode()).digest()


def _email_tag(patient: Patient) -> str:
    """The legacy tokens' fingerprint (their payload held it in clear)."""
    return _email_digest(patient).hex()[:12]


@functools.lru_cache(maxsize=8)
def _cipher(secret: str) -> AESSIV:
    key = HKDF(
        algorithm=hashes.SHA256(), length=64, salt=None, info=b"monitoring.reminders.links"
    ).derive(secret.encode())
    return AESSIV(key)


def _ciphers() -> list[AESSIV]:
    return [_cipher(s) for s in [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]]


def _dumps(patient: Patient, purpose: str) -> str:
    payload = _PAYLOAD.pack(patient.pk, int(time.time()), _email_digest(patient)[:8])
    sealed = _VERSION + _cipher(settings.SECRET_KEY).encrypt(payload, [purpose.encode()])
    return base64.urlsafe_b64encode(sealed).rstrip(b"=").decode()


def page_token(patient: Patient) -> str:
    return _dumps(patient, PAGE_SALT)


def calendar_token(patient: Patient) -> str:
    return _dumps(patient, CALENDAR_SALT)


def unsubscribe_token(patient: Patient) -> str:
    return _dumps(patient, UNSUBSCRIBE_SALT)


def _invalid() -> Http404:
    return Http404("This link is not valid.")


def _opened(token: str, purpose: str) -> tuple[int, int, bytes]:
    """(patient id, made at, email fingerprint) of a token; Http404 when it opens with no key."""
    try:
        sealed = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        raise _invalid() from None
    if not sealed.startswith(_VERSION):
        raise _invalid()
    for cipher in _ciphers():
        try:
            payload = cipher.decrypt(sealed[len(_VERSION) :], [purpose.encode()])
        except (InvalidTag, ValueError):
            continue
        if len(payload) == _PAYLOAD.size:
            return _PAYLOAD.unpack(payload)
    raise _invalid()


def _patient(token: str, purpose: str, max_age: dt.timedelta | None) -> Patient:
    if ":" in token:
        return _legacy_patient(token, purpose, max_age)
    patient_id, made_at, email = _opened(token, purpose)
    patient = Patient.objects.select_related("clinic").filter(pk=patient_id).first()
    if patient is None or email != _email_digest(patient)[:8]:
        raise _invalid()
    if max_age is not None and time.time() - made_at > max_age.total_seconds():
        raise LinkExpired
    return patient


def _legacy_patient(token: str, salt: str, max_age: dt.timedelta | None) -> Patient:
    """A link mailed before the tokens were encrypted: signed, its payload in clear."""
    try:
        data = signing.loads(token, salt=salt, max_age=max_age)
    except signing.SignatureExpired:
        raise LinkExpired from None
    except signing.BadSignature:
        raise _invalid() from None
    if not isinstance(data, dict):
        raise _invalid()
    patient = Patient.objects.select_related("clinic").filter(pk=data.get("p")).first()
    if patient is None or data.get("e") != _email_tag(patient):
        raise _invalid()
    return patient


def page_max_age() -> dt.timedelta:
    return dt.timedelta(days=settings.REMINDER_LINK_MAX_AGE_DAYS)


def patient_for_page(token: str) -> Patient:
    """The patient a page link names; Http404 when forged, LinkExpired when too old."""
    return _patient(token, PAGE_SALT, page_max_age())


def patient_of_expired_page(token: str) -> Patient | None:
    """The patient a genuine page link names, however old (to word its "expired" page in their
    language); None when the link is not genuine."""
    try:
        return _patient(token, PAGE_SALT, None)
    except Http404:
        return None


def patient_for_calendar(token: str) -> Patient:
    return _patient(token, CALENDAR_SALT, None)


def patient_for_unsubscribe(token: str) -> Patient:
    return _patient(token, UNSUBSCRIBE_SALT, None)
