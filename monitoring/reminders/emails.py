"""The emails, one function each; their words live in templates/emails/.

Subjects say only the clinic and a date: no clinical detail reaches a lock screen or a shared
inbox. Anything put into a header is cleaned of CR, LF and NUL first (no header injection).
"""

import re
import secrets
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.html import conditional_escape

import rules
from monitoring.history import load_histories

from . import signing
from .history_row import history_of


def clean_header(value: str) -> str:
    """One line: CR, LF, NUL and runs of whitespace become single spaces."""
    return " ".join(str(value).replace("\x00", " ").split())


def absolute(path: str) -> str:
    return settings.SITE_URL.rstrip("/") + path


def email_links(patient) -> dict:
    """The links a reminder email carries: the patient's page and the unsubscribe link."""
    return {
        "page_url": absolute(reverse("self_service:page", args=[signing.page_token(patient)])),
        "unsubscribe_url": absolute(
            reverse("self_service:unsubscribe", args=[signing.unsubscribe_token(patient)])
        ),
    }


def patient_links(patient) -> dict:
    """Every link of the patient's own pages, with the page link's lifetime."""
    return {
        **email_links(patient),
        "calendar_url": absolute(
            reverse("self_service:calendar", args=[signing.calendar_token(patient)])
        ),
        "link_days": settings.REMINDER_LINK_MAX_AGE_DAYS,
    }


def _domain() -> str:
    return urlsplit(settings.SITE_URL).hostname or "localhost"


def _render(name: str, context: dict) -> tuple[str, str, str]:
    """Subject, text body and HTML body of templates/emails/<name>-*."""
    return (
        render_to_string(f"emails/{name}-subject.txt", context),
        render_to_string(f"emails/{name}-body.txt", context),
        render_to_string(f"emails/{name}-body.html", context),
    )


def _message(rendered: tuple[str, str, str], to: list[str], headers: dict, reply_to=None):
    subject, text, html = rendered
    message = EmailMultiAlternatives(
        subject=clean_header(subject),
        body=text,
        from_email=clean_header(settings.DEFAULT_FROM_EMAIL),
        to=[clean_header(address) for address in to],
        reply_to=[clean_header(a) for a in reply_to or [] if a],
        headers={key: clean_header(value) for key, value in headers.items()},
    )
    message.attach_alternative(html, "text/html")
    return message


# Reminder emails, rendered once and filled in per patient ------------------------------------
# Rendering the three templates in the patient's language was the largest part of a send. The
# words of a reminder depend only on its language, kind, due date and clinic, and the reminders
# that go out on one day share a handful of those. So each such combination is rendered once,
# with a marker in place of each of the patient's own values, and every message fills the
# markers in: escaped as the template escapes them in the HTML body, as they are in the text
# bodies and the subject. tests/reminders/test_email_frames.py checks that the result is the direct
# rendering, byte for byte, for every kind and language and for names full of markup.
PATIENT_VALUES = ("given_name", "page_url", "unsubscribe_url")
# A marker is NUL, the value's name, a per-process random tag, NUL: nothing a clinic's own
# fields (rendered as they are) can hold by accident.
_TAG = secrets.token_hex(8)
_MARKED = re.compile("\x00(" + "|".join(PATIENT_VALUES) + f"):{_TAG}\x00")
_FRAMES: dict[tuple, tuple] = {}
_FRAMES_KEPT = 512


class _Frame:
    """A rendered template cut at its markers: literal text and value names, alternating."""

    def __init__(self, rendered: str, *, html: bool):
        self.parts = _MARKED.split(rendered)
        self.html = html

    def fill(self, values: dict) -> str:
        parts = self.parts.copy()
        for index in range(1, len(parts), 2):
            value = values[parts[index]]
            parts[index] = conditional_escape(value) if self.html else value
        return "".join(parts)


# The window's reminder promises a pick-up date only when there is a prescription to pick up;
# before it is written the same date is when the clinic's steps must be done.
WINDOW_CLOSING = "window_closing"
UNWRITTEN = "window_closing_unwritten"


def _action(kind: str, prescribed: bool) -> str:
    return UNWRITTEN if kind == WINDOW_CLOSING and not prescribed else kind


def _frames(
    patient, kind: str, due_on, language: str, prescribed: bool = False
) -> tuple[_Frame, _Frame, _Frame]:
    clinic = patient.clinic
    action = _action(kind, prescribed)
    key = (
        language,
        action,
        due_on,
        settings.REMINDER_LINK_MAX_AGE_DAYS,
        tuple(getattr(clinic, field.attname) for field in clinic._meta.concrete_fields),
    )
    frames = _FRAMES.get(key)
    if frames is None:
        context = {
            "clinic": clinic,
            "clinic_name": clean_header(clinic.name),
            "due_on": due_on,
            "action_template": f"emails/actions/{action}.txt",
            "link_days": settings.REMINDER_LINK_MAX_AGE_DAYS,
            **{name: f"\x00{name}:{_TAG}\x00" for name in PATIENT_VALUES},
        }
        subject, text, html = _render("reminder", context)
        frames = (_Frame(subject, html=False), _Frame(text, html=False), _Frame(html, html=True))
        if len(_FRAMES) >= _FRAMES_KEPT:
            _FRAMES.clear()
        _FRAMES[key] = frames
    return frames


def reminder_message_id(reminder) -> str:
    # The same Message-ID on every attempt: a mail client shows a rare duplicate only once.
    return f"<reminder-{reminder.pk}@{_domain()}>"


def prescription_waiting(reminder) -> bool:
    """Whether the patient's prescription is written and waits at the pharmacy (the engine's
    answer for today), from the history the sender read with the row, else from the database."""
    patient = reminder.patient
    text = getattr(reminder, "history_json", None)
    if text is not None:
        history = history_of(patient, text)
    else:
        history = load_histories([patient])[patient.pk][1]
    return rules.status(history, patient.clinic.today()).awaiting_pickup_since is not None


def reminder_email(reminder, *, prescribed: bool | None = None) -> EmailMultiAlternatives:
    """The patient's reminder: the action and its date, the clinic's contact, their links.
    Subject and bodies in the patient's language (locale/); staff digests stay English.
    `prescribed`: whether a prescription waits for pick-up (None: ask the engine), which only
    the window's reminder words differently."""
    patient = reminder.patient
    links = email_links(patient)
    if prescribed is None:
        prescribed = reminder.kind == WINDOW_CLOSING and prescription_waiting(reminder)
    with translation.override(patient.preferred_language):
        frames = _frames(
            patient, reminder.kind, reminder.due_on, translation.get_language(), prescribed
        )
    values = {"given_name": patient.given_name, **links}
    return _message(
        tuple(frame.fill(values) for frame in frames),
        to=[patient.email],
        headers={
            "Message-ID": reminder_message_id(reminder),
            "List-Unsubscribe": f"<{links['unsubscribe_url']}>",
            # RFC 8058: mail clients unsubscribe with one POST to that URL (no CSRF token).
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "Auto-Submitted": "auto-generated",
        },
        reply_to=[patient.clinic.contact_email],
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
        _render("digest", context),
        to=recipients,
        headers={
            "Message-ID": f"<digest-{clinic.pk}-{summary.day:%Y%m%d}@{_domain()}>",
            "Auto-Submitted": "auto-generated",
        },
    )
