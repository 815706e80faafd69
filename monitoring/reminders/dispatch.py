"""The dispatcher: claim due rows, enqueue their ids in batches after commit, rescue stuck rows.

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
from dataclasses import dataclass, field

import redis
from celery import current_app
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from clinic.models import Clinic
from monitoring.models import Reminder, ReminderStatus
from patients.models import Patient

from .timing import clinic_is_quiet

log = logging.getLogger(__name__)

POSSIBLE_DUPLICATE = "possible duplicate: previous attempt interrupted"


SEND_REMINDERS_TASK = "monitoring.tasks.send_reminders"


def enqueue_sends(ids: list[int]) -> int:
    """Enqueue claimed ids in batches of REMINDER_SEND_BATCH, one task each; returns how many
    ids reached the broker before it failed (the exception is logged, not raised)."""
    size = max(settings.REMINDER_SEND_BATCH, 1)
    for start in range(0, len(ids), size):
        try:
            # By name, from Celery's registry: the task module imports this one, not the reverse.
            current_app.tasks[SEND_REMINDERS_TASK].delay(ids[start : start + size])
        except Exception:
            log.exception("broker unavailable; %s reminders not enqueued", len(ids) - start)
            return start
    return len(ids)


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


def _enqueue(ids: list[int], claimed_at: dt.datetime) -> int:
    """Enqueue the claimed ids; returns how many reached the broker. When the broker is down,
    the rest go back to pending for the next run."""
    enqueued = enqueue_sends(ids)
    if enqueued < len(ids):
        Reminder.objects.filter(
            id__in=ids[enqueued:], status=ReminderStatus.SENDING, claimed_at=claimed_at
        ).update(status=ReminderStatus.PENDING, claimed_at=None)
    return enqueued


# A key the dispatcher keeps in Redis. Redis here keeps nothing on disk: when the key is gone,
# Redis restarted and every queued message with it, so claimed rows are claimed again now
# rather than after REMINDER_CLAIM_TIMEOUT_SECONDS. Safe: a claimed row has no attempt yet,
# and the sender starts an attempt only by a compare-and-swap on the claim, so a message that
# did survive and its replacement never both send.
BROKER_MARK = "ipledge:reminders:broker-mark"


def broker_was_reset() -> bool:
    if not settings.REDIS_URL:
        return False  # the filesystem broker keeps its messages on disk
    try:
        client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2)
        return bool(client.set(BROKER_MARK, "1", nx=True))
    except redis.RedisError:
        return False  # down: nothing can be enqueued now anyway


def _reclaim_after_reset(now: dt.datetime, limit: int) -> list[int]:
    claimed = Reminder.objects.filter(
        status=ReminderStatus.SENDING, claimed_at__isnull=False, claimed_at__lt=now
    ).values_list("id", "claimed_at")[:limit]
    again = []
    for pk, claimed_at in list(claimed):
        if Reminder.objects.filter(
            id=pk, status=ReminderStatus.SENDING, claimed_at=claimed_at
        ).update(claimed_at=now, updated_at=now):
            again.append(pk)
    if again:
        log.warning("broker restarted: %s queued reminders enqueued again", len(again))
    return again


@dataclass
class Dispatched:
    claimed: list[int] = field(default_factory=list)
    enqueued: int = 0

    @property
    def handed_back(self) -> int:
        return len(self.claimed) - self.enqueued


def dispatch(now: dt.datetime | None = None, *, limit: int | None = None) -> Dispatched:
    """Claim due and stuck rows; their tasks are enqueued only once the claim is committed,
    so a rolled-back transaction enqueues nothing (docs/quality.md F6)."""
    now = now or timezone.now()
    limit = limit or settings.REMINDER_DISPATCH_BATCH
    result = Dispatched()
    reset = broker_was_reset()

    def enqueue():
        result.enqueued = _enqueue(result.claimed, now)

    with transaction.atomic():
        result.claimed = _claim_due(now, limit) + _reclaim_stuck(now, limit)
        if reset:
            result.claimed += [
                pk for pk in _reclaim_after_reset(now, limit) if pk not in result.claimed
            ]
        if result.claimed:
            transaction.on_commit(enqueue)
    return result


def dispatch_due(now: dt.datetime | None = None, *, limit: int | None = None) -> list[int]:
    """The ids claimed by one dispatch run."""
    return dispatch(now, limit=limit).claimed
