"""Error reports without patient data (issue 19, item 4): the ADMINS' email when SENTRY_DSN is
unset, Sentry's events (scrubbed by config.observability.scrub_event) when it is set."""

import logging.config

import pytest
from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.core import mail
from django.test import Client, override_settings
from django.urls import path

from config import urls as project_urls
from config.observability import logging_config, scrub_event
from tests.production import PRODUCTION, settings_value

GIVEN, FAMILY, EMAIL, BORN = (
    "Zephyrine",
    "Quillfeather",
    "zephyrine.quill@example.net",
    "2003-04-05",
)


@login_not_required
def broken_view(request):
    patient_name = request.POST.get("family_name") or request.GET.get("q")  # a local variable
    raise RuntimeError(f"could not save the record ({len(patient_name)} characters)")


@login_not_required
def quoting_view(request):
    raise ValueError(f"no patient with email {EMAIL} born {BORN}")  # as a database error may


urlpatterns = [
    path("broken/", broken_view),
    path("quoting/", quoting_view),
    *project_urls.urlpatterns,
]


@pytest.fixture
def admins_by_email():
    """The LOGGING a production server without SENTRY_DSN has: errors mailed to the ADMINS."""
    logging.config.dictConfig(logging_config("plain", "INFO", mail_admins=True))
    yield
    logging.config.dictConfig(settings.LOGGING)


@override_settings(
    ROOT_URLCONF=__name__,
    ADMINS=[("Ops", "ops@clinic.example.org")],
    DEBUG=False,
)
def test_a_view_error_mails_the_admins_without_the_posted_patient_or_the_query(admins_by_email):
    client = Client(raise_request_exception=False)
    answer = client.post(
        f"/broken/?q={FAMILY}&email={EMAIL}",
        {"family_name": FAMILY, "given_name": GIVEN, "email": EMAIL, "birth_date": BORN},
        HTTP_X_REQUEST_ID="req-error-0001",
        HTTP_COOKIE=f"note={GIVEN}",
    )
    assert answer.status_code == 500
    assert len(mail.outbox) == 1
    report = mail.outbox[0]
    assert report.to == ["ops@clinic.example.org"]
    assert "RuntimeError" in report.body and "could not save the record" in report.body
    assert "/broken/" in report.subject and "family_name" in report.body  # names, not values
    assert "req-error-0001" in report.body
    everything = report.subject + report.body + "".join(str(a) for a in report.alternatives)
    for secret in (GIVEN, FAMILY, EMAIL, BORN, "patient_name ="):
        assert secret not in everything, secret


def test_admins_are_read_from_the_environment():
    env = {**PRODUCTION, "DJANGO_ADMINS": "Ada Admin <ada@clinic.example.org>, ops@clinic.org"}
    result = settings_value("s.ADMINS, s.SERVER_EMAIL", env=env)
    assert result.stdout.strip() == (
        "[('Ada Admin', 'ada@clinic.example.org'), ('', 'ops@clinic.org')] "
        "Example Clinic <reminders@clinic.example.org>"
    ), result.stderr
    bad = settings_value("s.ADMINS", env={**PRODUCTION, "DJANGO_ADMINS": "Ada Admin"})
    assert bad.returncode != 0 and "DJANGO_ADMINS must be a list like" in bad.stderr


def test_errors_go_to_sentry_instead_of_the_admins_when_a_dsn_is_set():
    env = {**PRODUCTION, "SENTRY_DSN": "https://public@sentry.example.org/1"}
    expression = (
        "'mail_admins' in s.LOGGING['handlers'], "
        "__import__('sentry_sdk').get_client().options['before_send'].__name__"
    )
    assert settings_value(expression, env=env).stdout.strip() == "False scrub_event"
    assert settings_value(expression.split(",")[0], env=PRODUCTION).stdout.strip() == "True"


def test_a_sentry_event_is_scrubbed_of_patient_data():
    event = {
        "message": f"Could not email {EMAIL}",
        "logentry": {"message": "Could not email %s", "params": [EMAIL], "formatted": EMAIL},
        "request": {
            "url": f"https://clinic.example.org/patients/?q={FAMILY}",
            "method": "POST",
            "query_string": f"q={FAMILY}",
            "data": {"given_name": GIVEN, "family_name": FAMILY, "birth_date": BORN},
            "cookies": {"sessionid": "abc"},
            "headers": {"User-Agent": "Firefox", "Cookie": "sessionid=abc", "Referer": FAMILY},
            "env": {"REMOTE_ADDR": "10.0.0.1"},
        },
        "user": {"id": 7, "email": "staff@clinic.example.org", "username": "nurse"},
        "exception": {
            "values": [
                {
                    "type": "ValueError",
                    "value": f"{GIVEN} {FAMILY} born {BORN} <{EMAIL}>".replace(
                        f"{GIVEN} {FAMILY} ", ""
                    ),
                    "stacktrace": {
                        "frames": [{"function": "save", "vars": {"name": f"{GIVEN} {FAMILY}"}}]
                    },
                }
            ]
        },
        "breadcrumbs": {"values": [{"message": f"sent to {EMAIL}", "data": {"to": EMAIL}}]},
        "extra": {"patient": FAMILY},
    }
    scrubbed = repr(scrub_event(event, {}))
    for secret in (GIVEN, FAMILY, EMAIL, BORN, "staff@clinic", "nurse", "sessionid"):
        assert secret not in scrubbed, secret
    assert event["request"]["url"] == "https://clinic.example.org/patients/"
    assert event["request"]["headers"] == {"User-Agent": "Firefox"}
    assert event["user"] == {"id": 7}
    assert event["exception"]["values"][0]["value"] == "born [date] <[email]>"
    assert event["exception"]["values"][0]["stacktrace"]["frames"] == [{"function": "save"}]


@override_settings(
    ROOT_URLCONF=__name__,
    ADMINS=[("Ops", "ops@clinic.example.org")],
    DEBUG=False,
)
def test_an_exception_that_quotes_an_email_and_a_date_is_mailed_scrubbed(
    admins_by_email, django_user_model
):
    client = Client(raise_request_exception=False)
    client.force_login(django_user_model.objects.create_user("invitee@clinic.example.org"))
    assert client.get("/quoting/").status_code == 500
    (report,) = mail.outbox
    assert "ValueError" in report.body and "no patient with email" in report.body
    everything = report.subject + report.body + "".join(str(a) for a in report.alternatives)
    for secret in (EMAIL, BORN, "invitee@clinic.example.org"):
        assert secret not in everything, secret
