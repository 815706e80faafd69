"""/health/live and /health/ready (docs/operations-health.md): a load balancer's plain-HTTP probe
by IP address answers JSON under production settings, and ready names each failing check.

The failures are real where they are cheap: an old heartbeat row, a reminder row past its send
time, a Redis URL nobody listens on, no worker to answer the ping. Two stand-ins: a worker
answering the ping in the all-green cases (tests/reminders/test_health_stack.py has a real one),
and the server's autovacuum settings, which a session cannot change.
"""

import datetime as dt
import logging
import os
import socket
import subprocess
import sys
import time
from http.client import HTTPConnection
from pathlib import Path

import pytest
import time_machine
from django.db import OperationalError, connection
from django.test import override_settings

from config import __version__, health
from monitoring.models import Reminder, ReminderStatus
from monitoring.reminders.stall import record_heartbeat
from tests.factories import ClinicFactory, enroll

ROOT = Path(__file__).resolve().parents[2]
NOW = dt.datetime(2027, 5, 3, 16, 0, tzinfo=dt.UTC)  # 12:00 in New York: no quiet hours
PROBE = {"HTTP_HOST": "10.1.2.3"}  # a load balancer probes by IP, over plain HTTP

# What a production host looks like to the probe: HTTPS enforced, one host name allowed.
production = override_settings(
    DEBUG=False,
    SECURE_SSL_REDIRECT=True,
    SECURE_PROXY_SSL_HEADER=("HTTP_X_FORWARDED_PROTO", "https"),
    ALLOWED_HOSTS=["clinic.example.org"],
    HEALTH_WORKER_PING_SECONDS=0.3,
    REDIS_URL="",
)


@pytest.fixture
def now():
    with time_machine.travel(NOW, tick=False):
        yield NOW


@pytest.fixture
def worker_answers(monkeypatch):
    monkeypatch.setattr(health, "ping_workers", lambda: [{"celery@web": {"ok": "pong"}}])


def vacuum_settings(monkeypatch, autovacuum="on", track_counts="on"):
    """The server's answer, as PostgreSQL gives it: autovacuum cannot be SET in a session, and
    the test server's own setting is not the test's to choose."""
    values = {"autovacuum": autovacuum, "track_counts": track_counts}
    monkeypatch.setattr(health, "read_vacuum_settings", lambda: values)


@pytest.fixture
def all_well(db, now, worker_answers, monkeypatch):
    record_heartbeat(now - dt.timedelta(seconds=30))
    vacuum_settings(monkeypatch)


def checks(response) -> dict[str, str]:
    return {check["name"]: check["status"] for check in response.json()["checks"]}


@production
@pytest.mark.parametrize("path", ["/health/live", "/health/live/", "/health/"])
def test_live_answers_a_plain_http_probe_by_ip_with_production_settings(client, path):
    response = client.get(path, **PROBE)
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "version": __version__}
    assert "no-store" in response["Cache-Control"]


@production
def test_other_pages_still_redirect_to_https_and_refuse_unknown_hosts(client, db):
    assert client.get("/login/", **PROBE).status_code == 400
    response = client.get("/login/", HTTP_HOST="clinic.example.org")
    assert response.status_code == 301
    assert response["Location"] == "https://clinic.example.org/login/"


@production
def test_ready_is_200_json_by_ip_when_every_check_passes(client, all_well):
    response = client.get("/health/ready", **PROBE)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "ok" and body["failing"] == [] and body["version"] == __version__
    assert body["warnings"] == []
    assert checks(response) == dict.fromkeys(
        ["database", "broker", "worker", "beat", "reminders", "autovacuum"], "ok"
    )
    details = {check["name"]: check["detail"] for check in body["checks"]}
    assert details["broker"] == "filesystem broker (development)"
    assert details["beat"] == "last heartbeat 30 s ago (limit 120 s)"
    assert "no-store" in response["Cache-Control"]


@production
def test_ready_is_503_naming_the_worker_when_none_answers_the_ping(client, db, now):
    record_heartbeat(now)
    started = time.monotonic()
    response = client.get("/health/ready", **PROBE)  # no worker runs in the test process
    assert time.monotonic() - started < 5
    assert response.status_code == 503
    assert response.json()["failing"] == ["worker"]
    assert "no worker answered within 0.3 s" in response.json()["checks"][2]["detail"]


@production
@pytest.mark.parametrize(
    "age, status", [(119, 200), (121, 503)], ids=["under twice the interval", "over it"]
)
def test_ready_fails_on_beat_once_its_heartbeat_is_twice_the_interval_old(
    client, all_well, now, age, status
):
    record_heartbeat(now - dt.timedelta(seconds=age))
    response = client.get("/health/ready", **PROBE)
    assert response.status_code == status
    assert response.json()["failing"] == ([] if status == 200 else ["beat"])


@production
def test_ready_fails_on_beat_when_beat_never_sent_a_heartbeat(client, db, now, worker_answers):
    response = client.get("/health/ready", **PROBE)
    assert response.status_code == 503
    assert response.json()["failing"] == ["beat"]


@production
@pytest.mark.parametrize(
    "minutes_late, status", [(14, 200), (16, 503)], ids=["14 min late", "16 min late"]
)
def test_ready_fails_on_a_reminder_more_than_15_minutes_past_its_send_time(
    client, all_well, now, minutes_late, status
):
    clinic = ClinicFactory(time_zone="America/New_York")
    Reminder.objects.create(
        patient=enroll(clinic),
        kind="monthly_test",
        due_on=now.date(),
        send_at=now - dt.timedelta(minutes=minutes_late),
        status=ReminderStatus.PENDING,
    )
    response = client.get("/health/ready", **PROBE)
    assert response.status_code == status
    assert response.json()["failing"] == ([] if status == 200 else ["reminders"])


@production
def test_a_claimed_reminder_stuck_past_its_send_time_fails_too(client, all_well, now):
    Reminder.objects.create(
        patient=enroll(ClinicFactory()),
        kind="monthly_test",
        due_on=now.date(),
        send_at=now - dt.timedelta(minutes=40),
        status=ReminderStatus.SENDING,
        claimed_at=now - dt.timedelta(minutes=39),
    )
    response = client.get("/health/ready", **PROBE)
    assert response.status_code == 503
    detail = response.json()["checks"][4]["detail"]
    assert detail == "1 reminder(s) more than 15 min past their send time (the oldest 40 min)"


@production
def test_a_reminder_held_by_its_clinics_quiet_hours_is_not_a_stall(client, all_well, now):
    night = ClinicFactory(time_zone="Asia/Tokyo", quiet_hours_start=21, quiet_hours_end=8)
    Reminder.objects.create(  # 01:00 in Tokyo: the dispatcher holds it until 08:00
        patient=enroll(night),
        kind="monthly_test",
        due_on=now.date(),
        send_at=now - dt.timedelta(hours=2),
    )
    assert client.get("/health/ready", **PROBE).status_code == 200


@production
@pytest.mark.parametrize(
    "off, said",
    [
        ({"autovacuum": "off"}, "autovacuum is off"),
        ({"track_counts": "off"}, "track_counts is off"),
        ({"autovacuum": "off", "track_counts": "off"}, "autovacuum and track_counts are off"),
    ],
    ids=["autovacuum", "track_counts", "both"],
)
def test_ready_warns_and_stays_200_when_autovacuum_is_off(client, all_well, monkeypatch, off, said):
    vacuum_settings(monkeypatch, **off)
    response = client.get("/health/ready", **PROBE)
    assert response.status_code == 200  # nothing to restart; no host leaves service for it
    body = response.json()
    assert body["status"] == "warn"
    assert body["failing"] == [] and body["warnings"] == ["autovacuum"]
    assert body["checks"][5] == {
        "name": "autovacuum",
        "status": "warn",
        "detail": f"{said}: the kept triage rows are rewritten daily and reminder rows as "
        "they are sent, and their dead rows are never reclaimed; see docs/operations.md",
    }


@production
def test_autovacuum_on_passes(client, all_well):
    response = client.get("/health/ready", **PROBE)
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert response.json()["checks"][5] == {
        "name": "autovacuum",
        "status": "ok",
        "detail": "autovacuum and track_counts on",
    }


@production
def test_a_failure_beside_the_warning_is_still_503(client, db, now, monkeypatch):
    vacuum_settings(monkeypatch, autovacuum="off")
    record_heartbeat(now)
    response = client.get("/health/ready", **PROBE)  # no worker answers the ping
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "fail"
    assert body["failing"] == ["worker"] and body["warnings"] == ["autovacuum"]


@production
def test_settings_that_cannot_be_read_warn_rather_than_fail(client, all_well, monkeypatch):
    def lost():
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(health, "read_vacuum_settings", lost)
    response = client.get("/health/ready", **PROBE)
    assert response.status_code == 200
    assert response.json()["checks"][5]["status"] == "warn"
    assert response.json()["checks"][5]["detail"] == "unavailable (OperationalError)"


def test_the_settings_are_read_from_the_server_on_postgresql_only(db):
    """The one test of the real query: on SQLite there is nothing to read."""
    if connection.vendor != "postgresql":
        assert health.read_vacuum_settings() is None
        assert health.check_autovacuum().detail == f"not applicable ({connection.vendor})"
        return
    values = health.read_vacuum_settings()
    assert set(values) == {"autovacuum", "track_counts"}
    assert set(values.values()) <= {"on", "off"}
    all_on = values == {"autovacuum": "on", "track_counts": "on"}
    assert health.check_autovacuum().status == ("ok" if all_on else "warn")


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # free again once closed: nobody listens there


@production
def test_ready_is_503_naming_the_broker_when_redis_does_not_answer(client, all_well):
    with override_settings(REDIS_URL=f"redis://127.0.0.1:{closed_port()}/0"):
        response = client.get("/health/ready", **PROBE)
    assert response.status_code == 503
    body = response.json()
    assert body["failing"] == ["broker", "worker"]
    assert body["checks"][1]["detail"] == "unavailable (ConnectionError)"
    assert body["checks"][2]["detail"] == "not checked: the broker is unavailable"


@production
def test_the_probes_answer_get_and_head_only(client, db):
    assert client.post("/health/live", **PROBE).status_code == 405
    assert client.post("/health/ready", **PROBE).status_code == 405
    assert client.head("/health/live", **PROBE).status_code == 200


def test_a_production_server_answers_the_probe_by_ip_over_plain_http(tmp_path):
    """The real production settings module in a real server (gunicorn), the database and Redis
    unreachable: live is 200, ready is 503 and names them; nothing is a 301 or a 400."""
    port = closed_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DJANGO_DEBUG="false",
        DJANGO_SECRET_KEY="a-long-random-production-key-for-the-health-test-0123456789",
        DJANGO_ALLOWED_HOSTS="clinic.example.org",
        SITE_URL="https://clinic.example.org",
        EMAIL_HOST="smtp.example.org",
        DEFAULT_FROM_EMAIL="clinic@example.org",
        DATABASE_URL=f"postgres://nobody@127.0.0.1:{closed_port()}/nothing",
        REDIS_URL=f"redis://127.0.0.1:{closed_port()}/0",
        HEALTH_WORKER_PING_SECONDS="0.5",
    )
    log = open(tmp_path / "gunicorn.log", "wb")  # closed with the process
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:

        def get(path):
            connection = HTTPConnection("127.0.0.1", port, timeout=10)
            connection.request("GET", path, headers={"Host": "10.1.2.3"})
            response = connection.getresponse()
            return response.status, response.getheader("Content-Type"), response.read()

        deadline = time.monotonic() + 30
        while True:
            try:
                live = get("/health/live")
                break
            except OSError:
                assert server.poll() is None, (tmp_path / "gunicorn.log").read_text()
                assert time.monotonic() < deadline, "gunicorn did not start"
                time.sleep(0.2)
        assert live[:2] == (200, "application/json")
        assert f'"version": "{__version__}"' in live[2].decode()
        status, content_type, body = get("/health/ready")
        assert (status, content_type) == (503, "application/json")
        assert '"failing": ["database", "broker", "worker", "beat", "reminders"]' in body.decode()
        assert '"warnings": ["autovacuum"]' in body.decode()  # a warning never fails ready
        assert get("/login/")[0] == 400  # every other page still validates the host
    finally:
        server.terminate()
        server.wait(10)


def test_a_red_probe_is_not_reported_as_a_server_error(client, db, now, caplog):
    """Each 503 of /health/ready would otherwise be logged on django.request at ERROR, which
    mails the admins (or reaches Sentry) once per probe while anything is red."""
    with caplog.at_level(logging.WARNING, logger="django.request"):
        response = client.get("/health/ready", **PROBE)
    assert response.status_code == 503
    assert not [r for r in caplog.records if r.name == "django.request"]
