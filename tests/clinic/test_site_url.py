"""`make run PORT=...`: links in emails and the calendar feed point at the port served.

honcho gives each process of the Procfile a PORT of its own (web PORT, worker PORT + 100,
beat PORT + 200), and the worker sends the emails: so the Makefile sets SITE_URL once for all.
"""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def _dry_run(**env) -> str:
    environment = {k: v for k, v in os.environ.items() if k not in {"SITE_URL", "PORT"}}
    environment.update(env)
    result = subprocess.run(
        ["make", "-n", "run"], cwd=ROOT, env=environment, capture_output=True, text=True, check=True
    )
    return next(line for line in result.stdout.splitlines() if "honcho start" in line)


def test_site_url_follows_the_port_make_run_serves():
    assert "SITE_URL=http://127.0.0.1:8123 " in _dry_run(PORT="8123")


def test_site_url_defaults_to_port_8000():
    assert "SITE_URL=http://127.0.0.1:8000 " in _dry_run()


def test_an_explicit_site_url_wins():
    line = _dry_run(PORT="8123", SITE_URL="https://clinic.example.org")
    assert "SITE_URL=https://clinic.example.org " in line
