"""Logs a clinic can keep (issue 19, QUALITY O5): no line of a request, a task or the access log
carries a patient's name, email or search term, and each carries its request or task id.

Here (beside the reminder fixtures) because the task whose lines are read sends a reminder.
"""

import io
import json
import logging.config
import re
import smtplib
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
import time_machine
from django.conf import settings
from django.core import mail
from django.urls import reverse

from config.observability import logging_config
from monitoring import tasks
from monitoring.models import Reminder
from tests.production import clean_environment
from tests.reminders.helpers import NOW
from tests.reminders.stack import free_port

ROOT = Path(__file__).resolve().parents[2]
GIVEN, FAMILY, EMAIL = "Zephyrine", "Quillfeather", "zephyrine.quill@example.net"
SEARCH = "Quillfea"
PATIENT = {"given_name": GIVEN, "family_name": FAMILY, "email": EMAIL}


def carries_patient_data(line: str) -> bool:
    lowered = line.lower()
    return any(word.lower() in lowered for word in (GIVEN, FAMILY, EMAIL, SEARCH, "zephyrine"))


@pytest.fixture(params=["plain", "json"])
def log_lines(request):
    """Every line the application's LOGGING (config/observability.py) writes, at DEBUG."""
    buffer = io.StringIO()
    config = logging_config(request.param, "DEBUG", mail_admins=False)
    config["handlers"]["console"]["stream"] = buffer
    logging.config.dictConfig(config)
    yield request.param, lambda: buffer.getvalue().splitlines()
    logging.config.dictConfig(settings.LOGGING)


def request_id_of(log_format: str, line: str) -> str:
    if log_format == "json":
        return json.loads(line)["request_id"]
    return re.search(r" request=(\S+) ", line).group(1)


def logger_of(log_format: str, line: str) -> str:
    if log_format == "json":
        return json.loads(line)["logger"]
    found = re.match(r"\S+ \S+ \w+ (\S+) request=", line)
    return found.group(1) if found else ""


def task_id_of(log_format: str, line: str) -> str:
    if log_format == "json":
        return json.loads(line)["task_id"]
    return re.search(r" task=(\S+) ", line).group(1)


def test_no_line_of_a_request_carries_patient_data_and_each_carries_its_request_id(
    client, staff, clinic, log_lines
):
    from tests.factories import enroll

    log_format, lines = log_lines
    patient = enroll(clinic, by=staff, **PATIENT)
    client.force_login(staff)
    ids = [f"req-{n:04d}-abcdef" for n in range(4)]
    found = client.post(
        reverse("patients:list"), {"q": SEARCH}, follow=True, HTTP_X_REQUEST_ID=ids[0]
    )
    assert [p.pk for p in found.context["page"]] == [patient.pk]
    assert found["X-Request-ID"] == ids[0]
    assert (
        FAMILY in client.get(patient.get_absolute_url(), HTTP_X_REQUEST_ID=ids[1]).content.decode()
    )
    assert (
        client.get(f"/patients/{patient.pk}/nowhere/", HTTP_X_REQUEST_ID=ids[2]).status_code == 404
    )
    # A malformed id from the proxy is replaced, never written into a log line.
    forged = client.get("/nowhere/", HTTP_X_REQUEST_ID="x\nFAKE LINE " + FAMILY)
    assert re.fullmatch(r"[0-9a-f]{32}", forged["X-Request-ID"])

    written = lines()
    assert written, "the requests wrote no log line: the test would prove nothing"
    assert not [line for line in written if carries_patient_data(line)]
    assert {request_id_of(log_format, line) for line in written} <= {*ids, forged["X-Request-ID"]}
    assert request_id_of(log_format, written[-1]) == forged["X-Request-ID"]


def test_no_line_of_a_task_carries_patient_data_and_each_carries_its_task_id(
    claimed, log_lines, monkeypatch
):
    log_format, lines = log_lines
    ids = claimed(1)
    patient = Reminder.objects.get(pk=ids[0]).patient
    type(patient).objects.filter(pk=patient.pk).update(**PATIENT)

    def refuse(self, messages):  # an SMTP server quoting the recipient in its refusal
        raise smtplib.SMTPRecipientsRefused({EMAIL: (550, f"5.1.1 <{EMAIL}>: no such user")})

    monkeypatch.setattr(mail.get_connection().__class__, "send_messages", refuse)
    with time_machine.travel(NOW, tick=False):
        result = tasks.send_reminders.apply(args=[ids])
    written = lines()
    assert any("recipient refused" in line for line in written), written
    assert not [line for line in written if carries_patient_data(line)]
    assert {task_id_of(log_format, line) for line in written} == {result.id}, written


@pytest.mark.slow
@pytest.mark.parametrize("log_format", ["plain", "json"])
def test_the_access_log_of_a_real_gunicorn_carries_no_patient_data(tmp_path, log_format):
    """deploy/gunicorn.conf.py in front of the app: a search and the patient's page, by HTTP."""
    env = clean_environment(
        DJANGO_DEBUG="true",
        DATABASE_URL=f"sqlite:///{tmp_path / 'clinic.sqlite3'}",
        LOG_FORMAT=log_format,
        LOG_LEVEL="DEBUG",
    )
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True, timeout=300
    )
    made = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", SETUP],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    session, patient_url = made.stdout.split()[-2:]
    port = free_port(18600)
    log = open(tmp_path / "gunicorn.log", "w+")  # closed below
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py", "config.wsgi"],
        cwd=ROOT,
        env={**env, "GUNICORN_BIND": f"127.0.0.1:{port}", "GUNICORN_WORKERS": "1"},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        http = requests.Session()
        http.cookies.set("sessionid", session)
        for _ in range(100):
            try:
                listing = http.get(f"{base}/patients/", headers={"X-Request-ID": "gunicorn-0001"})
                break
            except requests.ConnectionError:
                time.sleep(0.2)
        assert listing.status_code == 200
        found = http.post(
            f"{base}/patients/",
            data={"q": SEARCH, "csrfmiddlewaretoken": http.cookies["csrftoken"]},
            headers={"X-Request-ID": "gunicorn-0002", "Referer": f"{base}/patients/"},
        )
        assert found.status_code == 200 and FAMILY in found.text
        assert "?s=" in found.url and SEARCH not in found.url
        page = http.get(base + patient_url, headers={"X-Request-ID": "gunicorn-0003"})
        assert FAMILY in page.text
        # A query string sent anyway (an old bookmark) stays out of the access log.
        http.get(f"{base}/patients/?q={FAMILY}&email={EMAIL}")
    finally:
        server.terminate()
        server.wait(timeout=30)
    log.seek(0)
    written = log.read().splitlines()
    log.close()
    access = [line for line in written if logger_of(log_format, line) == "gunicorn.access"]
    assert len(access) == 5, written
    assert not [line for line in written if carries_patient_data(line)]
    for request_id in ("gunicorn-0001", "gunicorn-0002", "gunicorn-0003"):
        assert any(request_id_of(log_format, line) == request_id for line in access)
    assert all(re.fullmatch(r"[\w.:-]{8,64}", request_id_of(log_format, line)) for line in access)


SETUP = f"""
from django.test import Client
from tests.factories import ClinicFactory, enroll, member
clinic = ClinicFactory(name="Log Clinic")
staff = member(clinic, "staff")
patient = enroll(clinic, by=staff, given_name="{GIVEN}", family_name="{FAMILY}", email="{EMAIL}")
client = Client()
client.force_login(staff)
print(client.cookies["sessionid"].value, patient.get_absolute_url())
"""


def test_the_development_servers_request_line_leaves_out_the_query_string(log_lines):
    log_format, lines = log_lines
    logging.getLogger("django.server").info(
        '"%s" %s %s', f"GET /patients/?q={FAMILY}&e={EMAIL} HTTP/1.1", "200", "512"
    )
    (line,) = lines()
    assert "GET /patients/ HTTP/1.1" in line and not carries_patient_data(line)
