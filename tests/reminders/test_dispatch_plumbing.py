"""The dispatcher's plumbing: its own queue, honest counts, prompt re-dispatch after Redis lost
its messages (docs/reminders.md)."""

import datetime as dt

import pytest
import redis
import time_machine
from django.core.management import call_command

from monitoring import tasks
from monitoring.models import Reminder, ReminderStatus
from monitoring.reminders import dispatch
from monitoring.reminders.planner import plan_clinic
from tests.reminders.test_sending import NOW

TEST_REDIS = "redis://127.0.0.1:6379/14"


@pytest.fixture
def enqueued(monkeypatch):
    """Reminder ids given to the broker (in batches, one task each), instead of a broker."""
    sent: list[int] = []
    monkeypatch.setattr(tasks.send_reminders, "delay", sent.extend)
    return sent


@pytest.fixture
def claimed(clinic, waiting_for_contraception, enqueued, django_capture_on_commit_callbacks):
    with time_machine.travel(NOW, tick=False):
        patient = waiting_for_contraception()
        plan_clinic(clinic)
        with django_capture_on_commit_callbacks(execute=True):
            dispatch.dispatch_due()
    enqueued.clear()
    return Reminder.objects.get(patient=patient, kind="contraception_confirm")


def redis_up() -> bool:
    try:
        return redis.Redis.from_url(TEST_REDIS, socket_timeout=1).ping()
    except redis.RedisError:
        return False


@pytest.mark.skipif(not redis_up(), reason="needs Redis on 127.0.0.1:6379")
def test_after_redis_lost_its_messages_claimed_rows_go_again_at_once(
    claimed,
    enqueued,
    settings,
    django_capture_on_commit_callbacks,
):
    settings.REDIS_URL = TEST_REDIS
    client = redis.Redis.from_url(TEST_REDIS)
    client.delete(dispatch.BROKER_MARK)
    later = NOW + dt.timedelta(seconds=20)  # far below the 300 s claim timeout
    with time_machine.travel(later, tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            first = dispatch.dispatch()
        # The mark is back: a second run does not claim the row again.
        with django_capture_on_commit_callbacks(execute=True):
            second = dispatch.dispatch()
    assert first.claimed == [claimed.pk] and first.enqueued == 1
    assert second.claimed == []
    assert enqueued == [claimed.pk]
    claimed.refresh_from_db()
    assert claimed.status == ReminderStatus.SENDING and claimed.claimed_at == later
    client.delete(dispatch.BROKER_MARK)


def test_with_redis_intact_a_claimed_row_waits_for_the_claim_timeout(
    claimed,
    enqueued,
    settings,
    django_capture_on_commit_callbacks,
):
    settings.REDIS_URL = ""
    with time_machine.travel(NOW + dt.timedelta(seconds=20), tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            assert dispatch.dispatch().claimed == []


def test_the_command_says_when_nothing_reached_the_broker(
    clinic, waiting_for_contraception, monkeypatch, capsys, django_capture_on_commit_callbacks
):
    def broker_down(ids):
        raise ConnectionError("broker down")

    monkeypatch.setattr(tasks.send_reminders, "delay", broker_down)
    with time_machine.travel(NOW, tick=False):
        waiting_for_contraception()
        with django_capture_on_commit_callbacks(execute=True):
            call_command("plan_reminders", "--dispatch")
    out, err = capsys.readouterr()
    assert "0 reminders enqueued." in out
    assert "could not be enqueued" in err
    row = Reminder.objects.get(kind="contraception_confirm")
    assert row.status == ReminderStatus.PENDING and row.claimed_at is None
