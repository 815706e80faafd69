"""One MRN, one patient (issue 20 item 4; docs/security.md, "Text and identities"): MRNs that
differ only in case, width, surrounding spaces or invisible characters name the same patient,
by every door, and the database refuses a second row even when two requests race."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse
from rest_framework.test import APIClient

from clinic.text import mrn_key
from patients.models import Patient
from tests.auth import verified_login
from tests.factories import enroll
from tests.patients.test_enrollment import form_data

# (the MRN on file, the same MRN as typed again)
SAME_MRN = [
    ("MRN-ZW", "MRN-ZW\u200b"),
    ("mrn-case-x", "MRN-CASE-X"),
    ("MRN-FW2", "ＭＲＮ-FW2"),
    ("MRN-SP", "  MRN-SP "),
    ("Straße-1", "STRASSE-1"),
]


@pytest.fixture
def staff_client(client, staff):
    verified_login(client, staff)
    return client


@pytest.mark.parametrize(("on_file", "typed"), SAME_MRN)
def test_the_enrollment_form_refuses_an_mrn_that_only_looks_different(
    staff_client, clinic, staff, on_file, typed
):
    enroll(clinic, by=staff, mrn=on_file)
    response = staff_client.post(reverse("patients:create"), form_data(clinic, mrn=typed))
    assert response.status_code == 200
    assert "mrn" in response.context["form"].errors
    assert Patient.objects.count() == 1


@pytest.mark.parametrize(("on_file", "typed"), SAME_MRN)
def test_the_api_refuses_an_mrn_that_only_looks_different_with_a_400_naming_mrn(
    clinic, staff, on_file, typed
):
    enroll(clinic, by=staff, mrn=on_file)
    body = {
        "mrn": typed,
        "given_name": "Robin",
        "family_name": "Quayle",
        "birth_date": "2002-03-04",
        "email": "robin@example.org",
        "risk_category": "cannot_get_pregnant",
        "weight_kg": "64.5",
    }
    api = APIClient()
    api.force_authenticate(staff)
    response = api.post("/api/v1/patients/", body, format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["mrn"]
    assert Patient.objects.count() == 1


def test_the_enrollment_service_compares_mrns_by_their_key(clinic, staff):
    enroll(clinic, by=staff, mrn="mrn-case-x")
    with pytest.raises(ValidationError) as refused:
        enroll(clinic, by=staff, mrn="MRN-CASE-X")
    assert refused.value.message_dict["mrn"] == [
        "Another patient in this clinic already has this MRN."
    ]


def test_editing_a_patient_to_anothers_mrn_in_other_letters_is_refused(clinic, staff):
    from monitoring.enrollment import update_patient

    enroll(clinic, by=staff, mrn="MRN-FW2")
    second = enroll(clinic, by=staff, mrn="MRN-3")
    with pytest.raises(ValidationError) as refused:
        update_patient(second, by=staff, data={"mrn": "ＭＲＮ-fw2"}, may_allow_home_tests=False)
    assert "mrn" in refused.value.message_dict
    second.refresh_from_db()
    assert second.mrn == "MRN-3"


def test_the_mrn_is_kept_as_typed_and_compared_by_its_key(clinic, staff):
    patient = enroll(clinic, by=staff, mrn="Mrn-77a")
    assert (patient.mrn, patient.mrn_key) == ("Mrn-77a", "mrn-77a")
    assert mrn_key("ＭＲＮ-77A\u200b ") == "mrn-77a"


def test_the_same_mrn_in_another_clinic_is_another_patient(clinic, other_clinic, staff):
    enroll(clinic, by=staff, mrn="MRN-CASE-X")
    enroll(other_clinic, mrn="mrn-case-x")
    assert Patient.objects.count() == 2


def test_the_database_refuses_a_second_row_with_the_same_key(clinic, staff):
    first = enroll(clinic, by=staff, mrn="MRN-9")
    values = {
        f.attname: getattr(first, f.attname)
        for f in Patient._meta.concrete_fields
        if f.name not in {"id", "mrn", "mrn_key"}
    }
    with pytest.raises(IntegrityError), transaction.atomic():
        Patient.objects.create(**values, mrn="mrn-9")


def test_a_duplicate_arriving_between_the_check_and_the_write_is_a_form_error(
    monkeypatch, clinic, staff
):
    """Two enrollments of one MRN at the same moment: both pass the check, the database's key
    refuses the second, which gets the MRN error, not a server error."""
    enroll(clinic, by=staff, mrn="MRN-RACE")
    monkeypatch.setattr("patients.services.mrn_error", lambda *args, **kwargs: None)
    with pytest.raises(ValidationError) as refused:
        enroll(clinic, by=staff, mrn="mrn-race")
    assert "mrn" in refused.value.message_dict
    assert Patient.objects.count() == 1


def test_the_patient_search_finds_an_mrn_however_it_is_typed(staff_client, clinic, staff):
    enroll(clinic, by=staff, mrn="MRN-FW2", family_name="Quayle")
    response = staff_client.get(reverse("patients:list"), {"q": "ＭＲＮ-fw2"})
    assert [p.family_name for p in response.context["page"]] == ["Quayle"]


# The migration that introduced the key ------------------------------------------------------

BEFORE = [("patients", "0002_patient_preferred_language")]
AFTER = [("patients", "0004_mrn_key_unique")]


def _migrate(patients_at=None):
    """Migrate the patients app to `patients_at` (default: its latest), every other app staying
    at its latest."""
    executor = MigrationExecutor(connection)
    leaves = executor.loader.graph.leaf_nodes()
    targets = [node for node in leaves if node[0] != "patients" or patients_at is None]
    targets += patients_at or []
    executor.migrate(targets)
    executor.loader.build_graph()
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_the_migration_keeps_colliding_patients_apart_and_reports_them(capsys):
    old = _migrate(BEFORE)
    try:
        clinic_model, patient_model = (
            old.get_model("clinic", "Clinic"),
            old.get_model("patients", "Patient"),
        )
        a, b = clinic_model.objects.create(name="A"), clinic_model.objects.create(name="B")

        def patient(clinic, mrn):
            return patient_model.objects.create(
                clinic=clinic,
                mrn=mrn,
                given_name="Robin",
                family_name="Quayle",
                birth_date=datetime.date(2002, 3, 4),
                email="robin@example.org",
                weight_kg=Decimal("60"),
                risk_category="can_get_pregnant",
                risk_category_reason="Assessed",
                risk_category_set_on=datetime.date(2026, 1, 5),
                enrolled_on=datetime.date(2026, 1, 5),
            ).pk

        zw, zw_twin = patient(a, "MRN-ZW"), patient(a, "MRN-ZW\u200b")
        case, case_twin, fw = (
            patient(a, "mrn-case-x"),
            patient(a, "MRN-CASE-X"),
            patient(a, "ＭＲＮ-CASE-X"),
        )
        alone, elsewhere = patient(a, "MRN-1"), patient(b, "MRN-ZW")
        capsys.readouterr()

        _migrate(AFTER)
        report = capsys.readouterr().out
    finally:
        _migrate()

    keys = dict(Patient.objects.values_list("pk", "mrn_key"))
    assert keys[zw] == "mrn-zw" and keys[elsewhere] == "mrn-zw" and keys[alone] == "mrn-1"
    assert keys[case] == "mrn-case-x"
    assert keys[zw_twin] == f"mrn-zw [duplicate {zw_twin}]"
    assert keys[case_twin] == f"mrn-case-x [duplicate {case_twin}]"
    assert keys[fw] == f"mrn-case-x [duplicate {fw}]"
    assert f"clinic {a.pk}: patients {zw}, {zw_twin} " in report
    assert f"clinic {a.pk}: patients {case}, {case_twin}, {fw} " in report
    assert f"clinic {b.pk}" not in report
    assert "MRN-ZW" not in report and "case-x" not in report.lower()  # never the MRN itself
