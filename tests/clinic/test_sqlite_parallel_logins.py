"""The embedded SQLite default holds a small clinic's morning: many people logging in at once,
password then second factor, against gunicorn on a file database (issue 20, item 8; the
settings are in config/settings.py, DATABASES, and docs/security.md).

Before WAL, a busy timeout and IMMEDIATE transactions, about a third of such logins were a 500
"database is locked": a request that had read in a transaction and then wanted to write was
refused at once instead of waiting its turn.
"""

# ruff: noqa: S603 - the test starts its own gunicorn and manage.py

import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import requests
from django_otp.oath import totp

from tests.reminders.stack import free_port, wait_for

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
USERS = 60
PASSWORD = "parallel-login-password-1"  # noqa: S105 - a test user's password
KEY = "3132333435363738393031323334353637383930"  # the RFC 6238 test key, hex

# Run inside manage.py shell: clinicians with a confirmed authenticator of a known key.
MAKE_USERS = f"""
from django.contrib.auth import get_user_model
from django_otp.plugins.otp_totp.models import TOTPDevice
from clinic.models import Clinic, Membership
clinic = Clinic.objects.create(name="Parallel")
for n in range({USERS}):
    user = get_user_model().objects.create_user(f"doc{{n}}", password="{PASSWORD}")
    Membership.objects.create(user=user, clinic=clinic, role="clinician")
    TOTPDevice.objects.create(user=user, name="app", key="{KEY}", confirmed=True)
"""


@pytest.fixture
def gunicorn(tmp_path):
    """gunicorn (4 workers, as a small server runs it) on a migrated file SQLite database."""
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'clinic.sqlite3'}",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DJANGO_DEBUG": "true",
        "DJANGO_TESTING": "",
        "DEMO_OTP": "on",
        "MEDIA_ROOT": str(tmp_path / "media"),
    }
    manage = [str(BIN / "python"), "manage.py"]
    subprocess.run([*manage, "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    subprocess.run([*manage, "shell", "-c", MAKE_USERS], cwd=ROOT, env=env, check=True)
    port = free_port(8900)
    log = (tmp_path / "gunicorn.log").open("w")
    proc = subprocess.Popen(
        [
            str(BIN / "gunicorn"),
            "config.wsgi:application",
            "--workers=4",
            f"--bind=127.0.0.1:{port}",
            "--timeout=120",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    host = f"http://127.0.0.1:{port}"
    try:
        assert wait_for(lambda: _answers(host), 60), "gunicorn did not start"
        yield host
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def _answers(host: str) -> bool:
    try:
        return requests.get(host + "/login/", timeout=10).ok
    except requests.RequestException:  # not listening yet, or still loading the app
        return False


def csrf_token(page: requests.Response) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)


def log_in(host: str, username: str, start: threading.Barrier) -> list[int]:
    """Password, then the authenticator's code: the status of each POST (redirects not
    followed), ending on a page with patient data."""
    session = requests.Session()
    form = session.get(host + "/login/", timeout=60)
    start.wait()
    statuses = []
    answer = session.post(
        host + "/login/",
        {"username": username, "password": PASSWORD, "csrfmiddlewaretoken": csrf_token(form)},
        headers={"Referer": host + "/login/"},
        allow_redirects=False,
        timeout=60,
    )
    statuses.append(answer.status_code)
    if answer.status_code != 302:
        return statuses
    form = session.get(host + "/account/two-factor/", timeout=60)
    code = f"{totp(bytes.fromhex(KEY)):06d}"
    answer = session.post(
        host + "/account/two-factor/",
        {"code": code, "csrfmiddlewaretoken": csrf_token(form)},
        headers={"Referer": host + "/account/two-factor/"},
        allow_redirects=False,
        timeout=60,
    )
    statuses.append(answer.status_code)
    if answer.status_code == 302:
        statuses.append(session.get(host + "/patients/", timeout=60).status_code)
    return statuses


@pytest.mark.slow
def test_sixty_clinicians_log_in_at_once_without_a_server_error(gunicorn):
    start = threading.Barrier(USERS)
    results: dict[str, list[int]] = {}

    def one(n: int) -> None:
        try:
            results[f"doc{n}"] = log_in(gunicorn, f"doc{n}", start)
        except requests.RequestException as error:
            results[f"doc{n}"] = [repr(error)]

    threads = [threading.Thread(target=one, args=(n,)) for n in range(USERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    failed = {user: s for user, s in results.items() if s != [302, 302, 200]}
    print(f"parallel logins on SQLite: {USERS - len(failed)} of {USERS} reached their patients")
    assert not failed, f"{len(failed)} of {USERS} logins failed: {sorted(failed.items())[:10]}"
