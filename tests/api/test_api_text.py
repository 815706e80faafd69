"""Text that cannot forge lines or reverse itself, at the API (issue 20 item 5; docs/domain.md
section 4, "Text fields"): a 400 naming the field, nothing saved; names stored in NFC; notes
keep their line breaks; the schema states what is refused."""

import re

import pytest

from patients.models import Patient
from tests.api.conftest import database_state, day
from tests.api.test_api_records import ENROLLMENT, assert_refused, post, visit_body


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("given_name", "Ana\u202eX"),  # right-to-left override
        ("family_name", "Quay\u200ble"),  # zero-width space
        ("family_name", "Smith\u2066"),  # left-to-right isolate
        ("mrn", "MRN-1\r\nBcc: x"),  # a forged line
        ("mrn", "MRN\x85-2"),  # C1: next line
        ("mrn", "MRN\x7f-3"),  # DEL
        ("mrn", "MRN-4\n"),  # a line break at the end, refused as sent (not stripped)
        ("phone", "555\x1b0101"),  # escape
        ("ipledge_id", "\ufeff1234567890"),  # byte-order mark
        ("given_name", "Ana\u2028Bea"),  # line separator
    ],
)
def test_a_one_line_field_holding_a_control_or_invisible_character_is_a_400_naming_it(
    api, staff, db, field, value
):
    before = database_state()
    response = post(api(staff), "/api/v1/patients/", {**ENROLLMENT, field: value})
    assert_refused(response, field, before)
    assert value not in response.content.decode()  # the message never echoes the value


def test_names_are_stored_in_nfc(api, staff, db):
    body = {**ENROLLMENT, "given_name": "Zoe\u0301", "family_name": "Nun\u0303ez"}
    response = post(api(staff), "/api/v1/patients/", body)
    assert response.status_code == 201, response.content
    patient = Patient.objects.get()
    assert (patient.given_name, patient.family_name) == ("Zoé", "Nuñez")


def test_visit_notes_keep_line_breaks_and_tabs_but_refuse_direction_controls(
    api, clinician, patient, today
):
    url = f"/api/v1/patients/{patient.pk}/visits/"
    notes = "Dry lips.\r\nAdvised balm.\n\tReview next month."
    response = post(api(clinician), url, visit_body(today, notes=notes))
    assert response.status_code == 201, response.content
    assert patient.visits.get().notes == notes
    before = database_state()
    response = post(api(clinician), url, visit_body(today, notes="Fine \u202eon the whole"))
    assert_refused(response, "notes", before)


def test_a_risk_category_reason_with_an_invisible_character_is_refused(
    api, clinician, patient, today
):
    before = database_state()
    body = {
        "risk_category": "cannot_get_pregnant",
        "changed_on": day(today, 0),
        "reason": "Hyster\u200bectomy",
    }
    response = post(api(clinician), f"/api/v1/patients/{patient.pk}/risk-category/", body)
    assert_refused(response, "reason", before)


def test_the_schema_states_what_a_text_field_refuses(api, staff, db):
    schema = api(staff).get("/api/v1/schema/", HTTP_ACCEPT="application/json").json()
    fields = schema["components"]["schemas"]["PatientIn"]["properties"]
    mrn = re.compile(fields["mrn"]["pattern"])
    assert mrn.fullmatch("MRN-1") and mrn.fullmatch("ＭＲＮ-1")
    for refused in ("MRN\u200b1", "MRN\r\n1", "MRN\u202e1", "MRN-1\n", "\u2066MRN"):
        assert not mrn.fullmatch(refused)
    visit = schema["components"]["schemas"]["VisitIn"]["properties"]
    [notes] = [re.compile(s["pattern"]) for s in visit["notes"]["oneOf"] if "pattern" in s]
    assert notes.fullmatch("one\r\ntwo\tthree") and not notes.fullmatch("one\u202etwo")
