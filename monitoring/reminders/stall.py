"""Has sending stalled? Beat's heartbeat, and reminders past their send time.

See docs/operations-health.md.

Read by /health/ready (config/health.py) and by the clinic admin's Reminders page, which shows a
red banner when it answers yes. Two signs, either enough:

- a reminder still pending or claimed more than HEALTH_REMINDER_LATE_MINUTES after its send time
  (rows of a clinic in its quiet hours wait on purpose and do not count);
- beat's last heartbeat older than twice HEALTH_HEARTBEAT_SECONDS.

The heartbeat is written by the beat process when it hands `monitoring.tasks.beat_heartbeat` to
the broker (monitoring/tasks.py), so a stopped beat shows here even while the workers run; a
stopped worker shows by the Celery ping of /health/ready and, here, by the reminders it leaves
late.
"""

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Count, Min
from django.utils import timezone

from monitoring.models import BeatHeartbeat, Reminder, ReminderStatus

from .dispatch import quiet_clinic_ids

HEARTBEAT = "beat"
WAITING = (ReminderStatus.PENDING, ReminderStatus.SENDING)


def heartbeat_every() -> dt.timedelta:
    return dt.timedelta(seconds=settings.HEALTH_HEARTBEAT_SECONDS)


def heartbeat_limit() -> dt.timedelta:
    """Older than this, beat has missed two heartbeats in a row: it is stopped (or cannot reach
    the broker or the database)."""
    return 2 * heartbeat_every()


def late_limit() -> dt.timedelta:
    return dt.timedelta(minutes=settings.HEALTH_REMINDER_LATE_MINUTES)


def record_heartbeat(now: dt.datetime | None = None) -> None:
    BeatHeartbeat.objects.update_or_create(
        name=HEARTBEAT, defaults={"beat_at": now or timezone.now()}
    )


def last_heartbeat() -> dt.datetime | None:
    return BeatHeartbeat.objects.filter(name=HEARTBEAT).values_list("beat_at", flat=True).first()


def heartbeat_is_stale(beat_at: dt.datetime | None, now: dt.datetime) -> bool:
    return beat_at is not None and now - beat_at > heartbeat_limit()


@dataclass(frozen=True)
class Late:
    count: int
    oldest_send_at: dt.datetime | None


def late_reminders(now: dt.datetime, clinic=None) -> Late:
    """Reminders still waiting more than the late limit after their send time: one query (plus
    one over the few clinics, for their quiet hours)."""
    late = Reminder.objects.filter(status__in=WAITING, send_at__lt=now - late_limit())
    if clinic is not None:
        late = late.filter(patient__clinic=clinic)
    quiet = quiet_clinic_ids(now)
    if quiet:
        late = late.exclude(patient__clinic_id__in=quiet)
    figures = late.aggregate(count=Count("id"), oldest=Min("send_at"))
    return Late(figures["count"], figures["oldest"])


@dataclass(frozen=True)
class Stall:
    """What the Reminders page's banner says."""

    late: Late
    heartbeat_at: dt.datetime | None
    heartbeat_stale: bool


def sending_stall(clinic, now: dt.datetime | None = None) -> Stall | None:
    """The clinic's reminders are stuck or beat has stopped; None when sending is on time.

    A heartbeat never written (beat not started yet on a new install) is not a stall by itself
    here: reminders planned and not sent show it 15 minutes later. /health/ready, for IT, does
    count a missing heartbeat."""
    now = now or timezone.now()
    late = late_reminders(now, clinic)
    beat_at = last_heartbeat()
    stale = heartbeat_is_stale(beat_at, now)
    if late.count or stale:
        return Stall(late, beat_at, stale)
    return None
