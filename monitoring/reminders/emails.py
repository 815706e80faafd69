"""The emails, one function each; their words live in templates/emails/.

Subjects say only the clinic and a date: no clinical detail reaches a lock screen or a shared
inbox. Anything put into a header is cleaned of CR, LF and NUL first (no header injection).
"""

from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation

from . import signing


def clean_header(value: str) -> str:
    """One line: CR, LF, NUL and runs of whitespace become single spaces."""
    return " ".join(str(value).replace("\x00", " ").split())


def absolute(path: str) -> str:
    return settings.SITE_URL.rstrip("/") + path


def patient_links(patient) -> dict:
    return {
        "page_url": absolute(reverse("self_service:page", args=[signing.page_token(patient)])),
        "unsubscribe_url": absolute(
            reverse("self_service:unsubscribe", args=[signing.unsubscribe_token(patient)])
        ),
        "calendar_url": absolute(
            reverse("self_service:calendar", args=[signing.calendar_token(patient)])
        ),
        "link_days": settings.REMINDER_LINK_MAX_AGE_DAYS,
    }


def _domain() -> str:
    return urlsplit(settings.SITE_URL).hostname or "localhost"


def _message(name: str, context: dict, to: list[str], headers: dict, reply_to=None):
    subject = clean_header(render_to_string(f"emails/{name}-subject.txt", context))
    text = render_to_string(f"emails/{name}-body.txt", context)
    html = render_to_string(f"emails/{name}-body.html", context)
    message = EmailMultiAlternatives(
        subject=subject,
        body=text,
        from_email=clean_header(settings.DEFAULT_FROM_EMAIL),
        to=[clean_header(address) for address in to],
        reply_to=[clean_header(a) for a in reply_to or [] if a],
        headers={key: clean_header(value) for key, value in headers.items()},
    )
    message.attach_alternative(html, "text/html")
    return message


def reminder_message_id(reminder) -> str:
    # The same Message-ID on every attempt: a mail client shows a rare duplicate only once.
    return f"<reminder-{reminder.pk}@{_domain()}>"


def reminder_email(reminder) -> EmailMultiAlternatives:
    """The patient's reminder: the action and its date, the clinic's contact, their links."""
    patient = reminder.patient
    clinic = patient.clinic
    links = patient_links(patient)
    context = {
        "clinic": clinic,
        "clinic_name": clean_header(clinic.name),
        "given_name": patient.given_name,
        "due_on": reminder.due_on,
        "action_template": f"emails/actions/{reminder.kind}.txt",
        **links,
    }
    # Subject and bodies in the patient's language (locale/); staff digests stay English.
    with translation.override(patient.preferred_language):
        return _reminder_message(reminder, context, links)


def _reminder_message(reminder, context, links) -> EmailMultiAlternatives:
    patient, clinic = reminder.patient, reminder.patient.clinic
    return _message(
        "reminder",
        context,
        to=[patient.email],
        headers={
            "Message-ID": reminder_message_id(reminder),
            "List-Unsubscribe": f"<{links['unsubscribe_url']}>",
            # RFC 8058: mail clients unsubscribe with one POST to that URL (no CSRF token).
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "Auto-Submitted": "auto-generated",
        },
        reply_to=[clinic.contact_email],
    )


def staff_digest_email(clinic, summary, recipients: list[str]) -> EmailMultiAlternatives:
    """The daily digest for a clinic's staff: counts and names, a generic subject."""
    context = {
        "clinic": clinic,
        "clinic_name": clean_header(clinic.name),
        "summary": summary,
        "reminders_url": absolute(reverse("reminders:list")),
        "home_url": absolute(reverse("home")),
    }
    return _message(
        "digest",
        context,
        to=recipients,
        headers={
            "Message-ID": f"<digest-{clinic.pk}-{summary.day:%Y%m%d}@{_domain()}>",
            "Auto-Submitted": "auto-generated",
        },
    )
