"""Dispatch and send: claimed once, sent once, re-checked at send time, failures recorded."""

import datetime as dt
import smtplib

import pytest
import time_machine
from django.core import mail
from django.db import transaction
from django.utils import timezone

from monitoring import tasks
from monitoring.models import Reminder, ReminderStatus
from monitoring.reminders import dispatch, sender
from monitoring.reminders.planner import plan_clinic
from patients.models import Patient
from tests.reminders.helpers import ScriptedBackend, refused

UTC = dt.UTC
NOW = dt.datetime(2027, 5, 3, 16, 0, tzinfo=UTC)  # 12:00 in New York


@pytest.fixture
def enqueued(monkeypatch):
    """Task ids given to the broker, instead of a broker."""
    sent: list[int] = []
    monkeypatch.setattr(tasks.send_reminder, "delay", sent.append)
    return sent


@pytest.fixture
def scripted(settings):
    settings.EMAIL_BACKEND = "tests.reminders.helpers.ScriptedBackend"
    settings.REMINDER_RETRY_BASE_SECONDS = 30
    ScriptedBackend.script = []
    yield ScriptedBackend.script
    ScriptedBackend.script = []


@pytest.fixture
def due_reminder(clinic, waiting_for_contraception, enqueued, django_capture_on_commit_callbacks):
    """A contraception reminder planned and claimed now, its task id enqueued."""
    with time_machine.travel(NOW, tick=False):
        patient = waiting_for_contraception()
        plan_clinic(clinic)
        with django_capture_on_commit_callbacks(execute=True):
            dispatch.dispatch_due()
    return Reminder.objects.get(patient=patient, kind="contraception_confirm")


def test_a_claimed_reminder_is_sent_once_however_often_its_task_runs(due_reminder, enqueued):
    assert due_reminder.pk in enqueued
    with time_machine.travel(NOW, tick=False):
        assert tasks.send_reminder(due_reminder.pk) == "sent"
        assert tasks.send_reminder(due_reminder.pk) == "skipped"
    due_reminder.refresh_from_db()
    assert (due_reminder.status, due_reminder.attempts) == (ReminderStatus.SENT, 1)
    assert due_reminder.sent_at == NOW
    assert len(mail.outbox) == 1
    assert mail.outbox[0].extra_headers["Message-ID"] == f"<reminder-{due_reminder.pk}@127.0.0.1>"


def test_dispatching_twice_claims_each_row_once(
    clinic, waiting_for_contraception, enqueued, django_capture_on_commit_callbacks
):
    with time_machine.travel(NOW, tick=False):
        waiting_for_contraception()
        plan_clinic(clinic)
        with django_capture_on_commit_callbacks(execute=True):
            first = dispatch.dispatch_due()
            second = dispatch.dispatch_due()
    assert len(first) == 1 and second == []  # the window-closing one waits for SCD + 4
    assert sorted(enqueued) == sorted(first)


def test_nothing_is_enqueued_or_sent_when_the_transaction_rolls_back(
    clinic, waiting_for_contraception, enqueued, django_capture_on_commit_callbacks
):
    with time_machine.travel(NOW, tick=False):
        patient = waiting_for_contraception()
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            with pytest.raises(RuntimeError), transaction.atomic():
                plan_clinic(clinic)
                assert dispatch.dispatch_due()
                raise RuntimeError("the request failed")
    assert callbacks == [] and enqueued == []
    assert not Reminder.objects.filter(patient=patient).exists()
    assert mail.outbox == []


def test_a_reminder_no_longer_needed_is_cancelled_at_send_time(due_reminder, builder):
    with time_machine.travel(NOW, tick=False):
        builder().contraception(due_reminder.patient, on=0, started=-70)  # staff confirmed
        assert sender.deliver(due_reminder.pk) == ReminderStatus.CANCELLED
    due_reminder.refresh_from_db()
    assert due_reminder.status == ReminderStatus.CANCELLED
    assert mail.outbox == []


def test_a_reminder_whose_due_date_passed_expires_instead_of_going_out_late(due_reminder):
    with time_machine.travel(NOW + dt.timedelta(days=6), tick=False):
        assert sender.deliver(due_reminder.pk) == ReminderStatus.EXPIRED
    assert mail.outbox == []


def test_an_opted_out_patient_gets_nothing(due_reminder):
    Patient.objects.filter(pk=due_reminder.patient_id).update(email_opt_out=True)
    with time_machine.travel(NOW, tick=False):
        assert sender.deliver(due_reminder.pk) == ReminderStatus.CANCELLED
    assert mail.outbox == []


def test_transient_smtp_errors_retry_with_backoff_then_fail(due_reminder, scripted, settings):
    settings.REMINDER_MAX_ATTEMPTS = 3
    scripted.extend(
        [refused(451), smtplib.SMTPServerDisconnected("gone"), ConnectionRefusedError()]
    )
    now = NOW
    for attempt, delay in ((1, 30), (2, 60)):
        with time_machine.travel(now, tick=False):
            if attempt > 1:
                assert dispatch.dispatch_due() == []  # not yet: backing off
                now += dt.timedelta(seconds=delay // 2)
        with time_machine.travel(now, tick=False):
            if attempt > 1:
                assert dispatch.dispatch_due() == [due_reminder.pk]
            assert sender.deliver(due_reminder.pk) == "retry"
        due_reminder.refresh_from_db()
        assert due_reminder.status == ReminderStatus.PENDING
        assert due_reminder.send_at == now + dt.timedelta(seconds=delay)
        assert f"attempt {attempt}:" in due_reminder.last_error
        now += dt.timedelta(seconds=delay // 2)
    with time_machine.travel(now + dt.timedelta(seconds=60), tick=False):
        dispatch.dispatch_due()
        assert sender.deliver(due_reminder.pk) == "failed"
    due_reminder.refresh_from_db()
    assert (due_reminder.status, due_reminder.attempts) == (ReminderStatus.FAILED, 3)
    assert mail.outbox == []


def test_a_permanent_refusal_fails_after_one_attempt(due_reminder, scripted):
    scripted.append(refused(550))
    with time_machine.travel(NOW, tick=False):
        assert sender.deliver(due_reminder.pk) == "failed"
    due_reminder.refresh_from_db()
    assert (due_reminder.status, due_reminder.attempts) == (ReminderStatus.FAILED, 1)
    assert "550" in due_reminder.last_error


def test_a_lost_message_is_claimed_again_after_the_claim_timeout(due_reminder, enqueued, settings):
    enqueued.clear()  # the broker lost it
    later = NOW + dt.timedelta(seconds=settings.REMINDER_CLAIM_TIMEOUT_SECONDS + 1)
    with time_machine.travel(NOW + dt.timedelta(seconds=10), tick=False):
        assert dispatch.dispatch_due() == []
    with time_machine.travel(later, tick=False):
        assert dispatch.dispatch_due() == [due_reminder.pk]
        assert sender.deliver(due_reminder.pk) == "sent"
    due_reminder.refresh_from_db()
    assert due_reminder.last_error == ""
    assert len(mail.outbox) == 1


def test_an_interrupted_attempt_is_sent_again_and_recorded_as_a_possible_duplicate(
    due_reminder, settings
):
    # The worker was killed after starting the attempt: claimed_at cleared, attempts counted.
    Reminder.objects.filter(pk=due_reminder.pk).update(claimed_at=None, attempts=1, updated_at=NOW)
    with time_machine.travel(NOW + dt.timedelta(seconds=5), tick=False):
        assert sender.deliver(due_reminder.pk) == "skipped"  # a redelivery does not send
        assert dispatch.dispatch_due() == []
    later = NOW + dt.timedelta(seconds=settings.REMINDER_ATTEMPT_TIMEOUT_SECONDS + 1)
    with time_machine.travel(later, tick=False):
        assert dispatch.dispatch_due() == [due_reminder.pk]
        assert sender.deliver(due_reminder.pk) == "sent"
    due_reminder.refresh_from_db()
    assert due_reminder.status == ReminderStatus.SENT
    assert due_reminder.attempts == 2
    assert due_reminder.last_error.startswith(dispatch.POSSIBLE_DUPLICATE)


def test_when_the_broker_is_down_claimed_rows_go_back_to_pending(
    clinic, waiting_for_contraception, monkeypatch, django_capture_on_commit_callbacks
):
    def broker_down(reminder_id):
        raise ConnectionRefusedError("redis is down")

    monkeypatch.setattr(tasks.send_reminder, "delay", broker_down)
    with time_machine.travel(NOW, tick=False):
        waiting_for_contraception()
        plan_clinic(clinic)
        with django_capture_on_commit_callbacks(execute=True):
            claimed = dispatch.dispatch_due()
    assert claimed
    assert set(Reminder.objects.values_list("status", flat=True)) == {ReminderStatus.PENDING}
    assert timezone.now()  # the web side is unaffected: nothing raised
