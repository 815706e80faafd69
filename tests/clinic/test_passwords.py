"""Password reset by email and the change-password page (clinic/passwords.py): the
reset page never tells who has an account, is limited, and a new password ends every other
session and API token; the user still passes their second factor afterwards."""

import re
import time

import pytest
from auditlog.models import LogEntry
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from clinic import passwords
from clinic.models import ApiToken
from tests.auth import totp_code
from tests.factories import member

User = get_user_model()
PASSWORD = "correct-horse-battery"
NEW = "a-brand-new-passphrase-7"


@pytest.fixture(autouse=True)
def fresh_limits():
    cache.clear()
    yield
    cache.clear()


def ask_reset(client, email):
    response = client.post(reverse("password_reset"), {"email": email})
    passwords.wait_for_reset_emails()
    return response


def reset_link(message) -> str:
    return re.search(r"https?://\S+/account/password/reset/\S+/\S+/", message.body).group(0)


def test_the_login_page_links_to_the_reset_page(client):
    page = client.get(reverse("login")).content.decode()
    assert reverse("password_reset") in page
    assert client.get(reverse("password_reset")).status_code == 200


def test_a_known_address_in_any_case_gets_a_plain_email_with_a_working_link(client, clinician):
    response = ask_reset(client, clinician.email.upper())
    assert response.status_code == 302
    assert response.url == reverse("password_reset_done")
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [clinician.email]
    assert message.subject == "Reset your iPLEDGE clinic password"
    # Only what the person needs: no clinic, no patient, no requester's address.
    assert "Clinic A" not in message.body
    assert "127.0.0.1" not in message.body.replace("http://127.0.0.1", "")
    link = reset_link(message)
    assert link.startswith("http://127.0.0.1:8000/")  # SITE_URL, not the Host header
    page = client.get(link, follow=True)
    assert "Choose a new password" in page.content.decode()
    done = client.post(
        page.redirect_chain[-1][0], {"new_password1": NEW, "new_password2": NEW}, follow=True
    )
    assert "Your new password is saved" in done.content.decode()
    clinician.refresh_from_db()
    assert clinician.check_password(NEW)
    # The link worked once.
    assert "This link no longer works" in client.get(link, follow=True).content.decode()


@pytest.mark.parametrize("who", ["unknown", "inactive", "invited"])
def test_an_address_without_a_usable_account_gets_the_same_page_and_no_email(client, clinic, who):
    known = member(clinic, "staff", email="known@example.org")
    answer_known = ask_reset(Client(), known.email)
    mail.outbox.clear()
    email = "nobody@example.org"
    if who == "inactive":
        member(clinic, "staff", email=email, is_active=False)
    if who == "invited":
        invited = member(clinic, "staff", email=email)
        invited.set_unusable_password()
        invited.save()
    answer = ask_reset(client, email)
    assert (answer.status_code, answer.url) == (answer_known.status_code, answer_known.url)
    assert mail.outbox == []
    shown = client.get(answer.url).content.decode()
    assert "If that address belongs to an account" in shown


def test_a_known_address_answers_as_fast_as_an_unknown_one(client, settings, clinician):
    """The email goes out in the background: a slow mail server does not make a known
    address answer later (which would tell who has an account)."""

    def slow_send(self, fail_silently=False):
        time.sleep(0.6)
        return 1

    from django.core.mail import EmailMessage

    original = EmailMessage.send
    EmailMessage.send = slow_send
    try:
        started = time.monotonic()
        client.post(reverse("password_reset"), {"email": clinician.email})
        known = time.monotonic() - started
        started = time.monotonic()
        Client().post(reverse("password_reset"), {"email": "nobody@example.org"})
        unknown = time.monotonic() - started
        passwords.wait_for_reset_emails()
    finally:
        EmailMessage.send = original
    assert known < 0.4, (known, unknown)


def test_a_mail_server_that_refuses_still_shows_the_same_page(client, settings, clinician):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 2
    response = ask_reset(client, clinician.email)
    assert response.status_code == 302
    assert response.url == reverse("password_reset_done")


def test_one_inbox_gets_at_most_three_reset_emails_an_hour(clinician):
    for n in range(5):
        response = ask_reset(Client(REMOTE_ADDR=f"192.0.2.{n}"), clinician.email)
        assert response.status_code == 302
    assert len(mail.outbox) == passwords.RESET_LIMIT_PER_EMAIL


def test_one_address_asking_for_many_accounts_is_refused_after_the_limit(db, client):
    for n in range(passwords.RESET_LIMIT_PER_ADDRESS):
        assert ask_reset(client, f"someone{n}@example.org").status_code == 302
    refused = ask_reset(client, "one-more@example.org")
    assert refused.status_code == 429
    assert "Too many reset requests" in refused.content.decode()


def test_a_reset_ends_other_sessions_and_api_tokens_and_is_audited(client, clinician):
    elsewhere = Client()
    elsewhere.force_login(clinician)
    ApiToken.objects.create(user=clinician)
    ask_reset(client, clinician.email)
    page = client.get(reset_link(mail.outbox[0]), follow=True)
    client.post(page.redirect_chain[-1][0], {"new_password1": NEW, "new_password2": NEW})
    assert elsewhere.get(reverse("home")).status_code == 302
    assert elsewhere.get(reverse("home")).url.startswith(reverse("login"))
    assert not ApiToken.objects.filter(user=clinician).exists()
    changes = [e.changes_dict for e in LogEntry.objects.filter(object_pk=str(clinician.pk))]
    assert {"password": ["***", "reset requested"]} in changes
    assert {"password": ["***", "reset by email"]} in changes


def test_after_a_reset_a_clinician_still_passes_the_second_factor(client, clinician):
    ask_reset(client, clinician.email)
    page = client.get(reset_link(mail.outbox[0]), follow=True)
    client.post(page.redirect_chain[-1][0], {"new_password1": NEW, "new_password2": NEW})
    totp_code(clinician)  # they set up their app at an earlier login
    logged_in = client.post(reverse("login"), {"username": clinician.username, "password": NEW})
    assert logged_in.status_code == 302
    assert client.get(reverse("monitoring:worklist")).url.startswith(reverse("otp_verify"))


def test_the_change_page_asks_for_the_second_factor_first(client, clinician):
    client.force_login(clinician)
    totp_code(clinician)
    response = client.get(reverse("password_change"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("otp_verify"))


def test_a_change_keeps_this_session_ends_the_others_and_the_tokens(client_for, clinician):
    client = client_for(clinician)
    elsewhere = Client()
    elsewhere.force_login(clinician)
    ApiToken.objects.create(user=clinician)
    wrong = client.post(
        reverse("password_change"),
        {"old_password": "nope", "new_password1": NEW, "new_password2": NEW},
    )
    assert wrong.status_code == 200
    assert "Your old password was entered incorrectly" in wrong.content.decode()
    response = client.post(
        reverse("password_change"),
        {"old_password": PASSWORD, "new_password1": NEW, "new_password2": NEW},
        follow=True,
    )
    assert "Password changed" in response.content.decode()
    assert client.get(reverse("monitoring:worklist")).status_code == 200
    assert elsewhere.get(reverse("home")).url.startswith(reverse("login"))
    assert not ApiToken.objects.filter(user=clinician).exists()
    entry = LogEntry.objects.filter(object_pk=str(clinician.pk)).latest("pk")
    assert entry.changes_dict == {"password": ["***", "changed"]}
    assert entry.actor == clinician
    assert entry.additional_data == {"clinic_id": clinician.memberships.get().clinic_id}


def test_the_navigation_offers_the_change_page(client_for, staff):
    page = client_for(staff).get(reverse("patients:list")).content.decode()
    assert reverse("password_change") in page
