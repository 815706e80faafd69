"""The Team page: a clinic admin invites, changes roles and deactivates, in their own clinic
only, and every change is on the clinic's audit page."""

import re

import pytest
import time_machine
from auditlog.models import LogEntry
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from clinic.models import ApiToken, Membership
from clinic.team import change_role, deactivate_member, reset_member_second_factor
from tests.factories import member

User = get_user_model()


@pytest.fixture
def admin_client(client_for, clinic_admin):
    return client_for(clinic_admin)


def invite(client, email="new.person@example.org", role="staff"):
    return client.post(reverse("team_invite"), {"email": email, "role": role})


def invitation_link(message) -> str:
    return re.search(r"http\S+/account/invite/\S+/", message.body).group(0)


def audit_rows(clinic):
    return LogEntry.objects.filter(additional_data__clinic_id=clinic.pk)


@pytest.mark.parametrize("role", ["staff", "clinician"])
def test_only_a_clinic_admin_reaches_the_team_page(client_for, clinic, role):
    assert client_for(member(clinic, role)).get(reverse("team")).status_code == 403


def test_the_team_page_lists_the_clinics_members_and_no_one_else(
    admin_client, clinic, other_clinic, staff
):
    outsider = member(other_clinic, "staff")
    page = admin_client.get(reverse("team")).content.decode()
    assert staff.username in page
    assert outsider.username not in page


def test_an_invitation_makes_a_member_of_this_clinic_who_sets_a_password(
    admin_client, client, clinic, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = invite(admin_client)
    assert response.status_code == 302
    new = User.objects.get(email="new.person@example.org")
    assert not new.has_usable_password()
    assert list(Membership.objects.filter(user=new).values_list("clinic", "role")) == [
        (clinic.pk, "staff")
    ]
    invited = Membership.objects.get(user=new)
    assert audit_rows(clinic).filter(object_pk=str(invited.pk), action=0).count() == 1
    (message,) = mail.outbox
    assert message.to == ["new.person@example.org"]
    link = invitation_link(message).split("testserver", 1)[-1].split("8000", 1)[-1]
    client.logout()
    assert client.get(link).status_code == 200
    answer = client.post(
        link, {"new_password1": "a-long-new-passphrase", "new_password2": "a-long-new-passphrase"}
    )
    assert answer.status_code == 302
    new.refresh_from_db()
    assert new.check_password("a-long-new-passphrase")
    # The link works once.
    client.logout()
    assert client.get(link).status_code == 404


def test_an_invitation_link_expires(admin_client, client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        invite(admin_client)
    link = invitation_link(mail.outbox[0]).split("8000", 1)[-1]
    client.logout()
    with time_machine.travel(timezone.now() + timezone.timedelta(hours=73)):
        assert client.get(link).status_code == 404


@pytest.mark.parametrize("link", ["/account/invite/nonsense/", "/account/invite/a:b:c/"])
def test_a_forged_invitation_link_is_a_404(client, db, link):
    assert client.get(link).status_code == 404


def test_an_existing_user_of_another_clinic_cannot_be_pulled_in_by_email(
    admin_client, clinic, other_clinic
):
    theirs = member(other_clinic, "clinician")
    response = invite(admin_client, email=theirs.email.upper(), role="clinician")
    assert response.status_code == 400
    assert "email" in response.context["invite_form"].errors
    assert not Membership.objects.filter(user=theirs, clinic=clinic).exists()


@pytest.mark.parametrize(
    ("email", "role", "field"),
    [("not-an-email", "staff", "email"), ("a@example.org", "superuser", "role")],
)
def test_bad_invitations_name_the_field(admin_client, email, role, field):
    response = invite(admin_client, email=email, role=role)
    assert response.status_code == 400
    assert field in response.context["invite_form"].errors
    assert not User.objects.filter(email=email).exists()


def test_a_role_change_is_saved_and_audited(admin_client, clinic, staff):
    membership = Membership.objects.get(user=staff, clinic=clinic)
    admin_client.post(reverse("team_role", args=[membership.pk]), {"role": "clinician"})
    membership.refresh_from_db()
    assert membership.role == "clinician"
    entry = audit_rows(clinic).get(content_type__model="membership", action=LogEntry.Action.UPDATE)
    assert entry.changes_dict["role"] == ["staff", "clinician"]
    audit_page = admin_client.get(reverse("audit_log")).content.decode()
    assert staff.username in audit_page and "Clinician" in audit_page


def test_an_admin_cannot_change_their_own_role(admin_client, clinic, clinic_admin):
    own = Membership.objects.get(user=clinic_admin, clinic=clinic)
    admin_client.post(reverse("team_role", args=[own.pk]), {"role": "clinician"})
    own.refresh_from_db()
    assert own.role == "clinic_admin"


def test_another_clinics_membership_is_a_404_and_unchanged(admin_client, other_clinic):
    theirs = Membership.objects.get(user=member(other_clinic, "staff"))
    role = admin_client.post(reverse("team_role", args=[theirs.pk]), {"role": "clinic_admin"})
    gone = admin_client.post(reverse("team_deactivate", args=[theirs.pk]))
    assert role.status_code == gone.status_code == 404
    theirs.refresh_from_db()
    assert theirs.role == "staff" and theirs.user.is_active


def test_deactivating_a_member_ends_their_sessions_and_tokens(admin_client, client, clinic):
    colleague = member(clinic, "staff")
    _, _ = ApiToken.objects.create(user=colleague, credential_hash="x")
    membership = Membership.objects.get(user=colleague)
    admin_client.post(reverse("team_deactivate", args=[membership.pk]))
    colleague.refresh_from_db()
    assert not colleague.is_active
    assert not ApiToken.objects.filter(user=colleague).exists()
    entry = audit_rows(clinic).get(content_type__model="user")
    assert entry.changes_dict["is_active"] == ["True", "False"]


def test_deactivating_a_member_of_two_clinics_only_removes_them_from_this_one(
    admin_client, clinic, other_clinic
):
    shared = member(clinic, "staff")
    Membership.objects.create(user=shared, clinic=other_clinic, role="clinician")
    admin_client.post(
        reverse("team_deactivate", args=[Membership.objects.get(user=shared, clinic=clinic).pk])
    )
    shared.refresh_from_db()
    assert shared.is_active
    assert list(Membership.objects.filter(user=shared).values_list("clinic", flat=True)) == [
        other_clinic.pk
    ]
    assert audit_rows(clinic).filter(action=LogEntry.Action.DELETE).count() == 1


def test_an_admin_cannot_deactivate_themselves(admin_client, clinic_admin):
    own = Membership.objects.get(user=clinic_admin)
    admin_client.post(reverse("team_deactivate", args=[own.pk]))
    clinic_admin.refresh_from_db()
    assert clinic_admin.is_active


def test_team_actions_refuse_get(admin_client, staff):
    membership = Membership.objects.get(user=staff)
    for url in (
        reverse("team_invite"),
        reverse("team_role", args=[membership.pk]),
        reverse("team_reactivate", args=[membership.pk]),
        reverse("team_resend", args=[membership.pk]),
    ):
        assert admin_client.get(url).status_code == 405


@pytest.mark.parametrize(
    "action, question", [("team_deactivate", "Deactivate"), ("team_reset_otp", "Reset the second")]
)
def test_deactivating_or_resetting_asks_first_and_a_get_changes_nothing(
    admin_client, staff, action, question
):
    membership = Membership.objects.get(user=staff)
    TOTPDevice.objects.create(user=staff, name="app", confirmed=True)
    team_page = admin_client.get(reverse("team")).content.decode()
    # The row's button is a link to the question, not a form that acts at once.
    assert f'href="{reverse(action, args=[membership.pk])}"' in team_page
    asked = admin_client.get(reverse(action, args=[membership.pk]))
    assert asked.status_code == 200
    page = asked.content.decode()
    assert question in page and staff.email in page and "Cancel" in page
    staff.refresh_from_db()
    assert staff.is_active
    assert TOTPDevice.objects.filter(user=staff).exists()


# --- what a clinic admin's role covers (issue 20, item 2) -----------------------------------


@pytest.fixture
def superuser_member(clinic):
    return member(clinic, "clinician", is_superuser=True, is_staff=True)


def team_page_after(client, url, data=None) -> str:
    """The Team page the admin lands on after the action, with its message."""
    response = client.post(url, data or {}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("team")
    return response.content.decode()


def test_a_clinic_admin_cannot_deactivate_a_superuser_member(
    admin_client, clinic, superuser_member
):
    membership = Membership.objects.get(user=superuser_member, clinic=clinic)
    page = team_page_after(admin_client, reverse("team_deactivate", args=[membership.pk]))
    assert "Only a superuser can deactivate a superuser." in page
    superuser_member.refresh_from_db()
    assert superuser_member.is_active
    assert Membership.objects.filter(pk=membership.pk).exists()


def test_a_clinic_admin_cannot_change_a_superusers_role(admin_client, clinic, superuser_member):
    membership = Membership.objects.get(user=superuser_member, clinic=clinic)
    page = team_page_after(
        admin_client, reverse("team_role", args=[membership.pk]), {"role": "staff"}
    )
    assert "Only a superuser can change the role of a superuser." in page
    membership.refresh_from_db()
    assert membership.role == "clinician"


def test_a_clinic_admin_cannot_reset_a_superusers_second_factor(
    admin_client, clinic, superuser_member
):
    device = TOTPDevice.objects.create(user=superuser_member, name="app", confirmed=True)
    membership = Membership.objects.get(user=superuser_member, clinic=clinic)
    page = team_page_after(admin_client, reverse("team_reset_otp", args=[membership.pk]))
    assert "Only a superuser can reset the second factor of a superuser." in page
    assert TOTPDevice.objects.filter(pk=device.pk).exists()


def test_deactivating_a_superusers_membership_never_switches_their_account_off(
    client_for, clinic, superuser_member
):
    acting = member(clinic, "clinic_admin", is_superuser=True, is_staff=True)
    membership = Membership.objects.get(user=superuser_member, clinic=clinic)
    client_for(acting).post(reverse("team_deactivate", args=[membership.pk]))
    superuser_member.refresh_from_db()
    assert superuser_member.is_active
    assert not Membership.objects.filter(pk=membership.pk).exists()


@pytest.fixture
def two_admins(clinic, clinic_admin):
    other = member(clinic, "clinic_admin")
    first = Membership.objects.get(user=clinic_admin, clinic=clinic)
    second = Membership.objects.get(user=other, clinic=clinic)
    return first, second


def test_an_admin_demoted_a_moment_ago_cannot_demote_the_last_admin(two_admins):
    # Sequentially what two admins acting on each other at once do: the second request was
    # let in while its admin still had the role (tests/clinic/test_team_race.py runs it live).
    first, second = two_admins
    change_role(second, by=first.user, role="staff")
    with pytest.raises(ValidationError, match="no longer a clinic admin"):
        change_role(first, by=second.user, role="staff")
    first.refresh_from_db()
    assert first.role == "clinic_admin"


def test_an_admin_deactivated_a_moment_ago_cannot_deactivate_the_last_admin(two_admins):
    first, second = two_admins
    deactivate_member(second, by=first.user)
    with pytest.raises(ValidationError):
        deactivate_member(first, by=second.user)
    first.user.refresh_from_db()
    assert first.user.is_active


@pytest.mark.parametrize("action", ["demote", "deactivate"])
def test_the_last_active_clinic_admin_cannot_be_removed(clinic, clinic_admin, action):
    # A superuser acting through the Team page is the one actor left who could do it; an
    # admin whose account is switched off does not count as the clinic's admin.
    member(clinic, "clinic_admin", is_active=False)
    superuser = member(clinic, "staff", is_superuser=True, is_staff=True)
    own = Membership.objects.get(user=clinic_admin, clinic=clinic)
    with pytest.raises(ValidationError, match="last clinic admin"):
        if action == "demote":
            change_role(own, by=superuser, role="clinician")
        else:
            deactivate_member(own, by=superuser)
    own.refresh_from_db()
    clinic_admin.refresh_from_db()
    assert own.role == "clinic_admin" and clinic_admin.is_active


def test_the_team_page_offers_no_action_on_a_superuser(admin_client, clinic, superuser_member):
    membership = Membership.objects.get(user=superuser_member, clinic=clinic)
    page = admin_client.get(reverse("team")).content.decode()
    assert "only a superuser changes this account" in page
    for name in ("team_role", "team_deactivate", "team_reset_otp"):
        assert reverse(name, args=[membership.pk]) not in page


def test_an_admin_demoted_a_moment_ago_cannot_reset_a_second_factor(two_admins, clinic):
    first, second = two_admins
    colleague = member(clinic, "clinician")
    device = TOTPDevice.objects.create(user=colleague, name="app", confirmed=True)
    change_role(second, by=first.user, role="staff")
    with pytest.raises(ValidationError, match="no longer a clinic admin"):
        reset_member_second_factor(Membership.objects.get(user=colleague), by=second.user)
    assert TOTPDevice.objects.filter(pk=device.pk).exists()


# --- resend, reactivate, a mail server that is down (issue 21, item 6) ----------------------


def refusing_mail_server(settings, port):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", port, 5


@pytest.fixture
def smtp_421():
    """A real SMTP server on this machine that answers every connection with 421 (service not
    available), as a mail relay does when it is overloaded or shutting down."""
    import socket
    import threading

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    stop = threading.Event()

    def answer():
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                connection, _ = server.accept()
            except OSError:
                continue
            with connection:
                connection.sendall(b"421 4.3.2 Service not available, closing channel\r\n")

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    server.close()


def test_an_invitation_while_the_mail_server_refuses_changes_nothing_and_says_so(
    admin_client, settings, clinic, smtp_421
):
    refusing_mail_server(settings, smtp_421)
    response = invite(admin_client, email="later@example.org")
    assert response.status_code == 503
    page = response.content.decode()
    assert "The invitation email could not be sent" in page
    assert "Nothing was changed" in page
    assert 'value="later@example.org"' in page  # the form keeps what was typed
    assert not User.objects.filter(email="later@example.org").exists()
    # Once the server answers again, the same invitation goes through.
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert invite(admin_client, email="later@example.org").status_code == 302
    assert User.objects.filter(email="later@example.org").exists()
    assert len(mail.outbox) == 1


def test_a_closed_mail_port_is_the_same_clear_message(admin_client, settings):
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    refusing_mail_server(settings, port)
    response = invite(admin_client, email="later@example.org")
    assert response.status_code == 503
    assert "could not be sent" in response.content.decode()
    assert not User.objects.filter(email="later@example.org").exists()


def test_resending_an_invitation_sends_a_new_link_and_the_old_one_dies(
    admin_client, client, clinic
):
    invite(admin_client, email="Pat.New@example.org")
    first = invitation_link(mail.outbox[-1])
    invited = User.objects.get(email="Pat.New@example.org")
    membership = Membership.objects.get(user=invited)
    assert "Resend invitation" in admin_client.get(reverse("team")).content.decode()
    response = admin_client.post(reverse("team_resend", args=[membership.pk]), follow=True)
    assert "A new invitation was sent" in response.content.decode()
    second = invitation_link(mail.outbox[-1])
    assert second != first
    assert client.get(first).status_code == 404
    assert client.get(second).status_code == 200
    assert {"invitation": ["sent", "sent again"]} in [e.changes_dict for e in audit_rows(clinic)]


def test_inviting_an_invited_address_again_in_other_letters_resends(admin_client, clinic):
    invite(admin_client, email="pat.new@example.org")
    first = invitation_link(mail.outbox[-1])
    response = invite(admin_client, email="PAT.NEW@Example.org")
    assert response.status_code == 302
    assert User.objects.filter(email__iexact="pat.new@example.org").count() == 1
    assert len(mail.outbox) == 2
    assert mail.outbox[-1].to == ["pat.new@example.org"]
    assert invitation_link(mail.outbox[-1]) != first


def test_a_resend_while_the_mail_server_refuses_keeps_the_old_link(
    admin_client, client, settings, smtp_421
):
    invite(admin_client, email="pat.new@example.org")
    first = invitation_link(mail.outbox[-1])
    membership = Membership.objects.get(user__email="pat.new@example.org")
    refusing_mail_server(settings, smtp_421)
    response = admin_client.post(reverse("team_resend", args=[membership.pk]), follow=True)
    assert "could not be sent" in response.content.decode()
    assert client.get(first).status_code == 200


def test_an_accepted_invitation_cannot_be_resent(admin_client, staff):
    membership = Membership.objects.get(user=staff)
    response = admin_client.post(reverse("team_resend", args=[membership.pk]), follow=True)
    assert "already accepted" in response.content.decode()
    assert mail.outbox == []


def test_a_deactivated_member_can_be_reactivated_and_logs_in_again(
    admin_client, client, clinic, staff
):
    membership = Membership.objects.get(user=staff)
    admin_client.post(reverse("team_deactivate", args=[membership.pk]))
    staff.refresh_from_db()
    assert not staff.is_active
    page = admin_client.get(reverse("team")).content.decode()
    assert "Reactivate" in page
    response = admin_client.post(reverse("team_reactivate", args=[membership.pk]), follow=True)
    assert "can work in this clinic again" in response.content.decode()
    staff.refresh_from_db()
    assert staff.is_active
    logged_in = client.post(
        reverse("login"), {"username": staff.username, "password": "correct-horse-battery"}
    )
    assert logged_in.status_code == 302
    assert {"is_active": ["False", "True"]} in [e.changes_dict for e in audit_rows(clinic)]


def test_a_clinic_admin_cannot_reactivate_a_superuser(admin_client, superuser_member):
    superuser_member.is_active = False
    superuser_member.save()
    membership = Membership.objects.get(user=superuser_member)
    response = admin_client.post(reverse("team_reactivate", args=[membership.pk]), follow=True)
    assert "Only a superuser" in response.content.decode()
    superuser_member.refresh_from_db()
    assert not superuser_member.is_active
