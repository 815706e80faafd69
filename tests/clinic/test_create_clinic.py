"""`manage.py create_clinic`: a new clinic and its first clinic admin, invited by email or with a
password from the environment or a prompt, once, audited, and nothing at all when refused."""

import io
import os
import re
import smtplib
import subprocess
import sys
from pathlib import Path

import pytest
from auditlog.models import LogEntry
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from clinic.management.commands import create_clinic as command
from clinic.models import Clinic, Membership
from tests.factories import member

User = get_user_model()
ROOT = Path(__file__).resolve().parents[2]

ARGS = {
    "name": "Riverside Dermatology",
    "time_zone": "America/Chicago",
    "admin_username": "jdoe",
    "admin_email": "jdoe@riverside.example",
}


def run(**overrides) -> str:
    out = io.StringIO()
    options = {**ARGS, **overrides}
    call_command(
        "create_clinic",
        "--name",
        options.pop("name"),
        "--time-zone",
        options.pop("time_zone"),
        "--admin-username",
        options.pop("admin_username"),
        "--admin-email",
        options.pop("admin_email"),
        *(["--with-password"] if options.pop("with_password", False) else []),
        stdout=out,
    )
    return out.getvalue()


@pytest.fixture
def create(django_capture_on_commit_callbacks):
    """run(), with the work queued for after the commit (the invitation email) done as a real
    commit does it."""

    def run_and_commit(**overrides) -> str:
        with django_capture_on_commit_callbacks(execute=True):
            return run(**overrides)

    return run_and_commit


def link_in(text: str) -> str:
    return re.search(r"https?://\S+/account/invite/\S+/", text).group(0)


def nothing_created():
    return (
        not Clinic.objects.filter(name=ARGS["name"]).exists()
        and not User.objects.filter(username="jdoe").exists()
    )


def test_it_creates_the_clinic_and_invites_its_admin(db, client, create, settings):
    settings.SITE_URL = "https://clinic.example.org"
    out = create()
    clinic = Clinic.objects.get(name="Riverside Dermatology")
    assert clinic.time_zone == "America/Chicago"
    admin = User.objects.get(username="jdoe")
    assert admin.email == "jdoe@riverside.example"
    assert not admin.has_usable_password()
    assert list(Membership.objects.filter(user=admin).values_list("clinic", "role")) == [
        (clinic.pk, "clinic_admin")
    ]
    (message,) = mail.outbox
    assert message.to == ["jdoe@riverside.example"]
    assert message.body.startswith("You are invited to work in Riverside Dermatology as Clinic")
    # The same link is printed, for an operator whose relay has not delivered it yet.
    assert link_in(out) == link_in(message.body)
    assert link_in(out).startswith("https://clinic.example.org/account/invite/")
    path = link_in(out).removeprefix("https://clinic.example.org")
    answer = client.post(
        path, {"new_password1": "a-long-new-passphrase", "new_password2": "a-long-new-passphrase"}
    )
    assert answer.status_code == 302
    admin.refresh_from_db()
    assert admin.check_password("a-long-new-passphrase")


def test_the_new_clinic_and_its_admin_are_on_the_clinics_audit_log(db, create, client_for):
    create()
    clinic = Clinic.objects.get(name="Riverside Dermatology")
    entries = LogEntry.objects.filter(additional_data__clinic_id=clinic.pk)
    created = entries.get(content_type__model="clinic", action=LogEntry.Action.CREATE)
    assert created.changes_dict["time_zone"] == ["None", "America/Chicago"]
    assert created.changes_dict["clinic admin"] == ["None", "jdoe"]
    assert created.actor_email == "manage.py create_clinic"
    membership = Membership.objects.get(clinic=clinic)
    assert entries.filter(
        content_type__model="membership",
        object_pk=str(membership.pk),
        action=LogEntry.Action.CREATE,
    ).exists()
    page = client_for(member(clinic, "clinic_admin")).get(reverse("audit_log")).content.decode()
    assert "manage.py create_clinic" in page


def test_running_it_again_changes_nothing_and_sends_a_new_link_until_a_password_is_set(
    db, create, client
):
    first = link_in(create())
    # The newest entry's id, not the count: PostgreSQL's ids do not restart with each test.
    audit_before = LogEntry.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    again = create(admin_username="JDoe", admin_email="JDOE@riverside.example")
    assert "exist already; nothing changed" in again
    assert Clinic.objects.count() == 1 and User.objects.count() == 1
    assert len(mail.outbox) == 2  # the first link may have expired: a new one
    assert link_in(again) in mail.outbox[1].body
    # As the Team page's "send again": the earlier link stops working, and the log says so.
    resent = LogEntry.objects.exclude(pk__lte=audit_before).get()
    assert resent.changes_dict == {"invitation": ["sent", "sent again"]}
    assert resent.actor_email == "manage.py create_clinic"
    assert client.get(first.split("8000", 1)[-1]).status_code == 404
    assert client.get(link_in(again).split("8000", 1)[-1]).status_code == 200

    admin = User.objects.get(username="jdoe")
    admin.set_password("a-long-new-passphrase")
    admin.save()
    third = create()
    assert "nothing changed" in third
    assert "invite" not in third
    assert len(mail.outbox) == 2


@pytest.mark.parametrize(
    ("overrides", "argument", "words"),
    [
        ({"time_zone": "Mars/Olympus"}, "--time-zone", "not a known time zone"),
        ({"time_zone": "america/chicago"}, "--time-zone", "not a known time zone"),
        ({"admin_email": "not-an-email"}, "--admin-email", "is not an email address"),
        ({"admin_username": "j doe!"}, "--admin-username", "username"),
        ({"name": "   "}, "--name", "needs a name"),
        ({"name": "x" * 121}, "--name", "at most 120"),
    ],
)
def test_bad_arguments_are_named_and_nothing_is_created(db, overrides, argument, words):
    with pytest.raises(CommandError) as refused:
        run(**overrides)
    assert f"{argument}: " in str(refused.value)
    assert words in str(refused.value).lower()
    assert "Nothing was created" in str(refused.value)
    assert Clinic.objects.count() == 0
    assert not User.objects.filter(username__in=["jdoe", "j doe!"]).exists()
    assert not mail.outbox


def test_an_existing_username_is_refused(db, other_clinic):
    member(other_clinic, "staff", username="jdoe", email="someone@else.example")
    with pytest.raises(CommandError, match=r"--admin-username: The username “jdoe” is taken"):
        run()
    assert not Clinic.objects.filter(name=ARGS["name"]).exists()
    assert not Membership.objects.filter(user__username="jdoe", clinic__name=ARGS["name"]).exists()


def test_an_email_that_has_an_account_is_refused(db, other_clinic):
    member(other_clinic, "staff", username="someone", email="JDoe@riverside.example")
    with pytest.raises(CommandError, match="--admin-email: Someone already has an account"):
        run()
    assert nothing_created()


def test_a_clinic_name_in_use_is_refused(db):
    Clinic.objects.create(name="Riverside dermatology", time_zone="America/Chicago")
    with pytest.raises(CommandError, match="--name: A clinic named “Riverside dermatology”"):
        run()
    assert Clinic.objects.count() == 1
    assert not User.objects.filter(username="jdoe").exists()


def test_the_same_clinic_with_another_time_zone_is_refused(db, create):
    create()
    with pytest.raises(CommandError, match="--time-zone: Riverside Dermatology exists already"):
        run(time_zone="Europe/Paris")
    assert Clinic.objects.get().time_zone == "America/Chicago"


def test_a_failure_half_way_leaves_nothing(db, monkeypatch):
    """The clinic and the user are saved before the audit entry: one transaction undoes both."""

    def broken(*args, **kwargs):
        raise RuntimeError("the audit table is unreachable")

    monkeypatch.setattr(LogEntry.objects, "log_create", broken)
    with pytest.raises(RuntimeError):
        run()
    assert nothing_created()
    assert Membership.objects.count() == 0


def test_a_password_from_the_environment_replaces_the_invitation(db, create, monkeypatch):
    monkeypatch.setenv("CLINIC_ADMIN_PASSWORD", "a-long-admin-passphrase")
    out = create(with_password=True)
    admin = User.objects.get(username="jdoe")
    assert admin.check_password("a-long-admin-passphrase")
    assert "a-long-admin-passphrase" not in out
    assert "/account/invite/" not in out
    assert not mail.outbox


def test_a_weak_password_is_refused_and_nothing_is_created(db, monkeypatch):
    monkeypatch.setenv("CLINIC_ADMIN_PASSWORD", "jdoe")
    with pytest.raises(CommandError, match=r"the password \(CLINIC_ADMIN_PASSWORD or the prompt\)"):
        run(with_password=True)
    assert nothing_created()


def test_the_password_is_asked_twice_at_a_prompt(db, monkeypatch):
    monkeypatch.delenv("CLINIC_ADMIN_PASSWORD", raising=False)
    monkeypatch.setattr(command.Command, "stdin_is_a_terminal", lambda self: True)
    answers = iter(["a-long-admin-passphrase", "a-long-admin-passphrase"])
    monkeypatch.setattr(command.getpass, "getpass", lambda prompt: next(answers))
    run(with_password=True)
    assert User.objects.get(username="jdoe").check_password("a-long-admin-passphrase")


def test_two_different_passwords_at_the_prompt_create_nothing(db, monkeypatch):
    monkeypatch.delenv("CLINIC_ADMIN_PASSWORD", raising=False)
    monkeypatch.setattr(command.Command, "stdin_is_a_terminal", lambda self: True)
    answers = iter(["a-long-admin-passphrase", "another-long-passphrase"])
    monkeypatch.setattr(command.getpass, "getpass", lambda prompt: next(answers))
    with pytest.raises(CommandError, match="The two passwords differ"):
        run(with_password=True)
    assert nothing_created()


def test_with_password_and_no_terminal_nor_variable_it_says_what_to_do(db, monkeypatch):
    monkeypatch.delenv("CLINIC_ADMIN_PASSWORD", raising=False)
    monkeypatch.setattr(command.Command, "stdin_is_a_terminal", lambda self: False)
    with pytest.raises(CommandError, match="set CLINIC_ADMIN_PASSWORD"):
        run(with_password=True)
    assert nothing_created()


class RefusingRelay(BaseEmailBackend):
    def send_messages(self, messages):
        raise smtplib.SMTPRecipientsRefused({"jdoe@riverside.example": (550, b"no such user")})


def test_when_the_relay_refuses_the_invitation_nothing_is_created(db, settings):
    settings.EMAIL_BACKEND = f"{__name__}.RefusingRelay"
    with pytest.raises(CommandError) as failed:
        run()
    message = str(failed.value)
    assert "The invitation email could not be sent (SMTPRecipientsRefused" in message
    assert "Nothing was created" in message
    assert nothing_created()
    assert Membership.objects.count() == 0


def test_the_exit_code_is_not_zero_and_the_message_names_the_argument(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DJANGO_DEBUG="true",
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "create_clinic", "--name", "R", "--time-zone", "Nowhere"]
        + ["--admin-username", "jdoe", "--admin-email", "jdoe@riverside.example"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "--time-zone: “Nowhere” is not a known time zone" in result.stderr
