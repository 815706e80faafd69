"""A production environment for settings imported in a subprocess (tests/clinic/test_deploy.py).

`clean_environment()` drops every variable the settings read, so a developer's shell (or
`make test`, which exports DJANGO_DEBUG=true and SITE_URL) cannot make a production test pass.
"""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

SETTINGS_VARIABLES = (
    "SITE_URL",
    "EMAIL_HOST",
    "EMAIL_PORT",
    "REDIS_URL",
    "DEFAULT_FROM_EMAIL",
    "DATABASE_URL",
    "DEMO_OTP",
    "SENTRY_DSN",
    "LOG_FORMAT",
    "LOG_LEVEL",
)

PRODUCTION = {
    "DJANGO_SECRET_KEY": "a-long-random-production-key-for-the-tests-0123456789-abcdef",
    "DJANGO_ALLOWED_HOSTS": "clinic.example.org",
    "SITE_URL": "https://clinic.example.org",
    "EMAIL_HOST": "smtp.example.org",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "DEFAULT_FROM_EMAIL": "Example Clinic <reminders@clinic.example.org>",
}


def clean_environment(**env: str) -> dict[str, str]:
    base = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("DJANGO_") and key not in SETTINGS_VARIABLES
    }
    base.update(env)
    return base


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean_environment(**env), "DJANGO_SETTINGS_MODULE": "config.settings"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def settings_value(expression: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    """Imports config.settings in a fresh interpreter and prints `expression` (of `s`)."""
    return subprocess.run(
        [sys.executable, "-c", f"import config.settings as s; print({expression})"],
        cwd=ROOT,
        env=clean_environment(**env),
        capture_output=True,
        text=True,
        timeout=60,
    )
