"""The registry of record types (patients/records.py): every kind of patient record has one
entry, and its readers -- the history loader, the send-time reader, the audit page, the admin,
auditlog and the FHIR export -- cover exactly the registry's types."""

import dataclasses

import pytest
from auditlog.registry import auditlog
from django.contrib import admin

from monitoring import fhir, history
from monitoring.reminders import history_row
from patients import audit_page
from patients.models import Patient, PatientRecord, RiskCategoryChange
from patients.records import RECORD_TYPES

TYPES = list(RECORD_TYPES.values())


def _concrete_subclasses(cls):
    for sub in cls.__subclasses__():
        if not sub._meta.abstract:
            yield sub
        yield from _concrete_subclasses(sub)


def test_every_kind_of_patient_record_has_exactly_one_entry():
    models = [t.model for t in TYPES]
    assert len(set(models)) == len(models)
    assert set(models) == {Patient, RiskCategoryChange, *_concrete_subclasses(PatientRecord)}


@pytest.mark.parametrize("record_type", TYPES, ids=lambda t: t.key)
def test_every_entry_names_fields_its_model_has(record_type):
    model = record_type.model
    assert record_type.label and record_type.label[0].isupper()
    for name in record_type.snapshot_fields:
        if name != "pk":
            model._meta.get_field(name.removesuffix("_id") if name.endswith("_id") else name)
    assert record_type.admin_columns
    for name in record_type.admin_columns:
        model._meta.get_field(name)  # FieldDoesNotExist for a column the model lacks


@pytest.mark.parametrize("record_type", TYPES, ids=lambda t: t.key)
def test_every_record_type_is_audited_and_listed_in_the_admin(record_type):
    assert auditlog.contains(record_type.model)
    model_admin = admin.site.get_model_admin(record_type.model)
    assert list(model_admin.list_display) == list(record_type.admin_columns)


def test_the_audit_page_offers_every_record_type_then_the_clinic_settings():
    offered = [value for value, _label in audit_page.RECORD_TYPES]
    assert offered == [t.content_type_model for t in TYPES] + ["clinic"]
    assert audit_page.BY_PATIENT == {"comprehensionreport"}


def test_the_loaders_read_every_record_type_the_snapshot_reads():
    read = {t.key for t in TYPES if t.snapshot_fields}
    assert set(history.SNAPSHOT_FIELDS) == read
    assert {f.name for f in dataclasses.fields(history.Records)} == (
        read - {"courses"} | {"course", "mood_reviews"}
    )
    # The send-time reader: the same types, the course first.
    assert set(history_row.MODELS) == read
    assert next(iter(history_row.MODELS)) == "courses"


@pytest.mark.parametrize("record_type", TYPES, ids=lambda t: t.key)
def test_the_fhir_export_makes_resources_of_every_type_the_registry_exports(record_type, patient):
    export = fhir.Export(patient)
    if record_type.fhir:
        export.resources(record_type.key)  # a type it does not know raises
    else:
        with pytest.raises(ValueError, match="no resources"):
            export.resources(record_type.key)
