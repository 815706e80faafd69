"""One SMTP connection per worker process, reused across reminders, dropped on any error.

Connections are counted at a real SMTP sink (aiosmtpd): each SMTP session gets a number the
first time it delivers a message.
"""

import itertools
import smtplib
import socket

import pytest
import time_machine
from aiosmtpd.controller import Controller
from django.db import connection

from monitoring import tasks
from monitoring.models import Reminder, ReminderStatus
from monitoring.reminders import sender
from monitoring.reminders.emails import reminder_message_id
from tests.reminders.helpers import NOW
from tests.reminders.stack import Sink, free_port


class CountingSink(Sink):
    """Accepts everything and remembers which SMTP session (connection) each message used, and
    each envelope."""

    def __init__(self):
        super().__init__()
        self.peers: list[int] = []
        self.envelopes: list = []
        self.numbers = itertools.count(1)

    async def handle_DATA(self, server, session, envelope):
        answer = await super().handle_DATA(server, session, envelope)
        if answer.startswith("250"):
            with self.lock:
                if not hasattr(session, "number"):
                    session.number = next(self.numbers)
                self.peers.append(session.number)
                self.envelopes.append(envelope)
        return answer


@pytest.fixture
def sink(settings):
    counting = CountingSink()
    controller = Controller(counting, hostname="127.0.0.1", port=free_port(8525))
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", controller.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_TIMEOUT = 2
    sender.close_connection()
    yield counting
    sender.close_connection()
    controller.stop()


def message_ids(ids) -> dict:
    return {reminder_message_id(reminder): 1 for reminder in Reminder.objects.filter(pk__in=ids)}


def test_several_reminders_from_one_worker_go_over_one_smtp_connection(sink, claimed):
    ids = claimed(5)
    with time_machine.travel(NOW, tick=False):
        assert [tasks.send_reminder(pk) for pk in ids] == ["sent"] * 5
    assert len(sink.peers) == 5
    assert len(set(sink.peers)) == 1
    assert sink.accepted == message_ids(ids)
    assert set(Reminder.objects.filter(pk__in=ids).values_list("status", flat=True)) == {"sent"}


def test_after_an_smtp_error_the_next_message_opens_a_fresh_connection(sink, claimed):
    first, second, third = claimed(3)
    with time_machine.travel(NOW, tick=False):
        assert sender.deliver(first) == "sent"
        sink.tempfail_until = float("inf")  # 451 to DATA: the connection is dropped
        assert sender.deliver(second) == "retry"
        sink.tempfail_until = 0.0
        assert sender.deliver(third) == "sent"
    assert len(sink.peers) == 2 and sink.peers[0] != sink.peers[1]
    assert Reminder.objects.get(pk=second).status == ReminderStatus.PENDING
    assert Reminder.objects.get(pk=second).possible_duplicate is False


def test_a_connection_the_server_closed_meanwhile_is_replaced_without_a_failed_attempt(
    sink, claimed
):
    first, second = claimed(2)
    with time_machine.travel(NOW, tick=False):
        assert sender.deliver(first) == "sent"
        # The session ends under the worker (as when an MTA drops an idle one).
        sender._connection.backend.connection.sock.shutdown(socket.SHUT_RDWR)
        assert sender.deliver(second) == "sent"
    reminder = Reminder.objects.get(pk=second)
    assert (reminder.attempts, reminder.possible_duplicate, reminder.last_error) == (1, False, "")
    assert sink.accepted == message_ids([first, second])
    assert len(set(sink.peers)) == 2


def test_a_timeout_after_data_drops_the_connection_and_is_a_possible_duplicate(
    sink, claimed, settings
):
    first, second = claimed(2)
    settings.EMAIL_TIMEOUT = 0.5
    sender.close_connection()
    with time_machine.travel(NOW, tick=False):
        assert sender.deliver(first) == "sent"
        sink.delay = 1.5  # the server answers DATA after the client gave up waiting
        assert sender.deliver(second) == "retry"
        assert sender._connection.backend is None
    reminder = Reminder.objects.get(pk=second)
    assert reminder.possible_duplicate is True and reminder.attempts == 1


def test_a_worker_shutting_down_quits_its_connection(sink, claimed):
    (only,) = claimed(1)
    with time_machine.travel(NOW, tick=False):
        assert sender.deliver(only) == "sent"
    smtp = sender._connection.backend.connection
    tasks.close_smtp_connection()
    assert sender._connection.backend is None
    with pytest.raises(smtplib.SMTPServerDisconnected):
        smtp.noop()


def test_the_send_time_recheck_reads_a_bounded_number_of_queries(
    sink, claimed, django_assert_max_num_queries
):
    ids = claimed(3)
    connection.queries_log.clear()
    with time_machine.travel(NOW, tick=False):
        for pk in ids:
            with django_assert_max_num_queries(13):
                assert sender.deliver(pk) == "sent"


def test_threads_of_one_process_each_keep_their_own_connection(sink):
    """A worker running tasks in threads (`--pool=threads`) must not interleave two messages
    on one SMTP session: each thread keeps a connection of its own."""
    from concurrent.futures import ThreadPoolExecutor

    from django.core.mail import EmailMessage

    def send_three(thread: int) -> None:
        try:
            for index in range(3):
                message = EmailMessage(
                    subject="s",
                    body="b",
                    to=["patient@example.org"],
                    headers={"Message-ID": f"<thread-{thread}-{index}@example.org>"},
                )
                sender.send_once(message)
        finally:
            sender.close_connection()  # this thread's own

    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(send_three, [1, 2]))
    assert sum(sink.accepted.values()) == 6
    assert sorted(sink.peers.count(number) for number in set(sink.peers)) == [3, 3]


def test_a_message_prepared_ahead_reaches_the_server_as_djangos_backend_sends_it(sink, claimed):
    """A batch hands smtplib the bytes made in its helper thread (sender.Wire); the server
    must get what Django's SMTP backend sends for the same message: the same envelope, the same
    headers and the same parts (the Date and the MIME boundary are made per build)."""
    import email

    from monitoring.reminders import emails
    from monitoring.reminders.history_row import claimed_reminders

    ids = claimed(1)
    with time_machine.travel(NOW, tick=False):
        reminder = claimed_reminders(ids)[ids[0]]
        message = emails.reminder_email(reminder)
        sender.send_once(message)  # through Django's backend
        sender.send_once(message, sender.Wire.of(message))  # prepared bytes
    theirs, ours = sink.envelopes

    def parsed(envelope):
        content = email.message_from_bytes(envelope.content)
        headers = sorted((k, v) for k, v in content.items() if k not in ("Date", "Content-Type"))
        parts = [
            (part.get_content_type(), part.get_payload(decode=True))
            for part in content.walk()
            if not part.is_multipart()
        ]
        return envelope.mail_from, envelope.rcpt_tos, headers, parts, content.get_content_type()

    assert parsed(ours) == parsed(theirs)
    assert parsed(ours)[4] == "multipart/alternative"
    assert [kind for kind, _ in parsed(ours)[3]] == ["text/plain", "text/html"]


def test_a_batch_prepares_each_next_message_in_its_helper_thread(claimed, monkeypatch):
    import threading

    from monitoring.reminders import emails

    ids = claimed(3)
    render = emails.reminder_email
    threads: list[str] = []

    def noting_the_thread(reminder):
        threads.append(threading.current_thread().name)
        return render(reminder)

    monkeypatch.setattr(emails, "reminder_email", noting_the_thread)
    with time_machine.travel(NOW, tick=False):
        assert sender.deliver_many(ids) == ["sent"] * 3
    assert len(threads) == 3
    assert all(name.startswith("reminder-prepare") for name in threads), threads
    # A batch of one needs no helper.
    with time_machine.travel(NOW, tick=False):
        assert sender.deliver_many(claimed(1)) == ["sent"]
    assert threads[-1] == threading.current_thread().name
