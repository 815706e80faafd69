"""The audit page as a clinic admin reads it: names, the clinic's local time to the minute,
one line per event, a visit's burst of views folded, pages of 50 lines."""

import datetime

import pytest
import time_machine
from auditlog.models import LogEntry
from django.urls import reverse

from clinic.audit import log_view
from tests.factories import enroll

URL = reverse("audit_log")


@pytest.fixture
def named_staff(staff):
    staff.first_name, staff.last_name = "Dana", "Reyes"
    staff.save()
    return staff


def _lines(client, **params):
    response = client.get(URL, params)
    assert response.status_code == 200
    return response, list(response.context["page"])


def test_people_and_records_are_named_not_numbered(client_for, clinic, clinic_admin, named_staff):
    patient = enroll(clinic, by=named_staff, given_name="Rowan", family_name="Hollis")
    response, lines = _lines(client_for(clinic_admin))
    html = response.content.decode()
    created = next(line for line in lines if line.entry.content_type.model == "patient")
    assert created.who == "Dana Reyes"
    assert created.record == "Patient record of Rowan Hollis"
    assert created.action == "Created"
    assert "Dana Reyes" in html and "Rowan Hollis" in html
    assert f"#{patient.pk}" not in html
    assert "None" not in html  # no "None -> 1"
    course = next(line for line in lines if line.entry.content_type.model == "course")
    assert course.record == "Course of Rowan Hollis"
    assert "Recorded by" not in course.summary  # bookkeeping is left out of a "Created" line


def test_a_change_names_the_field_and_the_user_it_points_at(
    client_for, clinic, clinic_admin, clinician, named_staff
):
    from monitoring import services

    patient = enroll(clinic, by=named_staff)
    clinician.first_name, clinician.last_name = "Ira", "Banks"
    clinician.save()
    services.end_treatment(patient, by=clinician, last_dose_on=clinic.today())
    _, lines = _lines(client_for(clinic_admin), action=LogEntry.Action.UPDATE)
    [ended] = [line for line in lines if line.entry.content_type.model == "course"]
    changes = {label: (old, new) for label, old, new in ended.changes}
    assert changes["Ended by"] == ("—", "Ira Banks")
    assert changes["Last dose on"][0] == "—"
    today = clinic.today()
    assert changes["Last dose on"][1] == f"{today:%b} {today.day}, {today.year}"


def test_times_are_the_clinics_local_time_to_the_minute(client_for, clinic, clinic_admin, staff):
    patient = enroll(clinic, by=staff)
    # 14:05:09.123456 UTC is 09:05 in New York (EST, UTC-5).
    instant = datetime.datetime(2026, 1, 15, 14, 5, 9, 123456, tzinfo=datetime.UTC)
    with time_machine.travel(instant, tick=False):
        log_view(staff, patient)
    response, lines = _lines(client_for(clinic_admin), action=LogEntry.Action.ACCESS)
    assert lines[0].when == "Jan 15, 2026, 9:05 AM EST"
    html = response.content.decode()
    assert "Jan 15, 2026, 9:05 AM EST" in html
    assert "2:05" not in html and "123456" not in html and "UTC" not in html


def test_views_of_one_record_by_one_user_within_a_minute_are_one_line(
    client_for, clinic, clinic_admin, staff, clinician
):
    patient = enroll(clinic, by=staff)
    other = enroll(clinic, by=staff)
    start = datetime.datetime(2026, 1, 15, 14, 0, 0, tzinfo=datetime.UTC)
    for seconds, user, record in [
        (0, staff, patient),
        (10, staff, patient),
        (20, clinician, patient),  # another user: a line of its own
        (30, staff, other),  # another record: a line of its own
        (40, staff, patient),
        (59, staff, patient),
        (61, staff, patient),  # a minute after the first of the fold: a new line
    ]:
        with time_machine.travel(start + datetime.timedelta(seconds=seconds), tick=False):
            log_view(user, record)
    _, lines = _lines(client_for(clinic_admin), action=LogEntry.Action.ACCESS)
    shape = [(line.who, line.entry.object_pk, line.count) for line in lines]
    assert shape == [
        (staff.username, str(patient.pk), 4),  # 14:01:01 back to 14:00:10
        (staff.username, str(other.pk), 1),
        (clinician.username, str(patient.pk), 1),
        (staff.username, str(patient.pk), 1),  # 14:00:00
    ]
    assert lines[0].span == "4 times, 9:00 AM–9:01 AM"


def test_changes_are_never_folded(client_for, clinic, clinic_admin, staff):
    from patients import services

    patient = enroll(clinic, by=staff)
    services.record_consent(patient, by=staff, kind="patient_information", signed_on=clinic.today())
    services.record_consent(patient, by=staff, kind="birth_defects", signed_on=clinic.today())
    _, lines = _lines(client_for(clinic_admin), model="consent")
    assert [line.count for line in lines] == [1, 1]


def test_pages_hold_fifty_lines(client_for, clinic, clinic_admin, staff):
    patients = [enroll(clinic, by=staff, mrn=f"PG{i}") for i in range(60)]
    start = datetime.datetime(2026, 1, 15, 14, 0, 0, tzinfo=datetime.UTC)
    with time_machine.travel(start, tick=False):
        for patient in patients:
            log_view(staff, patient)
    client = client_for(clinic_admin)
    first, lines = _lines(client, action=LogEntry.Action.ACCESS)
    assert len(lines) == 50
    assert first.context["page"].paginator.num_pages == 2
    _, rest = _lines(client, action=LogEntry.Action.ACCESS, page=2)
    assert len(rest) == 10


def test_the_page_costs_the_same_queries_for_one_line_or_fifty(
    client_for, clinic, clinic_admin, staff, django_assert_max_num_queries
):
    for i in range(50):
        enroll(clinic, by=staff, mrn=f"Q{i}")
    client = client_for(clinic_admin)
    client.get(URL)  # warm the content-type cache
    with django_assert_max_num_queries(14):
        client.get(URL)


def test_acronyms_keep_their_spelling_on_the_audit_page():
    from patients.audit_page import sentence_case

    assert sentence_case("RMA number") == "RMA number"
    assert sentence_case("iPLEDGE entry") == "iPLEDGE entry"
    assert sentence_case("dose target (mg/kg)") == "Dose target (mg/kg)"
    assert sentence_case("MRN") == "MRN"
