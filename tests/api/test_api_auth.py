"""Tokens, anonymous requests and the clinic an API request acts in."""

import pytest

from clinic.models import ApiToken, Membership
from tests.auth import totp_code
from tests.factories import UserFactory, enroll, member

PASSWORD = "correct-horse-battery"
TOKEN_URL = "/api/v1/auth/token/"


def every_api_url(patient_id=1, record_id=1):
    return [
        ("post", "/api/v1/patients/"),
        ("get", f"/api/v1/patients/{patient_id}/"),
        ("post", f"/api/v1/patients/{patient_id}/consents/"),
        ("post", f"/api/v1/patients/{patient_id}/contraception/"),
        ("post", f"/api/v1/patients/{patient_id}/pregnancy-tests/"),
        ("post", f"/api/v1/patients/{patient_id}/labs/"),
        ("post", f"/api/v1/patients/{patient_id}/visits/"),
        ("get", f"/api/v1/patients/{patient_id}/status/"),
        ("post", f"/api/v1/patients/{patient_id}/prescriptions/"),
        ("post", f"/api/v1/prescriptions/{record_id}/dispense/"),
        ("post", f"/api/v1/patients/{patient_id}/end-treatment/"),
        ("post", f"/api/v1/visits/{record_id}/mood-review/"),
        ("post", f"/api/v1/pregnancy-tests/{record_id}/supersede/"),
        ("get", f"/api/v1/patients/{patient_id}/reminders/"),
        ("get", "/api/v1/schema/"),
    ]


def test_the_token_endpoint_returns_a_token_for_the_right_password(api, clinician):
    response = api().post(
        TOKEN_URL,
        {"username": clinician.username, "password": PASSWORD, "otp": totp_code(clinician)},
        format="json",
    )
    assert response.status_code == 200
    assert list(response.json()) == ["token"]
    assert ApiToken.objects.filter(user=clinician).count() == 1


def test_the_token_opens_the_api_and_a_wrong_token_does_not(api, clinician, patient):
    token = (
        api()
        .post(
            TOKEN_URL,
            {"username": clinician.username, "password": PASSWORD, "otp": totp_code(clinician)},
            format="json",
        )
        .json()["token"]
    )
    url = f"/api/v1/patients/{patient.pk}/"
    assert api(HTTP_AUTHORIZATION=f"Token {token}").get(url).status_code == 200
    assert api(HTTP_AUTHORIZATION="Token not-a-real-token").get(url).status_code == 401


def test_a_wrong_password_and_an_unknown_user_get_the_same_400(api, clinician):
    wrong_password = api().post(
        TOKEN_URL, {"username": clinician.username, "password": "nope"}, format="json"
    )
    unknown_user = api().post(
        TOKEN_URL, {"username": "nobody-here", "password": "nope"}, format="json"
    )
    assert wrong_password.status_code == unknown_user.status_code == 400
    assert wrong_password.json() == unknown_user.json()
    assert wrong_password.json() == {
        "non_field_errors": ["Unable to log in with provided credentials."]
    }
    assert not ApiToken.objects.exists()


def test_an_inactive_user_gets_no_token(api, clinician):
    clinician.is_active = False
    clinician.save()
    response = api().post(
        TOKEN_URL, {"username": clinician.username, "password": PASSWORD}, format="json"
    )
    assert response.status_code == 400


def test_the_token_endpoint_names_a_missing_field(api):
    response = api().post(TOKEN_URL, {"username": "someone"}, format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["password"]


@pytest.mark.django_db
@pytest.mark.parametrize(("method", "url"), every_api_url())
def test_every_api_url_answers_401_to_an_anonymous_request_not_a_redirect(api, method, url):
    response = getattr(api(), method)(url, {}, format="json")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"


@pytest.mark.parametrize(("method", "url"), every_api_url())
def test_a_user_with_no_clinic_gets_403_everywhere_but_the_schema(api, db, method, url):
    response = getattr(api(UserFactory()), method)(url, {}, format="json")
    expected = 200 if url.endswith("/schema/") else 403
    assert response.status_code == expected


def test_the_clinic_header_picks_among_the_users_clinics(api, clinic, other_clinic, staff):
    Membership.objects.create(user=staff, clinic=other_clinic, role="staff")
    patient_b = enroll(other_clinic)
    url = f"/api/v1/patients/{patient_b.pk}/"
    silent = api(staff).get(url)  # no silent default: naming none is a 400 naming the header
    assert silent.status_code == 400
    assert list(silent.json()) == ["X-Clinic-Id"]
    assert api(staff, HTTP_X_CLINIC_ID=str(other_clinic.pk)).get(url).status_code == 200


def test_naming_a_clinic_the_user_is_not_a_member_of_is_403_not_a_fallback(
    api, patient, other_clinic, staff
):
    response = api(staff, HTTP_X_CLINIC_ID=str(other_clinic.pk)).get(
        f"/api/v1/patients/{patient.pk}/"
    )
    assert response.status_code == 403


@pytest.mark.parametrize("header", ["abc", "1.5", "-1", "9" * 40, "١"])
def test_a_malformed_clinic_header_is_400_naming_it(api, patient, staff, header):
    response = api(staff, HTTP_X_CLINIC_ID=header).get(f"/api/v1/patients/{patient.pk}/")
    assert response.status_code == 400
    assert list(response.json()) == ["X-Clinic-Id"]


def test_the_role_comes_from_the_chosen_clinic(api, clinic, other_clinic):
    user = member(clinic, "clinician")
    Membership.objects.create(user=user, clinic=other_clinic, role="clinic_admin")
    patient_b = enroll(other_clinic)
    client = api(user, HTTP_X_CLINIC_ID=str(other_clinic.pk))
    response = client.post(
        f"/api/v1/patients/{patient_b.pk}/end-treatment/",
        {"last_dose_on": patient_b.enrolled_on.isoformat()},
        format="json",
    )
    assert response.status_code == 403
