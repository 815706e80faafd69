"""Celery tasks: thin wrappers around monitoring/reminders. Tasks take ids, never objects."""

from celery import shared_task
from celery.signals import worker_process_shutdown
from django.conf import settings

from clinic.core.models import Clinic

from .reminders import digest, dispatch, planner, sender
from .worklist import refresh_clinic


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
    """Bring every clinic's kept triage rows to its date (docs/clinic-day.md)."""
    return sum(refresh_clinic(clinic) for clinic in Clinic.objects.order_by("pk"))
