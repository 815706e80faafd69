"""The body of the send task: re-check the row, send once, record the attempt.

Idempotent and safe under `acks_late`: the task takes only an id and does nothing unless the row
is claimed (status sending, claimed_at set). Starting an attempt swaps claimed_at for NULL in a
conditional UPDATE, so of two deliveries of the same message only one sends. The row is marked
sent only after the SMTP server accepted the message; a worker killed between the two leaves the
attempt open, and the dispatcher later records it as a possible duplicate.

Transient SMTP trouble (4xx, refused or dropped connections, timeouts) puts the row back to
pending with an exponential backoff (REMINDER_RETRY_BASE_SECONDS * 2**(attempt - 1)), at most
REMINDER_MAX_ATTEMPTS attempts: the retry is a row, not a far-future Celery ETA message, so it
survives a Redis restart and shows on the staff page. A permanent refusal (5xx) fails at once.
"""

import datetime as dt
import logging
import smtplib

from django.conf import settings
from django.db.models import F
from django.utils import timezone

from monitoring import rules
from monitoring.history import load_histories
from monitoring.models import Reminder, ReminderStatus

from . import emails
from .planner import needed

log = logging.getLogger(__name__)


def recheck(reminder: Reminder, today: dt.date) -> tuple[str, str] | None:
    """(final status, reason) when the reminder must not go out, else None."""
    patient = reminder.patient
    if patient.email_opt_out:
        return ReminderStatus.CANCELLED, "the patient opted out of reminder emails"
    if not patient.email:
        return ReminderStatus.CANCELLED, "the patient has no email address"
    if reminder.due_on < today:
        return ReminderStatus.EXPIRED, f"the due date passed before it could be sent ({today})"
    history = load_histories([patient])[patient.pk][1]
    if needed(rules.status(history, today)).get(reminder.kind) != reminder.due_on:
        return ReminderStatus.CANCELLED, "no longer needed"
    return None


def is_transient(error: BaseException) -> bool:
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in error.recipients.values()]
        return any(code < 500 for code in codes)
    if isinstance(error, smtplib.SMTPResponseException):
        return error.smtp_code < 500
    # Refused, reset or timed-out connections, a dropped session, the task's soft time limit.
    return isinstance(error, OSError | smtplib.SMTPException) or type(error).__name__ in {
        "SoftTimeLimitExceeded"
    }


def describe(error: BaseException) -> str:
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        detail = "; ".join(
            f"{code} {message.decode(errors='replace') if isinstance(message, bytes) else message}"
            for code, message in error.recipients.values()
        )
        return f"recipient refused: {detail}"[:400]
    return f"{type(error).__name__}: {error}"[:400]


def _claimed(pk: int, token: dt.datetime):
    return Reminder.objects.filter(pk=pk, status=ReminderStatus.SENDING, claimed_at=token)


def _in_attempt(pk: int):
    return Reminder.objects.filter(pk=pk, status=ReminderStatus.SENDING, claimed_at__isnull=True)


def _attempt_failed(reminder: Reminder, attempt: int, error: BaseException) -> str:
    now = timezone.now()
    text = f"attempt {attempt}: {describe(error)}"
    if is_transient(error) and attempt < settings.REMINDER_MAX_ATTEMPTS:
        delay = settings.REMINDER_RETRY_BASE_SECONDS * 2 ** (attempt - 1)
        _in_attempt(reminder.pk).update(
            status=ReminderStatus.PENDING,
            send_at=now + dt.timedelta(seconds=delay),
            last_error=f"{text}; next try in {delay:g} s"[:500],
            updated_at=now,
        )
        log.warning("reminder %s: %s; retrying in %s s", reminder.pk, text, delay)
        return "retry"
    _in_attempt(reminder.pk).update(status=ReminderStatus.FAILED, last_error=text, updated_at=now)
    log.error("reminder %s failed: %s", reminder.pk, text)
    return "failed"


def deliver(reminder_id: int) -> str:
    """Send one claimed reminder. Returns what happened, for logs and tests."""
    reminder = Reminder.objects.select_related("patient__clinic").filter(pk=reminder_id).first()
    if reminder is None:
        return "missing"
    if reminder.status != ReminderStatus.SENDING or reminder.claimed_at is None:
        return "skipped"  # final, not claimed, or another delivery of this message is sending
    token = reminder.claimed_at
    today = reminder.patient.clinic.today()
    verdict = recheck(reminder, today)
    if verdict is not None:
        status, reason = verdict
        _claimed(reminder.pk, token).update(
            status=status, last_error=reason, claimed_at=None, updated_at=timezone.now()
        )
        return str(status)
    message = emails.reminder_email(reminder)
    started = _claimed(reminder.pk, token).update(
        claimed_at=None, attempts=F("attempts") + 1, updated_at=timezone.now()
    )
    if not started:
        return "raced"
    attempt = reminder.attempts + 1
    try:
        message.send()
    except Exception as error:  # every failure is recorded on the row
        return _attempt_failed(reminder, attempt, error)
    # Accepted by the SMTP server: only now is it sent. Unconditional on the claim, so a slow
    # attempt that was meanwhile rescued by the dispatcher still ends as sent.
    Reminder.objects.filter(pk=reminder.pk, status=ReminderStatus.SENDING).update(
        status=ReminderStatus.SENT, sent_at=timezone.now(), updated_at=timezone.now()
    )
    return "sent"
