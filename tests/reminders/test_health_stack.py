"""docs/quality.md O3 with the real components: Redis, a Celery worker and beat, gunicorn serving
/health/ready, an SMTP sink (tests/reminders/stack.py).

Beat's heartbeat every 2 s instead of 60, and a reminder counts as late after 18 s instead of
15 minutes, so the scenario takes about a minute: green with everything up; the worker stopped
turns /health/ready red within two heartbeat intervals and, once a reminder is late, the
Reminders page shows the stall; the worker back, green again; beat stopped, red within two
intervals. Like the fault tests, it needs PostgreSQL (DATABASE_URL) and skips on SQLite.
"""

import json
import subprocess
import sys
import time
from http.client import HTTPConnection

import pytest
from django.test import override_settings
from django.urls import reverse

from monitoring.models import Reminder, ReminderStatus
from monitoring.reminders.planner import plan_clinic
from tests.auth import verified_login
from tests.factories import ClinicFactory, member
from tests.reminders.stack import ROOT, Sink, Stack, free_port, wait_for
from tests.reminders.test_faults import database_url, due_now, patients_waiting

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

HEARTBEAT_SECONDS = 2
LATE_SECONDS = 18  # 0.3 min, as the banner words it
TWO_INTERVALS = 2 * HEARTBEAT_SECONDS
SLACK = 1.5  # a probe takes up to the 1 s ping timeout; the processes share two busy cores
HEALTH = {
    "HEALTH_HEARTBEAT_SECONDS": HEARTBEAT_SECONDS,
    "HEALTH_REMINDER_LATE_MINUTES": LATE_SECONDS / 60,
}
BANNER = 'id="sending-stalled"'


class Web:
    """gunicorn on the stack's database and Redis, stopped by its own process id."""

    def __init__(self, stack: Stack):
        self.port = free_port(8400)
        self.log = stack.tmp / "gunicorn.log"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{self.port}"],
            cwd=ROOT,
            env=stack.env,
            stdout=open(self.log, "ab"),  # closed with the process
            stderr=subprocess.STDOUT,
        )

    def ready(self) -> tuple[int, dict]:
        connection = HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            connection.request("GET", "/health/ready", headers={"Host": "10.1.2.3"})
            response = connection.getresponse()
            return response.status, json.loads(response.read())
        except OSError:
            return 0, {}
        finally:
            connection.close()

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


@pytest.fixture
def stack(tmp_path):
    stack = Stack(tmp_path, database_url(), Sink(), **HEALTH)
    web = Web(stack)
    yield stack, web
    web.close()
    stack.close()


def red_within(web: Web, seconds: float, failing: str) -> float | None:
    """Seconds until /health/ready answers 503 naming `failing`, or None if not in time."""
    started = time.monotonic()
    if wait_for(lambda: failing in web.ready()[1].get("failing", []), seconds, step=0.2):
        return time.monotonic() - started
    return None


def test_o3_health_turns_red_when_the_worker_or_beat_stops_and_the_page_shows_the_stall(
    stack, client
):
    stack, web = stack
    clinic = ClinicFactory(
        name="O3 Clinic", time_zone="UTC", reminder_send_hour=0, quiet_hours_start=0,
        quiet_hours_end=0,
    )  # fmt: skip
    verified_login(client, member(clinic, "clinic_admin"))

    def page() -> str:
        with override_settings(**HEALTH):
            return client.get(reverse("reminders:list")).content.decode()

    stack.start_worker()
    stack.start_beat()
    assert wait_for(lambda: web.ready()[0] == 200, 30), (web.ready(), stack.log("beat")[-2000:])
    status, body = web.ready()
    assert body["failing"] == [] and body["checks"][1]["detail"] == "redis answers"
    assert BANNER not in page()

    stack.kill("worker")
    worker_red = red_within(web, TWO_INTERVALS + SLACK, "worker")
    assert worker_red is not None, web.ready()

    # A reminder falls due while no worker runs: beat's dispatcher claims it, nobody sends it.
    patients_waiting(clinic, 1)
    plan_clinic(clinic)
    due = list(due_now(clinic))
    assert due
    assert BANNER not in page()  # on time so far
    late_red = red_within(web, LATE_SECONDS + 10, "reminders")
    assert late_red is not None, web.ready()
    html = page()
    assert BANNER in html and "should have gone out more than 0.3 minutes ago" in html
    assert "Reminder emails have stopped going out" in html

    stack.start_worker("worker-2")
    assert wait_for(lambda: web.ready()[0] == 200, 30), web.ready()
    sent = Reminder.objects.filter(pk__in=due, status=ReminderStatus.SENT)
    assert wait_for(lambda: sent.count() == len(due), 30)  # the waiting reminder went out
    assert BANNER not in page()

    stack.kill("beat")
    beat_red = red_within(web, TWO_INTERVALS + SLACK, "beat")
    assert beat_red is not None, web.ready()
    assert web.ready()[1]["failing"] == ["beat"]
    assert BANNER in page()
    print(
        f"\nO3: heartbeat every {HEARTBEAT_SECONDS} s; red {worker_red:.1f} s after the worker "
        f"stopped, {beat_red:.1f} s after beat stopped (limit {TWO_INTERVALS} s); a reminder "
        f"{LATE_SECONDS} s late turned it red {late_red:.1f} s after it was planned"
    )
