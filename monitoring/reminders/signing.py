"""Signed links for patients, who have no password.

A token names one patient and a fingerprint of the email address it was sent to: it never opens
another patient's page, and a link mailed to an address since corrected stops working. Page links
expire (REMINDER_LINK_MAX_AGE_DAYS); calendar and unsubscribe links do not: calendar apps poll
for months, and an old email must still stop the next one.
"""

import datetime as dt
import hashlib

from django.conf import settings
from django.core import signing
from django.http import Http404

from patients.models import Patient

PAGE_SALT = "monitoring.reminders.self-service"
CALENDAR_SALT = "monitoring.reminders.calendar"
# Unsubscribe links never expire (an old email must still be able to stop the next one) and
# can do nothing but opt the patient out.
UNSUBSCRIBE_SALT = "monitoring.reminders.unsubscribe"


class LinkExpired(Exception):
    """The signature is good but older than the links' lifetime."""


def _email_tag(patient: Patient) -> str:
    return hashlib.sha256(patient.email.strip().lower().encode()).hexdigest()[:12]


def _dumps(patient: Patient, salt: str) -> str:
    return signing.dumps({"p": patient.pk, "e": _email_tag(patient)}, salt=salt)


def page_token(patient: Patient) -> str:
    return _dumps(patient, PAGE_SALT)


def calendar_token(patient: Patient) -> str:
    return _dumps(patient, CALENDAR_SALT)


def unsubscribe_token(patient: Patient) -> str:
    return _dumps(patient, UNSUBSCRIBE_SALT)


def _patient(token: str, salt: str, max_age: dt.timedelta | None) -> Patient:
    try:
        data = signing.loads(token, salt=salt, max_age=max_age)
    except signing.SignatureExpired:
        raise LinkExpired from None
    except signing.BadSignature:
        raise Http404("This link is not valid.") from None
    if not isinstance(data, dict):
        raise Http404("This link is not valid.")
    patient = Patient.objects.select_related("clinic").filter(pk=data.get("p")).first()
    if patient is None or data.get("e") != _email_tag(patient):
        raise Http404("This link is not valid.")
    return patient


def patient_for_page(token: str) -> Patient:
    """The patient a page link names; Http404 when forged, LinkExpired when too old."""
    return _patient(token, PAGE_SALT, dt.timedelta(days=settings.REMINDER_LINK_MAX_AGE_DAYS))


def patient_for_calendar(token: str) -> Patient:
    return _patient(token, CALENDAR_SALT, None)


def patient_for_unsubscribe(token: str) -> Patient:
    return _patient(token, UNSUBSCRIBE_SALT, None)
