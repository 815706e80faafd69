"""Login, logout and lockout after repeated wrong passwords (docs/quality.md A3, A5)."""

import time_machine
from django.urls import reverse
from django.utils import timezone

from tests.factories import member

PASSWORD = "correct-horse-battery"


def attempt(client, username, password):
    return client.post(reverse("login"), {"username": username, "password": password})


def test_a_member_logs_in_and_lands_on_their_home(client, clinic):
    user = member(clinic, "staff")
    response = attempt(client, user.username, PASSWORD)
    assert response.status_code == 302
    assert client.get(reverse("patients:list")).status_code == 200


def test_a_wrong_password_gives_the_same_message_as_an_unknown_user(client, clinic):
    user = member(clinic, "staff")
    wrong = attempt(client, user.username, "nope")
    unknown = attempt(client, "nobody-here", "nope")
    assert wrong.status_code == unknown.status_code == 200
    assert wrong.context["form"].errors == unknown.context["form"].errors


def test_five_wrong_passwords_lock_the_account_for_a_while_not_forever(client, clinic):
    user = member(clinic, "staff")
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        for _ in range(5):
            attempt(client, user.username, "nope")
        locked = attempt(client, user.username, PASSWORD)
        assert locked.status_code == 429
        assert b"Too many attempts" in locked.content
        traveller.shift(14 * 60)
        assert attempt(client, user.username, PASSWORD).status_code == 429
        # Each attempt while locked restarts the 15 minutes.
        traveller.shift(16 * 60)
        assert attempt(client, user.username, PASSWORD).status_code == 302


def test_an_unknown_username_locks_the_same_way(client, db):
    for _ in range(5):
        attempt(client, "nobody-here", "nope")
    assert attempt(client, "nobody-here", "nope").status_code == 429


def test_logging_out_ends_the_session(client, clinic):
    user = member(clinic, "staff")
    attempt(client, user.username, PASSWORD)
    client.post(reverse("logout"))
    assert client.get(reverse("patients:list")).status_code == 302


def test_a_deactivated_user_is_logged_out(client, clinic):
    user = member(clinic, "staff")
    client.force_login(user)
    user.is_active = False
    user.save()
    assert client.get(reverse("patients:list")).status_code == 302


def test_a_password_change_ends_other_sessions(client, clinic):
    user = member(clinic, "staff")
    client.force_login(user)
    user.set_password("another-long-passphrase")
    user.save()
    assert client.get(reverse("patients:list")).status_code == 302


def test_an_idle_session_ends_after_15_minutes(client, clinic):
    user = member(clinic, "staff")
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        client.force_login(user)
        traveller.shift(14 * 60)
        assert client.get(reverse("patients:list")).status_code == 200
        traveller.shift(14 * 60)  # activity pushed the expiry forward
        assert client.get(reverse("patients:list")).status_code == 200
        traveller.shift(16 * 60)
        assert client.get(reverse("patients:list")).status_code == 302


def test_the_api_token_endpoint_locks_too(client, clinic):
    user = member(clinic, "staff")
    url = "/api/v1/auth/token/"
    for _ in range(5):
        client.post(
            url, {"username": user.username, "password": "nope"}, content_type="application/json"
        )
    response = client.post(
        url, {"username": user.username, "password": PASSWORD}, content_type="application/json"
    )
    assert response.status_code in (400, 403, 429)
    assert "token" not in response.json()
    other = member(clinic, "staff")
    fine = client.post(
        url, {"username": other.username, "password": PASSWORD}, content_type="application/json"
    )
    assert "token" in fine.json()
