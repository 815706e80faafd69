"""docs/quality.md B4: a state-changing request without a CSRF token is refused and changes
nothing; a GET to a page that writes only shows it."""

import pytest
from django.apps import apps
from django.test import Client
from django.urls import reverse

from tests.auth import verified_login
from tests.builders import Builder, ready_first_prescription
from tests.factories import enroll


def row_counts(*, ignore=()) -> dict:
    return {
        m._meta.label: m.objects.count() for m in apps.get_models() if m._meta.label not in ignore
    }


@pytest.fixture
def ready(clinic, clinician, staff):
    b = Builder(clinic, clinician, staff, clinic.today())
    patient = enroll(clinic, by=staff)
    ready_first_prescription(b, patient)
    return patient


WRITES = [
    ("patients:create", None, {"mrn": "X1", "given_name": "A", "family_name": "B"}),
    ("patients:consent_create", "patient", {"kind": "patient_information"}),
    ("patients:test_create", "patient", {"kind": "monthly", "result": "negative"}),
    ("monitoring:lab_create", "patient", {"kind": "alt", "value": "20", "unit": "U/L"}),
    ("monitoring:visit_create", "patient", {"phq2": "0"}),
    ("monitoring:prescription_create", "patient", {"daily_dose_mg": "40", "days_supply": "30"}),
    ("monitoring:end_treatment", "patient", {}),
    ("monitoring:ipledge_sheet", "patient", {"item": "counseling"}),
    ("clinic_settings", None, {"triage_horizon_days": "9"}),
    ("logout", None, {}),
]


@pytest.mark.parametrize(("name", "slot", "data"), WRITES)
def test_a_write_without_a_csrf_token_is_refused_and_changes_nothing(
    ready, clinician, clinic_admin, name, slot, data
):
    client = Client(enforce_csrf_checks=True)
    verified_login(client, clinic_admin if name == "clinic_settings" else clinician)
    url = reverse(name, args=[ready.pk] if slot else [])
    before = row_counts()
    response = client.post(url, data)
    assert response.status_code == 403
    assert row_counts() == before


@pytest.mark.parametrize("name", ["monitoring:ipledge_sheet", "monitoring:end_treatment"])
def test_a_get_to_a_page_that_writes_changes_no_record(ready, clinician, name):
    client = verified_login(Client(), clinician)
    # Viewing is audited (one access event) and may save the session; nothing else changes.
    ignore = ("auditlog.LogEntry", "sessions.Session")
    before = row_counts(ignore=ignore)
    assert client.get(reverse(name, args=[ready.pk])).status_code == 200
    assert row_counts(ignore=ignore) == before
