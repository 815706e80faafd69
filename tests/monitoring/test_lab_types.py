"""The registry of lab kinds (rules/labs.py): every kind the database takes has one
entry with every column, and each reader -- the model's choices, the gate, the form's units, the
FHIR export -- reads it. A kind once lacked its LOINC entry and the export raised KeyError."""

import re
from decimal import Decimal

import pytest
from fhir.resources.R4B import get_fhir_model_class

from monitoring import fhir, services
from monitoring.forms import LabForm
from monitoring.models import LabKind, LabResult
from rules.labs import LAB_TYPES

KIND_UNITS = [(lab.kind, unit) for lab in LAB_TYPES.values() for unit in lab.units]


def test_the_registry_holds_exactly_the_kinds_the_model_takes():
    assert set(LAB_TYPES) == set(LabKind.values)


@pytest.mark.parametrize("kind", LabKind.values)
def test_every_kind_has_a_label_a_name_and_at_least_one_unit(kind):
    lab = LAB_TYPES[kind]
    assert lab.kind == kind
    assert LabKind(kind).label == lab.label and lab.label[0].isupper()
    assert lab.name and lab.name.lower() == lab.label.lower()
    assert lab.units and len(set(lab.units)) == len(lab.units)
    assert lab.usual_unit == lab.units[0]


@pytest.mark.parametrize(("kind", "unit"), KIND_UNITS)
def test_every_unit_of_every_kind_has_a_loinc_code_a_ucum_code_and_bounds(kind, unit):
    measure = LAB_TYPES[kind].measure(unit)
    assert re.fullmatch(r"\d{1,7}-\d", measure.loinc)
    assert measure.loinc_display
    assert measure.unit.ucum and measure.unit.ucum.isascii()
    assert 0 < measure.low < measure.high


def test_a_loinc_code_has_one_display_whichever_kind_or_unit_reads_it():
    displays = {}
    for lab in LAB_TYPES.values():
        for m in lab.measures:
            assert displays.setdefault(m.loinc, m.loinc_display) == m.loinc_display


def test_the_baseline_set_is_triglycerides_total_cholesterol_and_alt():
    # docs/domain.md section 4; the gate names them in this order.
    assert [lab.name for lab in LAB_TYPES.values() if lab.baseline] == [
        "triglycerides",
        "total cholesterol",
        "ALT",
    ]


@pytest.mark.parametrize(("kind", "unit"), KIND_UNITS)
def test_every_kind_in_every_unit_is_exported_as_a_valid_fhir_observation(patient, kind, unit):
    lab = LabResult.objects.create(
        patient=patient,
        kind=kind,
        collected_on=patient.enrolled_on,
        value=LAB_TYPES[kind].measure(unit).low,
        unit=unit,
    )
    resource = fhir.Export(patient).lab(lab)
    get_fhir_model_class("Observation").model_validate(resource)
    measure = LAB_TYPES[kind].measure(unit)
    assert resource["code"]["coding"][0]["code"] == measure.loinc
    assert resource["valueQuantity"]["code"] == measure.unit.ucum


@pytest.mark.parametrize("kind", LabKind.values)
def test_every_kind_is_taken_in_each_accepted_spelling_and_stored_in_its_unit(kind):
    lab = LAB_TYPES[kind]
    for spelling in lab.accepted_units:
        assert services.lab_unit(kind, f" {spelling} ") in lab.units
    assert services.lab_unit(kind, "furlongs") is None
    assert set(lab.accepted_units) <= {value for value, _ in LabForm.base_fields["unit"].choices}


def test_iu_per_litre_is_stored_as_units_per_litre():
    assert services.lab_unit("alt", "IU/L") == "U/L"
    assert services.lab_units_words("ast") == (
        "AST is recorded in U/L or µkat/L (IU/L is taken as U/L)."
    )
    assert services.unusual_lab_value("triglycerides", Decimal(2001), "mg/dL") == (
        "Triglycerides 2,001 mg/dL is far above what labs report (up to 2,000 mg/dL): "
        "check the figure and the unit."
    )
