"""The Django admin is for superusers only; even they cannot edit clinical records or delete
audit events there."""

import pytest
from auditlog.models import LogEntry
from django.contrib.auth.models import Permission

from tests.factories import UserFactory, enroll, member


@pytest.fixture
def staff_flagged_clinic_admin(clinic):
    """The hole of old: a clinic admin with the staff flag and every permission."""
    user = member(clinic, "clinic_admin", is_staff=True)
    user.user_permissions.set(Permission.objects.all())
    return user


@pytest.fixture
def superuser(db):
    return UserFactory(is_staff=True, is_superuser=True)


@pytest.mark.parametrize(
    "url",
    ["/admin/", "/admin/clinic/membership/", "/admin/auth/user/", "/admin/patients/patient/"],
)
def test_a_clinic_admin_with_the_staff_flag_gets_no_admin(
    client_for, staff_flagged_clinic_admin, url
):
    response = client_for(staff_flagged_clinic_admin).get(url)
    assert response.status_code == 302
    assert response.url.startswith("/admin/login/")


def test_a_clinic_admin_cannot_add_a_membership_through_the_admin(
    client_for, staff_flagged_clinic_admin, other_clinic
):
    stranger = member(other_clinic, "staff")
    client = client_for(staff_flagged_clinic_admin)
    client.post(
        "/admin/clinic/membership/add/",
        {
            "user": stranger.pk,
            "clinic": staff_flagged_clinic_admin.memberships.get().clinic_id,
            "role": "clinician",
        },
    )
    assert stranger.memberships.count() == 1


def test_a_superuser_sees_every_clinic_in_the_admin(client_for, superuser, clinic, other_clinic):
    enroll(clinic, mrn="OURS")
    enroll(other_clinic, mrn="THEIRS")
    response = client_for(superuser).get("/admin/patients/patient/")
    assert response.status_code == 200
    assert b"OURS" in response.content and b"THEIRS" in response.content


def test_audit_entries_cannot_be_deleted_even_by_a_superuser(client_for, superuser, clinic):
    ours = enroll(clinic, mrn="OURS")
    entry = LogEntry.objects.get(object_pk=str(ours.pk), content_type__model="patient")
    response = client_for(superuser).post(
        f"/admin/auditlog/logentry/{entry.pk}/delete/", {"post": "yes"}
    )
    assert response.status_code == 403
    assert LogEntry.objects.filter(pk=entry.pk).exists()


def test_clinical_records_cannot_be_added_in_the_admin(client_for, superuser):
    assert client_for(superuser).get("/admin/patients/pregnancytest/add/").status_code == 403
