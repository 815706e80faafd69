"""Production settings: fail loudly without secrets or on a development value, and pass Django's
deployment checks (docs/deploy-settings.md)."""

import pytest
from django.core import signing
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from config.deploy_checks import check_production_settings
from tests.production import PRODUCTION, manage, settings_value


def without(name: str) -> dict[str, str]:
    return {key: value for key, value in PRODUCTION.items() if key != name}


def test_production_refuses_to_start_without_a_secret_key():
    result = manage("check", env=without("DJANGO_SECRET_KEY"))
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY must be set in production" in result.stderr


def test_production_settings_pass_the_deployment_checks():
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_a_boolean_setting_that_cannot_be_read_stops_start_up():
    result = manage("check", env={"DJANGO_DEBUG": "flase"})
    assert result.returncode != 0
    assert "DJANGO_DEBUG='flase' is not a boolean" in result.stderr
    assert manage("check", env={"DJANGO_DEBUG": "TRUE"}).returncode == 0


# --- no silent fallback to a development value (issue 19, QUALITY O1) -----------------------


@pytest.mark.parametrize("name", ["SITE_URL", "EMAIL_HOST", "REDIS_URL", "DEFAULT_FROM_EMAIL"])
def test_a_missing_production_variable_stops_start_up_and_names_it(name):
    result = settings_value("s.SITE_URL", env=without(name))
    assert result.returncode != 0
    assert f"ImproperlyConfigured: {name} must be set in production" in result.stderr
    # The same value is accepted by a development server.
    development = {**without(name), "DJANGO_DEBUG": "true"}
    assert settings_value("s.SITE_URL", env=development).returncode == 0


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SITE_URL", "http://127.0.0.1:8000"),
        ("SITE_URL", "https://localhost"),
        ("SITE_URL", "https://[::1]:8443"),
        ("SITE_URL", "https://0.0.0.0"),
        ("SITE_URL", "http://clinic.example.org"),
        ("EMAIL_HOST", "smtp.example.org:587"),
        ("EMAIL_HOST", "smtp://smtp.example.org"),
        ("REDIS_URL", "filesystem://localhost//"),
        ("REDIS_URL", "memory://"),
        ("DEFAULT_FROM_EMAIL", "clinic@localhost"),
        ("DEFAULT_FROM_EMAIL", "Clinic <clinic@127.0.0.1>"),
        ("DEFAULT_FROM_EMAIL", "root@mailhost"),
        ("DEFAULT_FROM_EMAIL", "not an address"),
    ],
)
def test_a_development_value_stops_start_up_and_names_the_variable(name, value):
    result = settings_value("s.SITE_URL", env={**PRODUCTION, name: value})
    assert result.returncode != 0
    assert f"ImproperlyConfigured: {name}={value!r}" in result.stderr


def test_a_local_relay_and_a_local_redis_are_production_values():
    env = {**PRODUCTION, "EMAIL_HOST": "127.0.0.1", "REDIS_URL": "redis://localhost:6379/2"}
    result = settings_value("s.EMAIL_BACKEND, s.CELERY_BROKER_URL", env=env)
    assert result.returncode == 0, result.stderr
    assert "smtp.EmailBackend" in result.stdout and "redis://localhost:6379/2" in result.stdout


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SITE_URL", "http://127.0.0.1:8000"),
        ("EMAIL_HOST", ""),
        ("REDIS_URL", ""),
        ("DEFAULT_FROM_EMAIL", "clinic@localhost"),
    ],
)
def test_check_deploy_reports_a_development_value_set_after_start_up(settings, name, value):
    """The system check reads the settings as finally configured, not the environment."""
    settings.SITE_URL = PRODUCTION["SITE_URL"]
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = PRODUCTION["EMAIL_HOST"]
    settings.REDIS_URL = settings.CELERY_BROKER_URL = PRODUCTION["REDIS_URL"]
    settings.DEFAULT_FROM_EMAIL = PRODUCTION["DEFAULT_FROM_EMAIL"]
    settings.SECRET_KEY = PRODUCTION["DJANGO_SECRET_KEY"]
    assert check_production_settings() == []
    setattr(settings, name, value)
    if name == "EMAIL_HOST":
        settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    if name == "REDIS_URL":
        settings.CELERY_BROKER_URL = "filesystem://localhost//"
    errors = check_production_settings()
    assert [error.msg.split("=")[0].split(" ")[0] for error in errors] == [name]
    with pytest.raises(SystemCheckError, match=name):
        call_command("check", deploy=True)


def test_check_deploy_reports_every_development_value_at_once():
    result = manage("check", "--deploy", env={**PRODUCTION, "DJANGO_DEBUG": "true"})
    assert result.returncode == 0  # a development server: nothing stops it ...
    result = manage(
        "check",
        "--deploy",
        env={
            "DJANGO_DEBUG": "true",
            "DJANGO_SECRET_KEY": PRODUCTION["DJANGO_SECRET_KEY"],
            "DJANGO_ALLOWED_HOSTS": "clinic.example.org",
        },
    )
    # ... but `check --deploy` says what is not ready for production.
    assert result.returncode != 0
    for check_id in ("clinic.E001", "clinic.E002", "clinic.E003", "clinic.E004"):
        assert check_id in result.stderr


# --- the secret key (issue 20, item 10) ------------------------------------------------------


@pytest.mark.parametrize("key", ["x" * 49, "short", "ab" * 40])
def test_a_short_or_repetitive_secret_key_stops_production_start_up(key):
    result = settings_value("s.SECRET_KEY", env={**PRODUCTION, "DJANGO_SECRET_KEY": key})
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY must be at least 50 random characters" in result.stderr


def test_a_short_fallback_key_stops_production_start_up():
    env = {**PRODUCTION, "DJANGO_SECRET_KEY_FALLBACKS": "old-and-short"}
    result = settings_value("s.SECRET_KEY_FALLBACKS", env=env)
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY_FALLBACKS must be at least 50 random characters" in result.stderr


def test_a_rotated_key_keeps_what_it_signed_valid_while_it_is_a_fallback(settings):
    old = "the-previous-production-key-" + "0123456789abcdefghijklmnopqrstuvwxyz"
    new = "the-current-production-key-" + "zyxwvutsrqponmlkjihgfedcba9876543210"
    env = {**PRODUCTION, "DJANGO_SECRET_KEY": new, "DJANGO_SECRET_KEY_FALLBACKS": f"{old} ,"}
    result = settings_value("s.SECRET_KEY_FALLBACKS", env=env)
    assert result.stdout.strip() == repr([old]), result.stderr
    settings.SECRET_KEY = old
    link = signing.dumps({"patient": 1})
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = new, [old]
    assert signing.loads(link) == {"patient": 1}
    settings.SECRET_KEY_FALLBACKS = []
    with pytest.raises(signing.BadSignature):
        signing.loads(link)


# --- test mode only under the test runner (issue 20, item 10) --------------------------------


@pytest.mark.parametrize("debug", ["false", "true"])
def test_djangos_testing_variable_is_refused_outside_the_test_runner(debug):
    env = {**PRODUCTION, "DJANGO_TESTING": "true", "DJANGO_DEBUG": debug}
    result = settings_value("s.TESTING", env=env)
    assert result.returncode != 0
    assert "DJANGO_TESTING=true is for the test runner only" in result.stderr


def test_production_settings_are_not_in_test_mode_and_the_test_settings_are():
    assert settings_value("s.TESTING", env=PRODUCTION).stdout.strip() == "False"
    from django.conf import settings

    assert settings.TESTING is True


# --- no demo users in production --------------------------------------------------------------


def test_seed_demo_refuses_to_run_in_production(tmp_path):
    database = f"sqlite:///{tmp_path / 'clinic.sqlite3'}"
    result = manage("seed_demo", env={**PRODUCTION, "DATABASE_URL": database})
    assert result.returncode != 0
    assert "seed_demo refuses to run in production" in result.stderr
    assert "Logins" not in result.stdout
