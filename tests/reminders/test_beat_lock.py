"""Two beats against one Redis: only the one holding the lock sends (config/beat.py), and when it
is SIGKILLed the other takes over within the lock's expiry (docs/reminders.md, beat).

The beats publish to a Redis of their own (tests/reminders/stack.py) with no worker, so every
periodic task they sent is still in its queue, and each message names the process that sent it.
"""

import datetime as dt
import json
import time

import pytest
import redis
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from config.beat import LAST_RUN_KEY, LOCK_KEY, LockedScheduler
from config.celery import app
from tests.reminders.stack import Sink, Stack, free_port, wait_for

LOCK_SECONDS = 3.0
POLL_SECONDS = LOCK_SECONDS / 3


@pytest.fixture
def stack(tmp_path):
    # Beat reads no database: SQLite in a file is enough for its Django settings.
    made = Stack(
        tmp_path,
        f"sqlite:///{tmp_path / 'beat.sqlite3'}",
        Sink(),
        REMINDER_DISPATCH_EVERY_SECONDS=1,
        BEAT_LOCK_SECONDS=LOCK_SECONDS,
    )
    yield made
    made.close()


def sent_by(client: redis.Redis) -> dict[int, int]:
    """Periodic tasks queued so far, by the process id of the beat that sent them."""
    counts: dict[int, int] = {}
    for queue in ("dispatch", "celery"):
        for raw in client.lrange(queue, 0, -1):
            origin = json.loads(raw)["headers"]["origin"]  # gen<pid>@<host>
            pid = int(origin.split("@")[0].removeprefix("gen"))
            counts[pid] = counts.get(pid, 0) + 1
    return counts


@pytest.mark.slow
def test_a_second_beat_sends_nothing_and_takes_over_when_the_first_is_killed(stack):
    client = redis.Redis(port=stack.redis_port)
    stack.start_beat("beat-1")
    first = stack.procs["beat-1"].pid
    assert wait_for(lambda: sent_by(client).get(first, 0) >= 2, 30), stack.log("beat-1")[-3000:]
    stack.start_beat("beat-2")
    second = stack.procs["beat-2"].pid
    assert wait_for(lambda: "beat: Starting..." in stack.log("beat-2"), 30), stack.log("beat-2")

    before = sent_by(client).get(first, 0)
    time.sleep(5)  # both beats running: five dispatcher intervals
    during = sent_by(client)
    assert second not in during  # the second beat sent nothing
    assert 2 <= during[first] - before <= 7  # one dispatch a second, not two (10)

    stack.kill("beat-1")  # SIGKILL: no release of the lock, it must expire
    killed_at = time.monotonic()
    assert wait_for(lambda: second in sent_by(client), LOCK_SECONDS + POLL_SECONDS + 4, 0.05)
    took_over_in = time.monotonic() - killed_at
    print(f"\nbeat takeover: {took_over_in:.1f} s after SIGKILL (lock {LOCK_SECONDS:g} s)")
    assert took_over_in <= LOCK_SECONDS + POLL_SECONDS + 2  # + a loaded machine's slack
    assert sent_by(client)[first] == during[first]  # the dead beat sent nothing more
    time.sleep(3)
    assert 1 <= sent_by(client)[second] <= 5  # and the new one keeps the schedule alone


def test_the_beat_that_takes_over_carries_on_from_the_last_runs_kept_in_redis(stack, settings):
    settings.REDIS_URL = f"redis://127.0.0.1:{stack.redis_port}/0"
    settings.BEAT_LOCK_SECONDS = LOCK_SECONDS
    client = redis.Redis(port=stack.redis_port)
    ran_at = timezone.now() - dt.timedelta(minutes=7)
    client.hset(LAST_RUN_KEY, "plan-reminders", ran_at.isoformat())
    client.set(LOCK_KEY, "another beat", px=60_000)
    scheduler = LockedScheduler(app=app, lazy=False)
    try:
        assert scheduler.tick() == POLL_SECONDS  # waits, sends nothing
        assert not scheduler.leading
        client.delete(LOCK_KEY)  # the other beat's lock expired
        scheduler.hold_lock()
        assert scheduler.leading
        assert client.get(LOCK_KEY).decode() == scheduler.token
        assert scheduler.schedule["plan-reminders"].last_run_at == ran_at
    finally:
        scheduler.close()
    assert client.get(LOCK_KEY) is None  # released on the way out, not left to expire


def test_a_beat_that_cannot_reach_redis_sends_nothing_and_keeps_running(settings):
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port(6490)}/0"  # nothing listens there
    settings.BEAT_LOCK_SECONDS = LOCK_SECONDS
    scheduler = LockedScheduler(app=app, lazy=False)
    sent = []
    scheduler.apply_entry = lambda entry, producer=None: sent.append(entry.name)
    assert scheduler.tick() == POLL_SECONDS  # no exception: beat waits for Redis to come back
    assert (scheduler.leading, sent) == (False, [])
    scheduler.close()


def test_a_lock_shorter_than_a_second_is_refused_naming_the_setting(settings):
    settings.BEAT_LOCK_SECONDS = 0
    with pytest.raises(ImproperlyConfigured, match="BEAT_LOCK_SECONDS"):
        LockedScheduler(app=app, lazy=True)
