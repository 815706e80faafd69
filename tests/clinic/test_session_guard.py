"""The session's end (clinic/session_guard.py): the idle warning's parts on every page,
the keep-alive that refreshes the session, and a form posted after the session ended that is
shown again, filled in, after the same person logs in."""

import datetime
import json
import re

from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tests.factories import member

PASSWORD = "correct-horse-battery"


def end_session(client):
    """What fifteen idle minutes do: the session's row is past its expiry."""
    Session.objects.filter(session_key=client.session.session_key).update(
        expire_date=timezone.now() - datetime.timedelta(seconds=1)
    )


def log_in(client, user, next_page=""):
    response = client.post(
        reverse("login"), {"username": user.username, "password": PASSWORD, "next": next_page}
    )
    assert response.status_code == 302
    return response


def kept_fields(page: str):
    found = re.search(r'<script id="kept-form" type="application/json">(.*?)</script>', page)
    return dict((name, values) for name, values in json.loads(found.group(1))) if found else None


def test_every_page_carries_the_idle_warning_with_the_sessions_length(client_for, staff, settings):
    settings.SESSION_COOKIE_AGE, settings.SESSION_IDLE_WARNING_SECONDS = 900, 120
    page = client_for(staff).get(reverse("patients:list")).content.decode()
    assert 'data-idle-seconds="900"' in page and 'data-warning-seconds="120"' in page
    assert "Stay signed in" in page
    assert "clinic/idle.js" in page
    assert "<script>" not in page  # no inline script: the CSP allows only the app's files


def test_the_keep_alive_refreshes_the_session(client_for, staff):
    client = client_for(staff)
    Session.objects.filter(session_key=client.session.session_key).update(
        expire_date=timezone.now() + datetime.timedelta(seconds=30)
    )
    assert client.post(reverse("keep_alive")).status_code == 204
    row = Session.objects.get(session_key=client.session.session_key)
    assert row.expire_date > timezone.now() + datetime.timedelta(minutes=14)


def test_the_keep_alive_does_not_revive_an_ended_session(client_for, staff):
    client = client_for(staff)
    end_session(client)
    response = client.post(reverse("keep_alive"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_a_form_posted_after_the_session_ended_is_shown_again_filled_in(client, staff):
    log_in(client, staff)
    form_page = reverse("patients:create")
    end_session(client)
    response = client.post(
        form_page,
        {"given_name": "Reese", "family_name": "Ashdown", "mrn": "MRN-77"},
        HTTP_REFERER=f"http://testserver{form_page}",
    )
    assert response.status_code == 302
    assert response.url == f"{reverse('login')}?next={form_page}"
    login_page = client.get(reverse("login")).content.decode()
    assert kept_fields(login_page) is None  # nothing typed is shown before the login
    assert "Your session ended before your form was sent" in login_page
    after_login = log_in(client, staff, next_page=form_page)
    assert after_login.url == form_page
    page = client.get(form_page).content.decode()
    assert kept_fields(page) == {
        "given_name": ["Reese"],
        "family_name": ["Ashdown"],
        "mrn": ["MRN-77"],
    }
    assert "What you typed is filled in again" in page
    assert "clinic/kept-form.js" in page
    # Shown once: a reload is the empty form again; nothing was saved by the lost post.
    assert kept_fields(client.get(form_page).content.decode()) is None
    from patients.models import Patient

    assert not Patient.objects.filter(family_name="Ashdown").exists()


def test_passwords_codes_and_the_csrf_token_are_never_kept(client, staff):
    log_in(client, staff)
    end_session(client)
    client.post(
        reverse("password_change"),
        {
            "old_password": PASSWORD,
            "new_password1": "x",
            "code": "123456",
            "csrfmiddlewaretoken": "t",
            "note": "kept",
        },
        HTTP_REFERER="http://testserver" + reverse("patients:create"),
    )
    kept = client.session["kept_form"]["fields"]
    assert kept == [["note", ["kept"]]]


def test_only_the_person_whose_session_ended_sees_what_they_typed(client, clinic, staff):
    colleague = member(clinic, "staff")
    form_page = reverse("patients:create")
    # A browser with no session before sends a form: nothing to give back to anyone.
    stranger = Client()
    stranger.post(
        form_page, {"family_name": "Ashdown"}, HTTP_REFERER=f"http://testserver{form_page}"
    )
    assert "kept_form" not in stranger.session
    # A colleague logging in at the computer where the session ended sees nothing of it...
    log_in(client, staff)
    end_session(client)
    client.post(form_page, {"family_name": "Ashdown"}, HTTP_REFERER=f"http://testserver{form_page}")
    kept = dict(client.session)["kept_form"]
    log_in(client, colleague)
    assert kept_fields(client.get(form_page).content.decode()) is None
    # ... while the person who typed it gets it back.
    client.logout()
    session = client.session
    session["kept_form"] = kept
    session.save()
    log_in(client, staff)
    assert kept_fields(client.get(form_page).content.decode()) == {"family_name": ["Ashdown"]}


def test_a_post_only_address_returns_to_the_page_the_form_was_on(client, clinic_admin):
    log_in(client, clinic_admin)
    end_session(client)
    response = client.post(
        reverse("team_invite"),
        {"email": "new@example.org", "role": "staff"},
        HTTP_REFERER="http://testserver" + reverse("team"),
    )
    assert response.url == f"{reverse('login')}?next={reverse('team')}"
    assert client.session["kept_form"]["path"] == reverse("team")
