"""The dispatcher: claim due rows, enqueue one task per id after commit, rescue stuck rows.

States of a row (docs/reminders.md):

- pending: waiting for send_at.
- sending with claimed_at set: claimed here, its task enqueued, no attempt started yet.
- sending with claimed_at empty: an attempt is under way since updated_at (sender.py).
- sent, failed, cancelled, expired: final.

Claims are compare-and-swap UPDATEs (or SELECT ... FOR UPDATE SKIP LOCKED where the database
has it), so two beats or two dispatchers never claim one row twice (docs/quality.md F3). A
claim whose message was lost (Redis restarted without persistence, F1) is claimed again after
REMINDER_CLAIM_TIMEOUT_SECONDS; an attempt whose worker died (F2) after
REMINDER_ATTEMPT_TIMEOUT_SECONDS, longer than the task's hard time limit, and it is recorded as
a possible duplicate (`possible_duplicate`, which later errors never clear, and `last_error`)
because the SMTP server may have accepted the message before the kill.

Rows of a clinic in its quiet hours are not claimed; a task that still reaches the sender in
quiet hours (a rescued row, a message delayed in the queue) defers its row (sender.py).
"""

import datetime as dt
import logging

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from clinic.models import Clinic
from monitoring.models import Reminder, ReminderStatus
from patients.models import Patient

from .timing import clinic_is_quiet

log = logging.getLogger(__name__)

POSSIBLE_DUPLICATE = "possible duplicate: previous attempt interrupted"


def quiet_clinic_ids(now: dt.datetime) -> list[int]:
    """Clinics in their quiet hours right now: one query over the (few) clinics."""
    clinics = Clinic.objects.only("pk", "time_zone", "quiet_hours_start", "quiet_hours_end")
    return [clinic.pk for clinic in clinics if clinic_is_quiet(clinic, now)]


def _claim_due(now: dt.datetime, limit: int) -> list[int]:
    due = Reminder.objects.filter(status=ReminderStatus.PENDING, send_at__lte=now)
    quiet = quiet_clinic_ids(now)
    if quiet:
        # Overdue rows (after an outage, or planned before the clinic changed its hours) wait
        # for the end of quiet hours. A subquery, not a join: FOR UPDATE locks reminders only.
        due = due.exclude(patient__in=Patient.objects.filter(clinic_id__in=quiet).values("pk"))
    due = due.order_by("send_at", "id")
    if connection.features.has_select_for_update_skip_locked:
        ids = list(due.select_for_update(skip_locked=True).values_list("id", flat=True)[:limit])
        Reminder.objects.filter(id__in=ids).update(
            status=ReminderStatus.SENDING, claimed_at=now, updated_at=now
        )
        return ids
    # SQLite: no SKIP LOCKED, but writes are serialised, so a per-row conditional UPDATE tells
    # which dispatcher got the row ("if num_updated != 1: another process got there first").
    claimed = []
    for pk in list(due.values_list("id", flat=True)[:limit]):
        if Reminder.objects.filter(id=pk, status=ReminderStatus.PENDING).update(
            status=ReminderStatus.SENDING, claimed_at=now, updated_at=now
        ):
            claimed.append(pk)
    return claimed


def _reclaim_stuck(now: dt.datetime, limit: int) -> list[int]:
    reclaimed = []
    lost_claims = Reminder.objects.filter(
        status=ReminderStatus.SENDING,
        claimed_at__lt=now - dt.timedelta(seconds=settings.REMINDER_CLAIM_TIMEOUT_SECONDS),
    ).values_list("id", "claimed_at")[:limit]
    for pk, claimed_at in list(lost_claims):
        if Reminder.objects.filter(
            id=pk, status=ReminderStatus.SENDING, claimed_at=claimed_at
        ).update(claimed_at=now, updated_at=now):
            reclaimed.append(pk)
    interrupted = Reminder.objects.filter(
        status=ReminderStatus.SENDING,
        claimed_at__isnull=True,
        updated_at__lt=now - dt.timedelta(seconds=settings.REMINDER_ATTEMPT_TIMEOUT_SECONDS),
    ).values_list("id", "updated_at", "attempts")[:limit]
    for pk, started_at, attempts in list(interrupted):
        if Reminder.objects.filter(
            id=pk, status=ReminderStatus.SENDING, claimed_at__isnull=True, updated_at=started_at
        ).update(
            claimed_at=now,
            updated_at=now,
            possible_duplicate=True,
            last_error=f"{POSSIBLE_DUPLICATE} (attempt {attempts} started {started_at:%H:%M:%S})",
        ):
            log.warning("reminder %s: attempt %s was interrupted; sending again", pk, attempts)
            reclaimed.append(pk)
    return reclaimed


def _enqueue(ids: list[int], claimed_at: dt.datetime) -> None:
    from monitoring.tasks import send_reminder

    for index, pk in enumerate(ids):
        try:
            send_reminder.delay(pk)
        except Exception:  # the broker is down: hand the rest back for the next run
            log.exception("broker unavailable; %s reminders go back to pending", len(ids) - index)
            Reminder.objects.filter(
                id__in=ids[index:], status=ReminderStatus.SENDING, claimed_at=claimed_at
            ).update(status=ReminderStatus.PENDING, claimed_at=None)
            return


def dispatch_due(now: dt.datetime | None = None, *, limit: int | None = None) -> list[int]:
    """Claim due and stuck rows; their tasks are enqueued only once the claim is committed,
    so a rolled-back transaction enqueues nothing (docs/quality.md F6). Returns the claimed ids."""
    now = now or timezone.now()
    limit = limit or settings.REMINDER_DISPATCH_BATCH
    with transaction.atomic():
        ids = _claim_due(now, limit) + _reclaim_stuck(now, limit)
        if ids:
            transaction.on_commit(lambda: _enqueue(ids, now))
    return ids
