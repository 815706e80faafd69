import pytest
from auditlog.models import LogEntry
from django.urls import reverse

from patients.models import Patient
from tests.auth import verified_login
from tests.factories import enroll


def entries_for(patient, action):
    return LogEntry.objects.filter(
        content_type__model="patient", object_pk=str(patient.pk), action=action
    )


def test_enrolling_writes_a_create_event_with_who(client, staff, clinic):
    verified_login(client, staff)
    client.post(
        reverse("patients:create"),
        {
            "mrn": "AU-1",
            "given_name": "Rowan",
            "family_name": "Hollis",
            "birth_date": "2000-01-01",
            "email": "r@example.org",
            "weight_kg": "70",
            "risk_category": "cannot_get_pregnant",
            "risk_category_reason": "Assessed",
            "enrolled_on": clinic.today().isoformat(),
        },
    )
    patient = Patient.objects.get(mrn="AU-1")
    entry = entries_for(patient, LogEntry.Action.CREATE).get()
    assert entry.actor == staff
    assert entry.additional_data["clinic_id"] == clinic.pk


def test_editing_writes_an_update_event_with_what_changed(client, staff, clinic):
    patient = enroll(clinic, by=staff, phone="")
    verified_login(client, staff)
    data = {
        f: getattr(patient, f)
        for f in (
            "mrn",
            "given_name",
            "family_name",
            "birth_date",
            "email",
            "ipledge_id",
            "weight_kg",
            "enrolled_on",
        )
    }
    data["phone"] = "555-0199"
    response = client.post(reverse("patients:edit", args=[patient.pk]), data)
    assert response.status_code == 302
    entry = entries_for(patient, LogEntry.Action.UPDATE).get()
    assert entry.actor == staff
    assert entry.changes_dict["phone"] == ["", "555-0199"]


def test_each_view_of_a_patient_page_writes_one_access_event(client, clinician, patient):
    verified_login(client, clinician)
    client.get(patient.get_absolute_url())
    client.get(patient.get_absolute_url())
    accesses = entries_for(patient, LogEntry.Action.ACCESS)
    assert accesses.count() == 2
    assert {e.actor for e in accesses} == {clinician}


def test_the_audit_page_is_for_clinic_admins_and_shows_only_their_clinic(
    client, clinic_admin, staff, patient, other_clinic
):
    enroll(other_clinic, mrn="ELSEWHERE")
    verified_login(client, staff)
    assert client.get(reverse("audit_log")).status_code == 403
    verified_login(client, clinic_admin)
    page = client.get(reverse("audit_log"), {"model": "patient"}).context["page"]
    assert {e.object_pk for e in page} == {str(patient.pk)}


def test_the_audit_page_filters_by_action(client, clinic_admin, staff, patient):
    verified_login(client, staff)
    client.get(patient.get_absolute_url())
    verified_login(client, clinic_admin)
    page = client.get(
        reverse("audit_log"), {"action": LogEntry.Action.ACCESS, "patient": patient.pk}
    ).context["page"]
    assert [e.actor for e in page] == [staff]


def test_an_impossible_date_filter_is_ignored_not_an_error(client, clinic_admin):
    verified_login(client, clinic_admin)
    assert client.get(reverse("audit_log"), {"since": "2024-02-30"}).status_code == 200


@pytest.mark.parametrize("url_name", ["monitoring:visit_create", "monitoring:prescription_create"])
def test_pages_that_show_the_record_write_an_access_event(client, clinician, patient, url_name):
    verified_login(client, clinician)
    client.get(reverse(url_name, args=[patient.pk]))
    [entry] = entries_for(patient, LogEntry.Action.ACCESS)
    assert entry.actor == clinician


def test_a_worklist_export_is_one_access_event_naming_its_patients(client, staff, clinic):
    shown = [enroll(clinic, mrn=f"CSV{i}") for i in range(3)]
    verified_login(client, staff)
    before = LogEntry.objects.filter(action=LogEntry.Action.ACCESS).count()
    response = client.get(reverse("monitoring:worklist"), {"format": "csv"})
    assert response.status_code == 200
    b"".join(response.streaming_content)
    accesses = LogEntry.objects.filter(action=LogEntry.Action.ACCESS)
    assert accesses.count() == before + 1
    entry = accesses.order_by("-pk").first()
    assert (entry.actor, entry.additional_data["clinic_id"]) == (staff, clinic.pk)
    assert sorted(entry.additional_data["patient_ids"]) == sorted(p.pk for p in shown)
    assert entry.object_repr.endswith(": 3 patients")
