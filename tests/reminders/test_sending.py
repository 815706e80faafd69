"""Dispatch and send: claimed once, sent once, re-checked at send time, failures recorded."""

import asyncio
import datetime as dt
import email
import smtplib

import pytest
import time_machine
from aiosmtpd.controller import Controller
from celery.exceptions import SoftTimeLimitExceeded
from django.core import mail
from django.db import transaction

from monitoring import tasks
from monitoring.models import Reminder, ReminderStatus
from monitoring.reminders import dispatch, sender
from monitoring.reminders.planner import plan_clinic
from patients.models import Patient
from tests.factories import ClinicFactory, enroll
from tests.reminders.helpers import ScriptedBackend, refused
from tests.reminders.stack import Sink, free_port

UTC = dt.UTC
NOW = dt.datetime(2027, 5, 3, 16, 0, tzinfo=UTC)  # 12:00 in New York


@pytest.fixture
def enqueued(monkeypatch):
    """Reminder ids given to the broker (in batches, one task each), instead of a broker."""
    sent: list[int] = []
    monkeypatch.setattr(tasks.send_reminders, "delay", sent.extend)
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
    assert due_reminder.possible_duplicate is True


def test_a_possible_duplicate_stays_recorded_after_a_later_retry_and_a_cancellation(
    due_reminder, scripted, settings, builder
):
    Reminder.objects.filter(pk=due_reminder.pk).update(claimed_at=None, attempts=1, updated_at=NOW)
    later = NOW + dt.timedelta(seconds=settings.REMINDER_ATTEMPT_TIMEOUT_SECONDS + 1)
    scripted.append(refused(451))
    with time_machine.travel(later, tick=False):
        assert dispatch.dispatch_due() == [due_reminder.pk]
        assert sender.deliver(due_reminder.pk) == "retry"  # overwrites last_error
    due_reminder.refresh_from_db()
    assert due_reminder.last_error.startswith("attempt 2: recipient refused: 451")
    assert (due_reminder.status, due_reminder.possible_duplicate) == (ReminderStatus.PENDING, True)
    with time_machine.travel(later + dt.timedelta(seconds=60), tick=False):  # attempt 2: 60 s
        assert dispatch.dispatch_due() == [due_reminder.pk]
        builder().contraception(due_reminder.patient, on=0, started=-70)  # staff confirmed
        assert sender.deliver(due_reminder.pk) == ReminderStatus.CANCELLED
    due_reminder.refresh_from_db()
    assert due_reminder.last_error == "no longer needed"
    assert (due_reminder.status, due_reminder.possible_duplicate) == (
        ReminderStatus.CANCELLED,
        True,
    )


@pytest.mark.parametrize(
    "error",
    [
        TimeoutError("timed out"),
        smtplib.SMTPServerDisconnected("Connection unexpectedly closed"),
        SoftTimeLimitExceeded(),
    ],
    ids=["timeout", "disconnect", "soft-time-limit"],
)
def test_an_unclear_outcome_while_sending_is_retried_and_recorded_as_a_possible_duplicate(
    due_reminder, scripted, error
):
    scripted.append(error)
    with time_machine.travel(NOW, tick=False):
        assert sender.deliver(due_reminder.pk) == "retry"
    due_reminder.refresh_from_db()
    assert (due_reminder.status, due_reminder.attempts) == (ReminderStatus.PENDING, 1)
    assert due_reminder.send_at == NOW + dt.timedelta(seconds=30)
    assert due_reminder.possible_duplicate is True
    assert due_reminder.last_error.startswith("attempt 1: outcome unknown, possible duplicate: ")
    with time_machine.travel(NOW + dt.timedelta(seconds=30), tick=False):
        assert dispatch.dispatch_due() == [due_reminder.pk]
        assert sender.deliver(due_reminder.pk) == "sent"
    # The same Message-ID as the first attempt: a mail client folds a duplicate away.
    assert mail.outbox[0].extra_headers["Message-ID"] == f"<reminder-{due_reminder.pk}@127.0.0.1>"


@pytest.mark.parametrize(
    "error", [refused(451), smtplib.SMTPDataError(451, b"try later"), ConnectionRefusedError()]
)
def test_an_smtp_answer_or_a_refused_connection_is_a_plain_retry(due_reminder, scripted, error):
    scripted.append(error)
    with time_machine.travel(NOW, tick=False):
        assert sender.deliver(due_reminder.pk) == "retry"
    due_reminder.refresh_from_db()
    assert due_reminder.status == ReminderStatus.PENDING
    assert due_reminder.possible_duplicate is False
    assert "outcome unknown" not in due_reminder.last_error


@pytest.fixture
def smtp_sink(settings):
    """A real SMTP server in this process, and the SMTP backend pointed at it."""
    sinks = []

    def start(sink: Sink) -> Sink:
        controller = Controller(sink, hostname="127.0.0.1", port=free_port(8325))
        controller.start()
        sinks.append(controller)
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", controller.port
        settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
        settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
        settings.EMAIL_TIMEOUT = 0.5
        return sink

    yield start
    for controller in sinks:
        controller.stop()


class AcceptsThenStalls(Sink):
    """Takes the message, then answers only after the client has given up waiting."""

    async def handle_DATA(self, server, session, envelope):
        message_id = email.message_from_bytes(envelope.content)["Message-ID"]
        with self.lock:
            self.accepted[message_id] += 1
        await asyncio.sleep(self.delay)
        return "250 Message accepted for delivery"


def test_over_real_smtp_a_timeout_after_data_is_a_possible_duplicate(due_reminder, smtp_sink):
    sink = smtp_sink(AcceptsThenStalls(delay=1.5))  # longer than EMAIL_TIMEOUT (0.5 s)
    with time_machine.travel(NOW, tick=False):
        assert sender.deliver(due_reminder.pk) == "retry"
    due_reminder.refresh_from_db()
    assert due_reminder.possible_duplicate is True
    assert "outcome unknown" in due_reminder.last_error
    assert (due_reminder.status, due_reminder.attempts) == (ReminderStatus.PENDING, 1)
    # The server has the message: a second attempt would be a duplicate, hence the record.
    assert sink.accepted == {f"<reminder-{due_reminder.pk}@127.0.0.1>": 1}


def test_over_real_smtp_a_451_before_or_after_data_is_a_plain_retry(due_reminder, smtp_sink):
    sink = smtp_sink(Sink())
    sink.tempfail_until = float("inf")  # 451 to DATA
    with time_machine.travel(NOW, tick=False):
        assert sender.deliver(due_reminder.pk) == "retry"
    due_reminder.refresh_from_db()
    assert (due_reminder.possible_duplicate, sink.answers[451]) == (False, 1)
    assert due_reminder.last_error.startswith("attempt 1: SMTPDataError: (451")


def test_over_real_smtp_a_closed_port_is_a_plain_retry(due_reminder, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port(8425)  # nobody listens
    settings.EMAIL_TIMEOUT = 1
    with time_machine.travel(NOW, tick=False):
        assert sender.deliver(due_reminder.pk) == "retry"
    due_reminder.refresh_from_db()
    assert due_reminder.possible_duplicate is False
    assert due_reminder.last_error.startswith("attempt 1: ConnectionRefusedError")


def test_when_the_broker_is_down_claimed_rows_go_back_to_pending(
    clinic, waiting_for_contraception, monkeypatch, django_capture_on_commit_callbacks
):
    def broker_down(reminder_ids):
        raise ConnectionRefusedError("redis is down")

    monkeypatch.setattr(tasks.send_reminders, "delay", broker_down)
    with time_machine.travel(NOW, tick=False):
        waiting_for_contraception()
        plan_clinic(clinic)
        with django_capture_on_commit_callbacks(execute=True):
            claimed = dispatch.dispatch_due()
    assert claimed
    # dispatch_due() returned (nothing raised to the caller) and every claim was handed back.
    rows = Reminder.objects.filter(pk__in=claimed).values_list("status", "claimed_at")
    assert sorted(rows) == [(ReminderStatus.PENDING, None)] * len(claimed)


def test_a_broker_failing_partway_through_a_batch_hands_the_rest_back_for_the_next_run(
    clinic, waiting_for_contraception, monkeypatch, settings, django_capture_on_commit_callbacks
):
    settings.REMINDER_SEND_BATCH = 2
    accepted: list[list[int]] = []

    def flaky_broker(reminder_ids):
        if accepted:
            raise ConnectionRefusedError("redis went away")
        accepted.append(reminder_ids)

    monkeypatch.setattr(tasks.send_reminders, "delay", flaky_broker)
    with time_machine.travel(NOW, tick=False):
        for _ in range(3):
            waiting_for_contraception()
        plan_clinic(clinic)
        with django_capture_on_commit_callbacks(execute=True):
            claimed = dispatch.dispatch_due()
    # The first task took two ids; the broker refused the second task's.
    assert len(claimed) == 3 and accepted == [claimed[:2]]
    states = dict(Reminder.objects.filter(pk__in=claimed).values_list("pk", "status"))
    assert states == {
        claimed[0]: ReminderStatus.SENDING,
        claimed[1]: ReminderStatus.SENDING,
        claimed[2]: ReminderStatus.PENDING,
    }
    assert not Reminder.objects.filter(pk__in=claimed[2:], claimed_at__isnull=False).exists()
    enqueued: list[int] = []
    monkeypatch.setattr(tasks.send_reminders, "delay", enqueued.extend)  # the broker is back
    with time_machine.travel(NOW + dt.timedelta(seconds=60), tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            again = dispatch.dispatch_due()
    assert again == enqueued == claimed[2:]


NIGHT = dt.datetime(2027, 5, 4, 2, 0, tzinfo=UTC)  # 22:00 in New York, quiet 20:00-08:00
QUIET_ENDS = dt.datetime(2027, 5, 4, 12, 0, tzinfo=UTC)  # 08:00 in New York


def test_a_retry_that_would_fall_in_quiet_hours_waits_for_their_end(due_reminder, scripted):
    scripted.append(refused(451))
    evening = dt.datetime(2027, 5, 3, 23, 59, 50, tzinfo=UTC)  # 19:59:50 in New York
    with time_machine.travel(evening, tick=False):
        assert sender.deliver(due_reminder.pk) == "retry"  # now + 30 s would be 20:00:20
    due_reminder.refresh_from_db()
    assert (due_reminder.status, due_reminder.send_at) == (ReminderStatus.PENDING, QUIET_ENDS)
    assert due_reminder.last_error.endswith(f"next try in {(QUIET_ENDS - evening).seconds} s")


def test_the_dispatcher_does_not_claim_rows_of_a_clinic_in_quiet_hours(clinic, patient):
    night_owls = ClinicFactory(
        name="Clinic UTC", time_zone="UTC", quiet_hours_start=0, quiet_hours_end=0
    )
    overdue = dict(due_on=dt.date(2027, 5, 6), send_at=NOW, kind="monthly_test")
    held = Reminder.objects.create(patient=patient, **overdue)
    other = Reminder.objects.create(patient=enroll(night_owls), **overdue)
    with time_machine.travel(NIGHT, tick=False):
        assert dispatch.dispatch_due() == [other.pk]
    Reminder.objects.filter(pk=other.pk).update(status=ReminderStatus.SENT, claimed_at=None)
    with time_machine.travel(QUIET_ENDS - dt.timedelta(seconds=1), tick=False):
        assert dispatch.dispatch_due() == []
    with time_machine.travel(QUIET_ENDS, tick=False):
        assert dispatch.dispatch_due() == [held.pk]


def test_a_task_that_reaches_the_sender_in_quiet_hours_puts_its_row_back_until_they_end(
    due_reminder,
):
    # Claimed at noon, but the message reached a worker only at night (a backlog, a rescue).
    with time_machine.travel(NIGHT, tick=False):
        assert sender.deliver(due_reminder.pk) == "deferred"
    due_reminder.refresh_from_db()
    assert (due_reminder.status, due_reminder.claimed_at, due_reminder.attempts) == (
        ReminderStatus.PENDING,
        None,
        0,
    )
    assert due_reminder.send_at == QUIET_ENDS
    assert mail.outbox == []


def test_a_reminder_sent_after_a_failed_try_no_longer_shows_its_old_error(
    due_reminder, scripted, settings
):
    settings.REMINDER_RETRY_BASE_SECONDS = 0
    scripted.append(refused(451))
    with time_machine.travel(NOW, tick=False):
        assert sender.deliver(due_reminder.pk) == "retry"
    due_reminder.refresh_from_db()
    assert due_reminder.last_error  # the 451 is on the row while it waits
    Reminder.objects.filter(pk=due_reminder.pk).update(
        status=ReminderStatus.SENDING, claimed_at=NOW
    )
    with time_machine.travel(NOW, tick=False):
        assert sender.deliver(due_reminder.pk) == "sent"
    due_reminder.refresh_from_db()
    assert (due_reminder.status, due_reminder.last_error) == (ReminderStatus.SENT, "")
