"""API tokens end: they expire, can be revoked, and die with a password change or deactivation
(docs/domain.md section 8)."""

import datetime

import pytest
import time_machine
from django.utils import timezone
from rest_framework.test import APIClient

from clinic.core.models import ApiToken

PASSWORD = "correct-horse-battery"
TOKEN_URL = "/api/v1/auth/token/"


def get_token(user) -> str:
    response = APIClient().post(
        TOKEN_URL, {"username": user.username, "password": PASSWORD}, format="json"
    )
    assert response.status_code == 200, response.content
    assert list(response.json()) == ["token"]
    return response.json()["token"]


def with_token(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


@pytest.fixture
def url(patient):
    return f"/api/v1/patients/{patient.pk}/"


def test_only_a_hash_of_the_token_is_stored(staff):
    token = get_token(staff)
    stored = ApiToken.objects.get(user=staff)
    assert token not in (stored.digest, stored.token_key)
    assert stored.expiry is not None


def test_a_token_works_for_12_hours_and_then_stops(staff, url):
    start = timezone.now()
    with time_machine.travel(start, tick=False) as traveller:
        token = get_token(staff)
        traveller.shift(datetime.timedelta(hours=11, minutes=59))
        assert with_token(token).get(url).status_code == 200
        traveller.shift(datetime.timedelta(minutes=2))
        response = with_token(token).get(url)
        assert response.status_code == 401
    assert not ApiToken.objects.filter(user=staff).exists()


def test_delete_revokes_the_token_that_signs_the_request_and_no_other(staff, url):
    first, second = get_token(staff), get_token(staff)
    response = with_token(first).delete(TOKEN_URL)
    assert response.status_code == 204
    assert with_token(first).get(url).status_code == 401
    assert with_token(first).delete(TOKEN_URL).status_code == 401
    assert with_token(second).get(url).status_code == 200


def test_delete_without_a_token_is_401(db):
    assert APIClient().delete(TOKEN_URL).status_code == 401


def test_a_password_change_ends_every_token(staff, url):
    token = get_token(staff)
    staff.set_password("another-long-passphrase")
    staff.save()
    assert with_token(token).get(url).status_code == 401
    assert not ApiToken.objects.filter(user=staff).exists()


def test_a_deactivated_user_s_token_stops_working(staff, url):
    token = get_token(staff)
    staff.is_active = False
    staff.save()
    assert with_token(token).get(url).status_code == 401


def test_saving_the_user_without_a_password_change_keeps_the_token(staff, url):
    token = get_token(staff)
    staff.first_name = "Robin"
    staff.save()
    assert with_token(token).get(url).status_code == 200


@pytest.mark.parametrize("header", ["Token", "Token a b", "Token \xff\xfe", "Token " + "f" * 64])
def test_a_malformed_or_unknown_token_is_401_not_500(staff, url, header):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    assert client.get(url).status_code == 401


def test_the_token_endpoint_refuses_a_username_too_long_naming_it(db):
    response = APIClient().post(TOKEN_URL, {"username": "u" * 151, "password": "x"}, format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["username"]
