"""Celery tasks: thin wrappers around monitoring/reminders. Tasks take ids, never objects."""

import logging

from celery import shared_task
from celery.signals import after_task_publish, worker_process_shutdown
from django import db
from django.conf import settings

from clinic.models import Clinic

from . import kept
from .reminders import digest, dispatch, planner, sender, stall

log = logging.getLogger(__name__)


@shared_task(ignore_result=True)
def plan_reminders() -> int:
    return planner.plan_all().created


@shared_task(ignore_result=True)
def dispatch_reminders() -> int:
    return len(dispatch.dispatch_due())


_SEND = {
    "acks_late": True,
    "reject_on_worker_lost": True,
    "ignore_result": True,
    # The soft limit raises inside the SMTP exchange and is recorded as a transient failure;
    # the hard limit kills a stuck child, and the dispatcher rescues the row afterwards.
    "soft_time_limit": max(
        settings.REMINDER_SEND_TIME_LIMIT_SECONDS - 10,
        settings.REMINDER_SEND_TIME_LIMIT_SECONDS * 3 // 4,
    ),
    "time_limit": settings.REMINDER_SEND_TIME_LIMIT_SECONDS,
}


@shared_task(**_SEND)
def send_reminders(reminder_ids: list[int]) -> list[str]:
    """A batch of claimed reminders (the dispatcher enqueues REMINDER_SEND_BATCH per task)."""
    return sender.deliver_many(reminder_ids)


@shared_task(**_SEND)
def send_reminder(reminder_id: int) -> str:
    """One claimed reminder: the task of earlier releases, kept for messages still queued."""
    return sender.deliver(reminder_id)


@shared_task(ignore_result=True)
def send_staff_digests() -> int:
    return digest.send_digests()


@worker_process_shutdown.connect
def close_smtp_connection(**kwargs) -> None:
    """A worker process reuses one SMTP connection across reminders: QUIT it on the way out."""
    sender.close_connection()


@shared_task(ignore_result=True)
def refresh_triage() -> int:
    """Keep every clinic's kept triage rows current for today and tomorrow (docs/clinic-day.md,
    "Kept rows"): beat runs it every few minutes; a clinic with nothing to do costs two rows
    read."""
    return sum(kept.refresh_clinic(clinic) for clinic in Clinic.objects.order_by("pk"))


@shared_task(ignore_result=True)
def refresh_clinic_triage(clinic_id: int) -> int:
    """One clinic's rows, asked for by a request that found them behind (a settings change, or
    a day beat's refresh has not reached yet)."""
    clinic = Clinic.objects.filter(pk=clinic_id).first()
    return kept.refresh_clinic(clinic) if clinic else 0


HEARTBEAT_TASK = "monitoring.tasks.beat_heartbeat"


@shared_task(name=HEARTBEAT_TASK, ignore_result=True)
def beat_heartbeat() -> None:
    """Nothing to do on the worker: beat recorded the heartbeat when it sent this task (below).

    Recording it here instead would make the heartbeat's age depend on the workers too (and on
    any backlog ahead of it in the queue): "beat stopped" could not be told from "worker
    stopped", which /health/ready checks on its own with a Celery ping."""


@after_task_publish.connect(sender=HEARTBEAT_TASK)
def record_beat_heartbeat(**kwargs) -> None:
    """In the process that sent the heartbeat (beat), once the broker has taken the message:
    so the time recorded means "beat is running and reaches the broker"."""
    try:
        # Beat has no request cycle to drop a connection the database broke (a restart): do it
        # here, or every later heartbeat would fail on the dead connection.
        if not db.connection.in_atomic_block:
            db.close_old_connections()
        stall.record_heartbeat()
    except Exception:  # the database is down: beat goes on, and the heartbeat ages
        log.exception("could not record beat's heartbeat")
