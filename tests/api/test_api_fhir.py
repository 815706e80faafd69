"""GET /api/v1/patients/{id}/fhir/ and the patient page's Download FHIR button (docs/fhir.md)."""

import json
from decimal import Decimal

import pytest
from auditlog.models import LogEntry
from django.core.management import call_command
from fhir.resources.R4B import get_fhir_model_class

from clinic.models import Clinic, Membership
from demo.seeding import SCENARIOS
from monitoring.models import LabResult, Prescription, Visit
from patients.models import Consent, ContraceptionConfirmation, Patient, PregnancyTest
from tests.builders import ready_first_prescription
from tests.factories import enroll, member

LOINC, RXNORM, UCUM = (
    "http://loinc.org",
    "http://www.nlm.nih.gov/research/umls/rxnorm",
    ("http://unitsofmeasure.org"),
)


def url(patient) -> str:
    return f"/api/v1/patients/{patient.pk}/fhir/"


def access_events(patient) -> int:
    return LogEntry.objects.filter(
        action=LogEntry.Action.ACCESS, object_pk=str(patient.pk), content_type__model="patient"
    ).count()


def resources(bundle: dict, resource_type: str | None = None) -> list[dict]:
    return [
        entry["resource"]
        for entry in bundle["entry"]
        if resource_type is None or entry["resource"]["resourceType"] == resource_type
    ]


def codes(resource: dict) -> set[tuple[str, str]]:
    return {(c["system"], c["code"]) for c in resource["code"]["coding"]}


@pytest.fixture
def demo(db, monkeypatch):
    monkeypatch.setenv("DEMO_PASSWORD", "demo-pass-123")
    call_command("seed_demo", patients=len(SCENARIOS))
    return Clinic.objects.get(name="Demo Dermatology")


def references(value) -> list[str]:
    """Every `reference` anywhere inside a resource."""
    if isinstance(value, dict):
        found = [value["reference"]] if isinstance(value.get("reference"), str) else []
        return found + [ref for item in value.values() for ref in references(item)]
    if isinstance(value, list):
        return [ref for item in value for ref in references(item)]
    return []


def test_the_bundle_of_every_demo_patient_validates_and_carries_every_record(demo, api):
    Bundle = get_fhir_model_class("Bundle")
    patients = list(Patient.objects.select_related("clinic").order_by("pk"))
    assert len(patients) > len(SCENARIOS)  # both demo clinics
    seen_types = set()
    for patient in patients:
        user = Membership.objects.filter(clinic=patient.clinic, role="staff").get().user
        response = api(user).get(url(patient))
        assert response.status_code == 200, (patient.mrn, response.content[:300])
        assert response["Content-Type"].startswith("application/fhir+json")
        bundle = json.loads(response.content)
        Bundle.model_validate(bundle)  # raises on any invalid element of any resource
        assert (bundle["resourceType"], bundle["type"]) == ("Bundle", "collection")
        full_urls = [entry["fullUrl"] for entry in bundle["entry"]]
        assert len(set(full_urls)) == len(full_urls)
        for resource in resources(bundle):
            seen_types.add(resource["resourceType"])
            assert set(references(resource)) <= set(full_urls), resource["id"]
        ids = {resource["id"] for resource in resources(bundle)}
        (subject,) = resources(bundle, "Patient")
        assert subject["id"] == f"patient-{patient.pk}"
        assert subject["birthDate"] == patient.birth_date.isoformat()
        expected = {
            "consent": Consent.objects.filter(patient=patient),
            "contraception": ContraceptionConfirmation.objects.filter(patient=patient),
            "pregnancy-test": PregnancyTest.objects.filter(patient=patient),
            "lab": LabResult.objects.filter(patient=patient),
            "phq2-visit": Visit.objects.filter(patient=patient),
            "phq9-visit": Visit.objects.filter(patient=patient, phq9__isnull=False),
            "prescription": Prescription.objects.filter(patient=patient),
            "dispense": Prescription.objects.filter(patient=patient, dispensed_on__isnull=False),
        }
        for prefix, rows in expected.items():
            assert {f"{prefix}-{pk}" for pk in rows.values_list("pk", flat=True)} == {
                id_ for id_ in ids if id_.rsplit("-", 1)[0] == prefix
            }, (patient.mrn, prefix)
    assert seen_types == {
        "Organization",
        "Patient",
        "Consent",
        "Observation",
        "MedicationRequest",
        "MedicationDispense",
    }


@pytest.fixture
def treated(clinic, builder, staff):
    """A patient with one record of each kind the codes depend on, in clinic A."""
    patient = enroll(clinic, by=staff, given_name="Robin", family_name="Fhirtest")
    Patient.objects.filter(pk=patient.pk).update(home_tests_allowed=True)  # a clinician's choice
    patient.refresh_from_db()
    ready_first_prescription(builder, patient, confirmation_on=-3)
    builder.lab(patient, "ldl", -13, "2.6", "mmol/L")
    first = builder.prescribe(patient, -2, dose="40", dispensed=-1)
    builder.home_test(patient, "monthly", 0)
    visit = builder.visit(patient, 0, phq2=4, phq9=12, item9=2, weight=Decimal("61.5"))
    return {"patient": patient, "visit": visit, "prescription": first}


def by_id(bundle: dict) -> dict:
    return {resource["id"]: resource for resource in resources(bundle)}


def test_records_are_coded_with_loinc_snomed_rxnorm_and_ucum(api, staff, treated):
    patient, visit, prescription = treated["patient"], treated["visit"], treated["prescription"]
    bundle = json.loads(api(staff).get(url(patient)).content)
    found = by_id(bundle)
    tests = {test.kind: test for test in PregnancyTest.objects.filter(patient=patient)}
    assert codes(found[f"pregnancy-test-{tests['screening'].pk}"]) == {(LOINC, "2118-8")}
    assert codes(found[f"pregnancy-test-{tests['monthly'].pk}"]) == {(LOINC, "2106-3")}
    negative = found[f"pregnancy-test-{tests['confirmation'].pk}"]["valueCodeableConcept"]
    assert negative["coding"][0]["code"] == "260385009"
    labs = {lab.kind: lab for lab in LabResult.objects.filter(patient=patient)}
    alt = found[f"lab-{labs['alt'].pk}"]
    assert codes(alt) == {(LOINC, "1742-6")}
    assert alt["valueQuantity"]["code"] == "U/L"
    assert alt["valueQuantity"]["value"] == float(labs["alt"].value)
    ldl = found[f"lab-{labs['ldl'].pk}"]
    assert codes(ldl) == {(LOINC, "22748-8")}  # LDL in mmol/L: the moles/volume code
    assert ldl["valueQuantity"] == {
        "value": 2.6,
        "unit": "mmol/L",
        "system": UCUM,
        "code": "mmol/L",
    }
    phq2 = found[f"phq2-visit-{visit.pk}"]
    assert (codes(phq2), phq2["valueInteger"]) == ({(LOINC, "55758-7")}, 4)
    phq9 = found[f"phq9-visit-{visit.pk}"]
    assert (codes(phq9), phq9["valueInteger"]) == ({(LOINC, "44261-6")}, 12)
    (item9,) = phq9["component"]
    assert item9["code"]["coding"][0]["code"] == "44260-8"
    assert item9["valueCodeableConcept"]["coding"][0]["code"] == "LA6570-1"  # more than half
    weight = found[f"weight-visit-{visit.pk}"]
    assert codes(weight) == {(LOINC, "29463-7")}
    assert weight["valueQuantity"]["value"] == 61.5
    request = found[f"prescription-{prescription.pk}"]
    assert request["medicationCodeableConcept"]["coding"] == [
        {"system": RXNORM, "code": "6064", "display": "isotretinoin"}
    ]
    assert (request["status"], request["intent"]) == ("completed", "order")
    dose = request["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"]
    assert (dose["value"], dose["code"]) == (40.0, "mg")
    assert request["dispenseRequest"]["expectedSupplyDuration"]["value"] == 30
    dispense = found[f"dispense-{prescription.pk}"]
    assert dispense["daysSupply"] == {"value": 30, "unit": "days", "system": UCUM, "code": "d"}
    prescription.refresh_from_db()
    assert dispense["whenHandedOver"] == prescription.dispensed_on.isoformat()
    assert dispense["identifier"][0]["value"] == prescription.rma_number
    (authorizing,) = dispense["authorizingPrescription"]
    entries = {entry["resource"]["id"]: entry["fullUrl"] for entry in bundle["entry"]}
    assert authorizing["reference"] == entries[request["id"]]
    (confirmation,) = ContraceptionConfirmation.objects.filter(patient=patient)
    contraception = found[f"contraception-{confirmation.pk}"]
    assert codes(contraception) == {(LOINC, "8659-5")}
    methods = [c["valueCodeableConcept"]["coding"][0]["code"] for c in contraception["component"]]
    assert methods == ["iud", "male_condom"]
    consents = [resource for resource in found.values() if resource["resourceType"] == "Consent"]
    assert sorted(c["category"][0]["coding"][1]["code"] for c in consents) == [
        "birth_defects",
        "patient_information",
    ]
    assert all(c["patient"]["reference"] == entries[f"patient-{patient.pk}"] for c in consents)


def test_another_clinic_s_patient_is_a_404_and_its_records_never_appear(
    api, clinic, staff, other_clinic, clinic_b_clinician, treated
):
    theirs = enroll(
        other_clinic, by=clinic_b_clinician, given_name="Quinn", family_name="Elsewhere"
    )
    Consent.objects.create(patient=theirs, kind="patient_information", signed_on=theirs.enrolled_on)
    before = access_events(theirs)
    response = api(staff).get(url(theirs))
    assert response.status_code == 404
    assert b"Elsewhere" not in response.content
    assert access_events(theirs) == before  # nothing was shown, nothing is logged
    # Clinic B's own clinician gets theirs, and clinic A's patient is a 404 to them.
    assert api(clinic_b_clinician).get(url(theirs)).status_code == 200
    assert api(clinic_b_clinician).get(url(treated["patient"])).status_code == 404
    text = api(staff).get(url(treated["patient"])).content.decode()
    assert "Elsewhere" not in text and other_clinic.name not in text
    assert theirs.mrn not in text and f'patient-{theirs.pk}"' not in text
    (organization,) = resources(json.loads(text), "Organization")
    assert organization == {
        "resourceType": "Organization",
        "id": f"clinic-{clinic.pk}",
        "name": clinic.name,
    }


def test_each_export_is_one_access_event_of_its_user(api, clinician, treated):
    patient = treated["patient"]
    before = access_events(patient)
    assert api(clinician).get(url(patient)).status_code == 200
    assert access_events(patient) == before + 1
    newest = LogEntry.objects.filter(action=LogEntry.Action.ACCESS).latest("pk")
    assert (newest.actor, newest.object_pk) == (clinician, str(patient.pk))
    assert newest.additional_data["clinic_id"] == patient.clinic_id
    assert api(clinician).get(url(patient)).status_code == 200
    assert access_events(patient) == before + 2


@pytest.mark.parametrize("role", ["staff", "clinician", "clinic_admin"])
def test_every_role_that_sees_patients_may_export(api, clinic, patient, role):
    response = api(member(clinic, role)).get(url(patient))
    assert response.status_code == 200
    assert [r["resourceType"] for r in resources(json.loads(response.content))] == [
        "Organization",
        "Patient",
        "Observation",  # the weight at enrollment: a new patient has no other record
    ]


def test_anonymous_is_a_401_and_a_missing_patient_a_404(api, staff, patient):
    response = api().get(url(patient))
    assert response.status_code == 401
    assert b"Fhirtest" not in response.content and b"birthDate" not in response.content
    assert api(staff).get("/api/v1/patients/999999/fhir/").status_code == 404


def test_a_client_asking_for_fhir_json_gets_it(api, staff, patient):
    response = api(staff).get(url(patient), HTTP_ACCEPT="application/fhir+json")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/fhir+json; fhirVersion=4.0"
    assert api(staff).get(url(patient), HTTP_ACCEPT="text/csv").status_code == 406


def test_an_unfilled_prescription_is_active_until_a_later_one_replaces_it(api, staff, builder):
    patient = enroll(builder.clinic, by=staff)
    ready_first_prescription(builder, patient, confirmation_on=-1)
    first = builder.prescribe(patient, -1)
    found = by_id(json.loads(api(staff).get(url(patient)).content))
    assert found[f"prescription-{first.pk}"]["status"] == "active"
    assert f"dispense-{first.pk}" not in found
    # Never picked up; the next cycle's checks are done and the clinician writes again.
    builder.contraception(patient, on=0, started=-70)
    builder.visit(patient, 0)
    second = builder.prescribe(patient, 0)
    found = by_id(json.loads(api(staff).get(url(patient)).content))
    assert found[f"prescription-{first.pk}"]["status"] == "stopped"
    assert found[f"prescription-{second.pk}"]["status"] == "active"


def test_the_patient_page_downloads_the_same_bundle(client_for, staff, clinic_admin, treated):
    patient = treated["patient"]
    page = client_for(staff).get(f"/patients/{patient.pk}/")
    download = f"/patients/{patient.pk}/fhir/"
    assert f'href="{download}" download>Download FHIR</a>'.encode() in page.content
    before = access_events(patient)
    response = client_for(clinic_admin).get(download)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/fhir+json")
    assert response["Content-Disposition"] == (
        f'attachment; filename="patient-{patient.pk}-fhir-{patient.clinic.today()}.json"'
    )
    assert access_events(patient) == before + 1
    bundle = json.loads(response.content)
    get_fhir_model_class("Bundle").model_validate(bundle)
    assert len(by_id(bundle)) == len(bundle["entry"]) > 15


def test_the_download_is_guarded_like_the_patient_page(client, client_for, other_clinic, treated):
    download = f"/patients/{treated['patient'].pk}/fhir/"
    response = client.get(download)
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    outsider = member(other_clinic, "staff")
    assert client_for(outsider).get(download).status_code == 404
