"""/health/live and /health/ready for load balancers and monitoring (docs/operations-health.md).

- live (and /health/ for older probes): the process answers; the release it runs.
- ready: the database, the broker, a worker answering a Celery ping, beat's heartbeat, and no
  reminder stuck past its send time; 200 when every check passes, 503 naming the failing ones.
  One check only ever warns: PostgreSQL's autovacuum switched off. Nothing is to be restarted
  and no host is to be taken out of service for it, so ready still answers 200, with status
  "warn" and the check named under "warnings".

`HealthMiddleware` comes first in MIDDLEWARE and answers these paths itself, before
SecurityMiddleware's HTTPS redirect and before any host validation: a load balancer probes a
web host over plain HTTP by its IP address. The answers carry no patient data (counts and ages
only), need no login and are never cached. The URLconf routes the same views, for reverse().
"""

import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import redis
from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db import connection
from django.http import HttpResponseNotAllowed, JsonResponse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers

from config import __version__
from config.celery import app as celery_app
from monitoring.reminders import stall

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # "ok", "warn" or "fail"
    detail: str

    @property
    def ok(self) -> bool:
        """Not failing: a warning still lets the host answer ready."""
        return self.status != "fail"


def passed(name: str, detail: str) -> Check:
    return Check(name, "ok", detail)


def failed(name: str, detail: str) -> Check:
    return Check(name, "fail", detail)


def warned(name: str, detail: str) -> Check:
    return Check(name, "warn", detail)


def check_database() -> Check:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return passed("database", f"{connection.vendor} answers")


def check_broker() -> Check:
    if not settings.REDIS_URL:
        return passed("broker", "filesystem broker (development)")
    timeout = settings.HEALTH_WORKER_PING_SECONDS
    client = redis.Redis.from_url(
        settings.REDIS_URL, socket_timeout=timeout, socket_connect_timeout=timeout
    )
    try:
        client.ping()
    finally:
        client.close()
    return passed("broker", "redis answers")


def ping_workers() -> list[dict]:
    """Celery's control ping; returns as soon as one worker answers, or after the timeout.
    Asked afresh on every probe: a cached answer would hide a worker that just died."""
    return celery_app.control.ping(timeout=settings.HEALTH_WORKER_PING_SECONDS, limit=1)


def check_worker() -> Check:
    if ping_workers():
        return passed("worker", "a worker answered the ping")
    return failed(
        "worker",
        f"no worker answered within {settings.HEALTH_WORKER_PING_SECONDS:g} s: "
        "reminders are not being sent",
    )


def check_beat() -> Check:
    beat_at = stall.last_heartbeat()
    limit = stall.heartbeat_limit().total_seconds()
    if beat_at is None:
        return failed("beat", "beat has never sent a heartbeat: is it running?")
    age = (timezone.now() - beat_at).total_seconds()
    if stall.heartbeat_is_stale(beat_at, timezone.now()):
        return failed(
            "beat",
            f"last heartbeat {age:.0f} s ago (limit {limit:g} s): beat is stopped "
            "or cannot reach the broker or the database",
        )
    return passed("beat", f"last heartbeat {age:.0f} s ago (limit {limit:g} s)")


def check_reminders() -> Check:
    late = stall.late_reminders(timezone.now())
    minutes = settings.HEALTH_REMINDER_LATE_MINUTES
    if late.count:
        oldest = (timezone.now() - late.oldest_send_at).total_seconds() / 60
        return failed(
            "reminders",
            f"{late.count} reminder(s) more than {minutes:g} min past their send time "
            f"(the oldest {oldest:.0f} min)",
        )
    return passed("reminders", f"none more than {minutes:g} min past its send time")


# What autovacuum needs: itself on, and the dead rows counted (track_counts), without which
# it cannot tell which tables to vacuum.
VACUUM_SETTINGS = ("autovacuum", "track_counts")
AUTOVACUUM_OFF = (
    "the kept triage rows are rewritten daily and reminder rows as they are sent, and their "
    "dead rows are never reclaimed; see docs/operations.md"
)


def read_vacuum_settings() -> dict[str, str] | None:
    """The server's values, "on" or "off"; None on a database without autovacuum (SQLite).
    One query per probe, answered from the server's memory: nothing worth caching."""
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('autovacuum'), current_setting('track_counts')")
        return dict(zip(VACUUM_SETTINGS, cursor.fetchone(), strict=True))


def check_autovacuum() -> Check:
    values = read_vacuum_settings()
    if values is None:
        return passed("autovacuum", f"not applicable ({connection.vendor})")
    off = [name for name in VACUUM_SETTINGS if values[name] != "on"]
    if off:
        verb = "is" if len(off) == 1 else "are"
        return warned("autovacuum", f"{' and '.join(off)} {verb} off: {AUTOVACUUM_OFF}")
    return passed("autovacuum", "autovacuum and track_counts on")


CHECKS: tuple[tuple[str, Callable[[], Check]], ...] = (
    ("database", check_database),
    ("broker", check_broker),
    ("worker", check_worker),
    ("beat", check_beat),
    ("reminders", check_reminders),
    # Last, so the five above keep their places in the answer.
    ("autovacuum", check_autovacuum),
)
# Without the broker a worker cannot be asked; without the database neither beat's heartbeat
# nor the reminders can be read. Those checks fail saying why, without waiting on a timeout.
NEEDS = {
    "worker": "broker",
    "beat": "database",
    "reminders": "database",
    "autovacuum": "database",
}
# Checks that warn and never fail, even when they cannot be made: a host is not taken out of
# service because of them, and the `failing` list names only what stops the site or sending.
WARN_ONLY = frozenset({"autovacuum"})


def run_checks() -> list[Check]:
    results: dict[str, Check] = {}
    for name, check in CHECKS:
        not_made = warned if name in WARN_ONLY else failed
        needed = NEEDS.get(name)
        if needed and not results[needed].ok:
            results[name] = not_made(name, f"not checked: the {needed} is unavailable")
            continue
        try:
            results[name] = check()
        except Exception as error:
            # The exception's class only: its text can name hosts, and this answer is public.
            log.warning("health check %s failed", name, exc_info=True)
            results[name] = not_made(name, f"unavailable ({type(error).__name__})")
    return list(results.values())


def _answer(request, body: dict, status: int = 200):
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    response = JsonResponse(body, status=status)
    add_never_cache_headers(response)
    response["X-Content-Type-Options"] = "nosniff"
    # A red probe is an answer, not a server error: without this Django logs each 503 on
    # django.request at ERROR, which mails the admins (or reaches Sentry) once per probe of the
    # load balancer for as long as anything is red. The failing checks are logged at WARNING.
    response._has_been_logged = True
    return response


@login_not_required
def live(request):
    return _answer(request, {"status": "ok", "version": __version__})


@login_not_required
def ready(request):
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    started = time.monotonic()
    checks = run_checks()
    ok = all(check.ok for check in checks)
    warnings = [check.name for check in checks if check.status == "warn"]
    body = {
        "status": "fail" if not ok else "warn" if warnings else "ok",
        "version": __version__,
        "failing": [check.name for check in checks if not check.ok],
        "warnings": warnings,
        "checks": [asdict(check) for check in checks],
        "seconds": round(time.monotonic() - started, 3),
    }
    return _answer(request, body, 200 if ok else 503)


PROBES = {
    "/health/": live,
    "/health/live": live,
    "/health/live/": live,
    "/health/ready": ready,
    "/health/ready/": ready,
}


class HealthMiddleware:
    """Answers the probes before any other middleware runs (see the module's docstring)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        probe = PROBES.get(request.path_info)
        if probe is None:
            return self.get_response(request)
        return probe(request)
