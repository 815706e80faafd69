"""Beat's scheduler when Redis is the broker: one beat sends, any other waits (docs/reminders.md).

The schedule is `CELERY_BEAT_SCHEDULE` in settings; beat keeps no file. A beat sends only while
it holds a Redis lock (`SET NX PX`, renewed on every tick, compare-and-swapped on the owner's
token), so a second beat started by mistake, or a standby on another host, sends nothing until
the first stops renewing: killed, hung, cut off from Redis. It then takes over within
`BEAT_LOCK_SECONDS` plus one of its polls (a third of that). The time each entry last ran is
kept in Redis, so the beat that takes over carries on the schedule where the other left it.
"""

import logging
import os
import socket
import uuid
from datetime import datetime

import redis
from celery.beat import Scheduler
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

logger = logging.getLogger(__name__)

LOCK_KEY = "clinic:beat:lock"
LAST_RUN_KEY = "clinic:beat:last-run"
# Extend the lock only if this beat still owns it: a beat that stalled past the expiry must not
# extend the lock another beat has since taken.
RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""
RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('del', KEYS[1])
end
return 0
"""


class LockedScheduler(Scheduler):
    def __init__(self, *args, **kwargs):
        if settings.BEAT_LOCK_SECONDS < 1:
            raise ImproperlyConfigured("BEAT_LOCK_SECONDS must be at least 1 (seconds).")
        self.lock_ms = int(settings.BEAT_LOCK_SECONDS * 1000)
        # Renewed at least three times per expiry, so one slow tick does not lose the lock.
        self.poll_seconds = settings.BEAT_LOCK_SECONDS / 3
        self.token = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex}"
        self.redis = redis.Redis.from_url(
            settings.REDIS_URL, socket_timeout=5, socket_connect_timeout=5
        )
        self.leading = False
        self.redis_reachable = True
        self.said_waiting = False
        super().__init__(*args, **kwargs)

    def tick(self, *args, **kwargs) -> float:
        if not self.hold_lock():
            return self.poll_seconds
        return min(super().tick(*args, **kwargs), self.poll_seconds)

    def hold_lock(self) -> bool:
        """True when this beat holds the lock for the next BEAT_LOCK_SECONDS."""
        try:
            if self.leading and self.redis.eval(RENEW, 1, LOCK_KEY, self.token, self.lock_ms):
                return True
            if self.leading:
                # Redis restarted (its keys gone) or this beat stalled past the expiry.
                logger.warning("beat: lost the lock %s; sending nothing until it is back", LOCK_KEY)
                self.leading = False
            if self.redis.set(LOCK_KEY, self.token, nx=True, px=self.lock_ms):
                self.leading, self.said_waiting = True, False
                self.carry_on_schedule()
                logger.info("beat: holds the lock %s: this beat sends (%s)", LOCK_KEY, self.token)
            elif not self.said_waiting:
                logger.info("beat: another beat holds the lock %s; waiting", LOCK_KEY)
                self.said_waiting = True
            self.redis_reachable = True
            return self.leading
        except redis.exceptions.RedisError as error:
            if self.redis_reachable:
                logger.warning("beat: Redis unreachable (%s); sending nothing", error)
            self.redis_reachable = False
            return False

    def carry_on_schedule(self) -> None:
        """Take each entry's last run from Redis, where the beat before this one left it."""
        last_runs = self.redis.hgetall(LAST_RUN_KEY)
        for name, entry in self.schedule.items():
            stamp = last_runs.get(name.encode())
            if stamp:
                entry.last_run_at = datetime.fromisoformat(stamp.decode())
        self._heap = None  # rebuilt from the entries on the next tick

    def reserve(self, entry):
        new_entry = super().reserve(entry)
        try:
            self.redis.hset(LAST_RUN_KEY, entry.name, new_entry.last_run_at.isoformat())
        except redis.exceptions.RedisError:
            pass  # only a hint for the next beat; this tick's send goes on regardless
        return new_entry

    def close(self) -> None:
        if self.leading:
            try:  # hand over at once rather than after the expiry
                self.redis.eval(RELEASE, 1, LOCK_KEY, self.token)
            except redis.exceptions.RedisError:
                pass
            self.leading = False
        super().close()

    @property
    def info(self) -> str:
        return f"    . lock -> {LOCK_KEY} ({settings.BEAT_LOCK_SECONDS:g} s)"
