"""The admin shows a non-superuser only their clinics' records, and no clinical edits."""

import pytest
from auditlog.models import LogEntry
from django.contrib.auth.models import Permission

from tests.factories import enroll, member


@pytest.fixture
def admin_user(clinic):
    user = member(clinic, "clinic_admin", is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(
            codename__in=[
                "view_patient",
                "view_logentry",
                "view_clinic",
                "change_clinic",
                "view_pregnancytest",
            ]
        )
    )
    return user


def test_the_admin_lists_only_the_users_clinic_patients(client, admin_user, clinic, other_clinic):
    enroll(clinic, mrn="OURS")
    enroll(other_clinic, mrn="THEIRS")
    client.force_login(admin_user)
    response = client.get("/admin/patients/patient/")
    assert response.status_code == 200
    assert b"OURS" in response.content
    assert b"THEIRS" not in response.content


def test_another_clinics_patient_is_not_reachable_in_the_admin(client, admin_user, other_clinic):
    theirs = enroll(other_clinic, mrn="THEIRS")
    client.force_login(admin_user)
    response = client.get(f"/admin/patients/patient/{theirs.pk}/change/")
    assert response.status_code == 302  # the admin redirects when the object is not visible


def test_audit_entries_are_scoped_and_cannot_be_deleted(client, admin_user, clinic, other_clinic):
    ours = enroll(clinic, mrn="OURS")
    enroll(other_clinic, mrn="THEIRS")
    client.force_login(admin_user)
    response = client.get("/admin/auditlog/logentry/")
    assert response.status_code == 200
    listed = {entry.object_pk for entry in response.context["cl"].result_list}
    assert str(ours.pk) in listed
    assert listed <= {
        str(pk)
        for pk in LogEntry.objects.filter(additional_data__clinic_id=clinic.pk).values_list(
            "object_pk", flat=True
        )
    }
    entry = LogEntry.objects.get(object_pk=str(ours.pk), content_type__model="patient")
    assert (
        client.post(f"/admin/auditlog/logentry/{entry.pk}/delete/", {"post": "yes"}).status_code
        == 403
    )
    assert LogEntry.objects.filter(pk=entry.pk).exists()


def test_clinical_records_cannot_be_added_in_the_admin(client, admin_user):
    client.force_login(admin_user)
    assert client.get("/admin/patients/pregnancytest/add/").status_code == 403
