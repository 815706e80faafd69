"""API tokens end: they expire, can be revoked, and die with a password change or deactivation
(docs/domain.md section 8)."""

import datetime

import pytest
import time_machine
from auditlog.models import LogEntry
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from clinic.models import ApiToken, Membership
from tests.auth import totp_code

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


# --- a token carries the second factor it was issued with (issue 20, item 1) ---------------


def get_token_with_code(user) -> str:
    response = APIClient().post(
        TOKEN_URL,
        {"username": user.username, "password": PASSWORD, "otp": totp_code(user)},
        format="json",
    )
    assert response.status_code == 200, response.content
    return response.json()["token"]


def test_a_token_records_whether_a_second_factor_was_checked(staff, clinician):
    get_token(staff)
    get_token_with_code(clinician)
    assert ApiToken.objects.get(user=staff).issued_with_second_factor is False
    assert ApiToken.objects.get(user=clinician).issued_with_second_factor is True


def test_a_staff_token_stops_working_once_the_role_needs_a_second_factor(staff, clinic, url):
    # Promoted by a door other than the Team page (the Django admin): the API reads the role
    # now, not when the token was issued.
    token = get_token(staff)
    assert with_token(token).get(url).status_code == 200
    Membership.objects.filter(user=staff).update(role="clinician")
    response = with_token(token).get(url)
    assert response.status_code == 401
    assert "second factor" in response.json()["detail"]
    assert "otp" in response.json()["detail"]


def test_a_staff_token_cannot_make_a_clinicians_change_after_promotion(staff, patient, url):
    token = get_token(staff)
    Membership.objects.filter(user=staff).update(role="clinician")
    response = with_token(token).post(
        f"{url}risk-category/",
        {"risk_category": "cannot_get_pregnant", "reason": "Assessed again"},
        format="json",
    )
    assert response.status_code == 401
    patient.refresh_from_db()
    assert patient.risk_category == "can_get_pregnant"


def test_a_staff_token_stops_when_the_user_becomes_a_superuser(staff, url):
    token = get_token(staff)
    staff.is_superuser = True
    staff.save(update_fields=["is_superuser"])
    assert with_token(token).get(url).status_code == 401


def test_a_staff_token_stops_when_the_user_becomes_clinician_in_another_clinic(
    staff, other_clinic, url
):
    token = get_token(staff)
    Membership.objects.create(user=staff, clinic=other_clinic, role="clinician")
    response = with_token(token).get(url, HTTP_X_CLINIC_ID=str(staff.memberships.first().clinic_id))
    assert response.status_code == 401


def test_a_token_issued_with_a_code_survives_a_change_between_second_factor_roles(
    clinician, clinic, url
):
    token = get_token_with_code(clinician)
    Membership.objects.filter(user=clinician).update(role="clinic_admin")
    assert with_token(token).get(url).status_code == 200


def test_promotion_on_the_team_page_ends_the_tokens_issued_without_a_code(
    client_for, clinic, clinic_admin, staff, url
):
    token = get_token(staff)
    membership = Membership.objects.get(user=staff, clinic=clinic)
    client_for(clinic_admin).post(reverse("team_role", args=[membership.pk]), {"role": "clinician"})
    assert not ApiToken.objects.filter(user=staff).exists()
    assert with_token(token).get(url).status_code == 401
    entry = LogEntry.objects.get(
        content_type__model="user",
        object_pk=str(staff.pk),
        additional_data__clinic_id=clinic.pk,
    )
    assert entry.changes_dict["api_tokens_without_second_factor"] == ["1", "0"]
    assert entry.actor == clinic_admin


def test_a_token_issued_with_a_code_keeps_working_after_a_demotion_to_staff(
    client_for, clinic, clinic_admin, clinician, url
):
    token = get_token_with_code(clinician)
    membership = Membership.objects.get(user=clinician, clinic=clinic)
    client_for(clinic_admin).post(reverse("team_role", args=[membership.pk]), {"role": "staff"})
    assert with_token(token).get(url).status_code == 200
