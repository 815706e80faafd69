"""The dispatcher hands claimed reminders to the workers in batches (REMINDER_SEND_BATCH per
task); a batch reads its rows in one query and marks each accepted message sent with the write
that starts the next one (monitoring/reminders/sender.py). Each row must still end exactly as
it would alone: sent once, cancelled, raced or retried, never left open by the batch."""

import datetime as dt
import time

import pytest
import time_machine
from celery.exceptions import SoftTimeLimitExceeded
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext

from monitoring import tasks
from monitoring.models import Reminder, ReminderStatus
from monitoring.reminders import dispatch, emails, sender
from monitoring.reminders.planner import plan_clinic
from patients.models import Patient
from tests.reminders.helpers import NOW, ScriptedBackend


def rows(ids) -> list[tuple]:
    found = {
        pk: rest
        for pk, *rest in Reminder.objects.filter(pk__in=ids).values_list(
            "pk", "status", "attempts", "possible_duplicate"
        )
    }
    return [tuple(found[pk]) for pk in ids]


def recipients() -> list[str]:
    return [message.to[0] for message in mail.outbox]


def test_the_dispatcher_enqueues_one_task_per_batch(
    clinic, waiting_for_contraception, enqueued, settings, django_capture_on_commit_callbacks
):
    settings.REMINDER_SEND_BATCH = 2
    with time_machine.travel(NOW, tick=False):
        for index in range(5):
            waiting_for_contraception(email=f"patient{index}@example.org")
        plan_clinic(clinic)
        with django_capture_on_commit_callbacks(execute=True):
            ids = dispatch.dispatch_due()
    assert enqueued == [ids[0:2], ids[2:4], ids[4:5]]


def test_a_batch_sends_each_row_once_in_one_read_and_one_write_per_message(claimed):
    ids = claimed(5)
    with time_machine.travel(NOW, tick=False):
        with CaptureQueriesContext(connection) as queries:
            assert tasks.send_reminders(ids) == ["sent"] * 5
    assert rows(ids) == [(ReminderStatus.SENT, 1, False)] * 5
    assert len(mail.outbox) == 5
    # One read for the batch, one write per message, one for the last message's mark.
    assert len(queries) == 1 + 5 + 1, [q["sql"][:60] for q in queries]
    assert Reminder.objects.filter(pk__in=ids, sent_at__isnull=True).count() == 0


def test_a_batch_delivered_twice_sends_nothing_the_second_time(claimed):
    ids = claimed(3)
    with time_machine.travel(NOW, tick=False):
        assert tasks.send_reminders(ids) == ["sent"] * 3
        assert tasks.send_reminders(ids) == ["skipped"] * 3
    assert len(mail.outbox) == 3
    assert rows(ids) == [(ReminderStatus.SENT, 1, False)] * 3


def test_an_id_twice_in_one_batch_is_sent_once(claimed):
    [pk] = claimed(1)
    with time_machine.travel(NOW, tick=False):
        assert sender.deliver_many([pk, pk]) == ["sent"]
    assert len(mail.outbox) == 1
    assert rows([pk]) == [(ReminderStatus.SENT, 1, False)]


def test_a_row_no_longer_needed_between_two_sends_is_cancelled_and_its_neighbours_sent(claimed):
    ids = claimed(3)
    middle = Reminder.objects.get(pk=ids[1])
    Patient.objects.filter(pk=middle.patient_id).update(email_opt_out=True)
    with time_machine.travel(NOW, tick=False):
        assert sender.deliver_many(ids) == ["sent", ReminderStatus.CANCELLED, "sent"]
    assert [status for status, *_ in rows(ids)] == ["sent", "cancelled", "sent"]
    assert middle.patient.email not in recipients()


def test_a_row_whose_email_cannot_be_made_fails_alone_and_the_batch_goes_on(claimed, monkeypatch):
    ids = claimed(3)
    render = emails.reminder_email

    def breaks_on_the_second(reminder):
        if reminder.pk == ids[1]:
            raise RuntimeError("template missing")
        return render(reminder)

    monkeypatch.setattr(emails, "reminder_email", breaks_on_the_second)
    with time_machine.travel(NOW, tick=False):
        assert sender.deliver_many(ids) == ["sent", "failed", "sent"]
    assert rows(ids) == [
        (ReminderStatus.SENT, 1, False),
        (ReminderStatus.FAILED, 0, False),
        (ReminderStatus.SENT, 1, False),
    ]
    failed = Reminder.objects.get(pk=ids[1])
    assert failed.claimed_at is None  # final: staff see it, with "Send again"
    assert failed.last_error == "the email could not be made: RuntimeError: template missing"
    assert len(mail.outbox) == 2


def test_an_address_smtp_cannot_take_fails_its_row_and_the_batch_goes_on(claimed):
    ids = claimed(3)
    middle = Reminder.objects.get(pk=ids[1])
    # Valid to Django's EmailValidator, but its domain cannot be encoded for SMTP (IDNA).
    Patient.objects.filter(pk=middle.patient_id).update(email="a@" + "é" * 60 + ".com")
    with time_machine.travel(NOW, tick=False):
        assert sender.deliver_many(ids) == ["sent", "failed", "sent"]
    assert [status for status, *_ in rows(ids)] == ["sent", "failed", "sent"]
    assert "UnicodeError" in Reminder.objects.get(pk=ids[1]).last_error


def test_an_accepted_message_is_marked_sent_even_when_the_batch_breaks_after_it(
    claimed, monkeypatch
):
    ids = claimed(2)
    quiet = sender.clinic_is_quiet
    checked: list[int] = []

    def database_gone_on_the_second(clinic, now):
        checked.append(1)
        if len(checked) == 2:
            raise RuntimeError("server closed the connection")
        return quiet(clinic, now)

    monkeypatch.setattr(sender, "clinic_is_quiet", database_gone_on_the_second)
    with time_machine.travel(NOW, tick=False), pytest.raises(RuntimeError):
        sender.deliver_many(ids)
    # The first went out and is recorded; the second is still claimed, for the dispatcher.
    assert rows(ids) == [(ReminderStatus.SENT, 1, False), (ReminderStatus.SENDING, 0, False)]
    assert Reminder.objects.get(pk=ids[1]).claimed_at is not None
    assert len(mail.outbox) == 1


def test_a_failed_mark_is_tried_again_before_the_task_ends(claimed, monkeypatch):
    ids = claimed(2)
    start = sender._start_attempt
    calls: list[int] = []

    def write_fails_once(pk, token, accepted=None):
        calls.append(pk)
        if len(calls) == 2:  # the write that marks the first sent and starts the second
            raise RuntimeError("connection reset")
        return start(pk, token, accepted)

    monkeypatch.setattr(sender, "_start_attempt", write_fails_once)
    with time_machine.travel(NOW, tick=False), pytest.raises(RuntimeError):
        sender.deliver_many(ids)
    assert rows(ids) == [(ReminderStatus.SENT, 1, False), (ReminderStatus.SENDING, 0, False)]


def test_the_soft_time_limit_outside_an_exchange_hands_the_row_and_the_rest_on(
    claimed, enqueued, monkeypatch
):
    ids = claimed(3)
    quiet = sender.clinic_is_quiet
    checked: list[int] = []

    def limit_on_the_second(clinic, now):
        checked.append(1)
        if len(checked) == 2:
            raise SoftTimeLimitExceeded()
        return quiet(clinic, now)

    monkeypatch.setattr(sender, "clinic_is_quiet", limit_on_the_second)
    with time_machine.travel(NOW, tick=False):
        assert sender.deliver_many(ids) == ["sent", "handed on", "handed on"]
    assert enqueued == [ids[1:]]
    assert rows(ids) == [(ReminderStatus.SENT, 1, False)] + [(ReminderStatus.SENDING, 0, False)] * 2
    assert Reminder.objects.filter(pk__in=ids[1:], claimed_at__isnull=True).count() == 0


def test_a_row_another_delivery_took_is_not_sent_and_the_previous_one_still_ends_sent(
    claimed, monkeypatch
):
    ids = claimed(2)
    quiet = sender.clinic_is_quiet
    later = NOW + dt.timedelta(minutes=6)
    checked: list[int] = []

    def reclaimed_before_the_second(clinic, now):
        # The check just before each attempt: the second time, the dispatcher has meanwhile
        # claimed the second row again under a new token.
        checked.append(1)
        if len(checked) == 2:
            Reminder.objects.filter(pk=ids[1]).update(claimed_at=later)
        return quiet(clinic, now)

    monkeypatch.setattr(sender, "clinic_is_quiet", reclaimed_before_the_second)
    with time_machine.travel(NOW, tick=False):
        assert sender.deliver_many(ids) == ["sent", "raced"]
    assert rows(ids) == [(ReminderStatus.SENT, 1, False), (ReminderStatus.SENDING, 0, False)]
    assert Reminder.objects.get(pk=ids[1]).claimed_at == later
    assert len(mail.outbox) == 1


def test_rows_not_reached_in_time_go_to_a_new_task_still_claimed(
    claimed, enqueued, settings, monkeypatch
):
    ids = claimed(4)
    settings.REMINDER_SEND_BATCH_SECONDS = 0.05
    send = sender.send_once

    def slow(message, wire=None):
        time.sleep(0.1)
        send(message, wire)

    monkeypatch.setattr(sender, "send_once", slow)
    with time_machine.travel(NOW, tick=False):
        assert sender.deliver_many(ids) == ["sent"] + ["handed on"] * 3
    assert enqueued == [ids[1:]]
    tokens = Reminder.objects.filter(pk__in=ids[1:]).values_list("status", "claimed_at")
    assert {status for status, _ in tokens} == {ReminderStatus.SENDING}
    assert all(claimed_at is not None for _, claimed_at in tokens)
    monkeypatch.setattr(sender, "send_once", send)
    with time_machine.travel(NOW, tick=False):
        assert sender.deliver_many(enqueued[0]) == ["sent"] * 3
    assert rows(ids) == [(ReminderStatus.SENT, 1, False)] * 4
    assert len(mail.outbox) == 4


def test_the_soft_time_limit_records_the_attempt_and_hands_the_rest_on(claimed, enqueued, settings):
    ids = claimed(3)
    settings.EMAIL_BACKEND = "tests.reminders.helpers.ScriptedBackend"
    ScriptedBackend.script = [None, SoftTimeLimitExceeded()]
    try:
        with time_machine.travel(NOW, tick=False):
            assert sender.deliver_many(ids) == ["sent", "retry", "handed on"]
    finally:
        ScriptedBackend.script = []
    assert enqueued == [ids[2:]]
    first, second, third = (Reminder.objects.get(pk=pk) for pk in ids)
    assert (first.status, first.attempts) == (ReminderStatus.SENT, 1)
    # The limit struck during the exchange: the server may have the message.
    assert (second.status, second.attempts, second.possible_duplicate) == ("pending", 1, True)
    assert (third.status, third.attempts) == (ReminderStatus.SENDING, 0)
    assert third.claimed_at is not None


def test_a_batch_stops_starting_messages_well_before_its_time_limit(settings):
    settings.REMINDER_SEND_BATCH_SECONDS = 5
    settings.REMINDER_SEND_TIME_LIMIT_SECONDS = 90
    assert sender.batch_seconds() == 5
    # A short time limit (the fault tests use 6 s, a soft limit of 4 s): a quarter of it, so a
    # batch of slow messages is handed on before the soft limit strikes inside an exchange.
    settings.REMINDER_SEND_TIME_LIMIT_SECONDS = 6
    assert sender.batch_seconds() == 1.5


def test_the_soft_time_limit_while_a_lone_row_is_prepared_hands_it_on(
    claimed, enqueued, monkeypatch
):
    [pk] = claimed(1)

    def limit(reminder):
        raise SoftTimeLimitExceeded()

    monkeypatch.setattr(emails, "reminder_email", limit)
    with time_machine.travel(NOW, tick=False):
        assert sender.deliver_many([pk]) == ["handed on"]
    assert enqueued == [[pk]]
    assert rows([pk]) == [(ReminderStatus.SENDING, 0, False)]
    assert Reminder.objects.get(pk=pk).claimed_at is not None
