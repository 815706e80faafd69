"""Rotating DJANGO_SECRET_KEY (docs/operations.md): with the old key kept in
DJANGO_SECRET_KEY_FALLBACKS, everything signed or keyed with it keeps working through the
rotation: staff sessions, patients' links, invitations and API tokens. Without it, all of them
end at once, which is what a rotation after a leaked key wants.
"""

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from clinic.models import ApiToken
from clinic.team import invitation_token
from monitoring.reminders import signing
from tests.auth import verified_login

OLD_KEY = "the-key-before-the-rotation-" + "o" * 40
NEW_KEY = "the-key-after-the-rotation-" + "n" * 40
PASSWORD = "correct-horse-battery"


@pytest.fixture
def old_key(settings):
    settings.SECRET_KEY = OLD_KEY
    settings.SECRET_KEY_FALLBACKS = []
    return settings


def rotate(settings, *, keep_old: bool) -> None:
    settings.SECRET_KEY = NEW_KEY
    settings.SECRET_KEY_FALLBACKS = [OLD_KEY] if keep_old else []


@pytest.fixture
def invited(django_user_model, clinic):
    user = django_user_model(username="new.person@example.org", email="new.person@example.org")
    user.set_unusable_password()
    user.save()
    return user


def api_token(user) -> str:
    user.set_password(PASSWORD)
    user.save()
    answer = APIClient().post(
        "/api/v1/auth/token/", {"username": user.username, "password": PASSWORD}, format="json"
    )
    return answer.json()["token"]


def with_token(token: str) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return api


def test_an_invitation_sent_before_a_rotation_opens_while_the_old_key_is_kept(
    old_key, client, invited
):
    link = reverse("accept_invite", args=[invitation_token(invited)])
    rotate(old_key, keep_old=True)
    assert client.get(link).status_code == 200


def test_an_api_token_issued_before_a_rotation_keeps_working_and_outlives_the_old_key(
    old_key, staff, patient
):
    token = api_token(staff)
    url = f"/api/v1/patients/{patient.pk}/"
    assert with_token(token).get(url).status_code == 200

    rotate(old_key, keep_old=True)
    assert with_token(token).get(url).status_code == 200
    # Its first use under the new key re-keyed it: the old key can now be dropped.
    rotate(old_key, keep_old=False)
    assert with_token(token).get(url).status_code == 200


def test_sessions_and_patient_links_keep_working_while_the_old_key_is_kept(
    old_key, client, staff, patient
):
    verified_login(client, staff)
    page = reverse("self_service:page", args=[signing.page_token(patient)])
    calendar = reverse("self_service:calendar", args=[signing.calendar_token(patient)])
    rotate(old_key, keep_old=True)
    assert client.get(reverse("monitoring:worklist")).status_code == 200
    assert client.get(page).status_code == 200
    assert client.get(calendar).status_code == 200


def test_without_the_old_key_sessions_links_invitations_and_tokens_all_end(
    old_key, client, staff, patient, invited
):
    verified_login(client, staff)
    page = reverse("self_service:page", args=[signing.page_token(patient)])
    unsubscribe = reverse("self_service:unsubscribe", args=[signing.unsubscribe_token(patient)])
    invitation = reverse("accept_invite", args=[invitation_token(invited)])
    token = api_token(staff)
    verified_login(client, staff)  # a new session: setting the password ended the first one

    rotate(old_key, keep_old=False)
    assert client.get(reverse("monitoring:worklist")).status_code == 302  # to the login page
    assert client.get(page).status_code == 404
    assert client.get(unsubscribe).status_code == 404
    assert client.get(invitation).status_code == 404
    assert with_token(token).get(f"/api/v1/patients/{patient.pk}/").status_code == 401
    assert not ApiToken.objects.filter(user=staff).exists()
