"""One patient's record as a FHIR R4 Bundle of type `collection` (docs/fhir.md).

Every resource is built as plain data, then validated by the `fhir.resources` models (the R4B
package, whose models of the resources used here are those of R4: docs/fhir.md says why), and
the bundle is validated as a whole; a record that cannot be expressed fails loudly here rather
than leaving the app as an invalid file.

Only the patient's own rows are read (each query filters on the patient, who was fetched in the
user's clinic), and the only other data is the patient's clinic: never another clinic's data.
Resource ids are the record's primary key with a type prefix (`prescription-12`); each entry's
`fullUrl` is a `urn:uuid:` derived from that id and SITE_URL, so an export made twice gives the
same ids and the same references.
"""

from __future__ import annotations

import datetime
import uuid
from decimal import Decimal

from django.conf import settings
from django.utils import timezone
from fhir.resources.R4B import get_fhir_model_class

from monitoring.models import PHQ_ITEM_ANSWERS, LabResult, Prescription, Visit
from patients.models import (
    Consent,
    ContraceptionConfirmation,
    ContraceptionMethod,
    Patient,
    PregnancyTest,
    TestResult,
)
from patients.records import RECORD_TYPES
from rules.labs import LAB_TYPES

FHIR_VERSION = "4.0"  # the `fhirVersion` parameter of application/fhir+json for R4
MEDIA_TYPE = "application/fhir+json"
CONTENT_TYPE = f"{MEDIA_TYPE}; fhirVersion={FHIR_VERSION}"

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
UCUM = "http://unitsofmeasure.org"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
CONSENT_SCOPE = "http://terminology.hl7.org/CodeSystem/consentscope"
IDENTIFIER_TYPE = "http://terminology.hl7.org/CodeSystem/v2-0203"
IPLEDGE_POLICY = "https://www.ipledgeprogram.com"
MEDICAL_RECORD_NUMBER = {
    "system": IDENTIFIER_TYPE,
    "code": "MR",
    "display": "Medical record number",
}

# Isotretinoin, the RxNorm ingredient (TTY=IN): the product's strength and form are not recorded.
ISOTRETINOIN = {"system": RXNORM, "code": "6064", "display": "isotretinoin"}
ORAL_ROUTE = {"system": SNOMED, "code": "26643006", "display": "Oral route"}

# Qualitative hCG: the specimen decides the code (a home test is a urine test).
PREGNANCY_TEST_LOINC = {
    "urine": ("2106-3", "Choriogonadotropin (pregnancy test) [Presence] in Urine"),
    "serum": ("2118-8", "Choriogonadotropin (pregnancy test) [Presence] in Serum or Plasma"),
}
TEST_RESULT_SNOMED = {
    TestResult.POSITIVE: ("10828004", "Positive (qualifier value)"),
    TestResult.NEGATIVE: ("260385009", "Negative (qualifier value)"),
    TestResult.INVALID: ("455371000124106", "Invalid result (qualifier value)"),
}

PHQ2_TOTAL = ("55758-7", "Patient Health Questionnaire 2 item (PHQ-2) total score [Reported]")
PHQ9_TOTAL = ("44261-6", "Patient Health Questionnaire 9 item (PHQ-9) total score [Reported]")
PHQ9_ITEM9 = (
    "44260-8",
    "Thoughts that you would be better off dead, or of hurting yourself in some way",
)
# The PHQ-9 item answers (LOINC answer list LL358-3), by the item's score 0-3, in the words
# the pages use (monitoring.models.PHQ_ITEM_ANSWERS).
PHQ_ANSWERS = {
    score: (code, PHQ_ITEM_ANSWERS[score])
    for score, code in {0: "LA6568-5", 1: "LA6569-3", 2: "LA6570-1", 3: "LA6571-9"}.items()
}
BODY_WEIGHT = ("29463-7", "Body weight")
BIRTH_CONTROL_METHOD = ("8659-5", "Birth control method - Reported")
CONSENT_DOCUMENT = "59284-0"


def base_url() -> str:
    """The root of this installation's own code systems and identifier systems."""
    return settings.SITE_URL.rstrip("/") + "/fhir"


def local_system(name: str) -> str:
    return f"{base_url()}/CodeSystem/{name}"


class Export:
    """The bundle of one patient: `Export(patient).bundle()` -> a validated Bundle model."""

    def __init__(self, patient: Patient):
        self.patient = patient
        self.clinic = patient.clinic
        self.namespace = uuid.uuid5(uuid.NAMESPACE_URL, base_url())
        self.entries: list[dict] = []

    # -- references ---------------------------------------------------------------------------

    def full_url(self, resource_type: str, id_: str) -> str:
        return f"urn:uuid:{uuid.uuid5(self.namespace, f'{resource_type}/{id_}')}"

    def ref(self, resource_type: str, id_: str, display: str = "") -> dict:
        reference = {"reference": self.full_url(resource_type, id_)}
        if display:
            reference["display"] = display
        return reference

    @property
    def subject(self) -> dict:
        return self.ref("Patient", f"patient-{self.patient.pk}", self.patient.full_name)

    def add(self, resource: dict) -> None:
        model = get_fhir_model_class(resource["resourceType"]).model_validate(resource)
        self.entries.append(
            {"fullUrl": self.full_url(resource["resourceType"], resource["id"]), "resource": model}
        )

    # -- the bundle ---------------------------------------------------------------------------

    def bundle(self):
        self.add(self.organization())
        # The record types the registry exports, in its order (patients/records.py).
        for record_type in RECORD_TYPES.values():
            if record_type.fhir:
                for resource in self.resources(record_type.key):
                    self.add(resource)
        bundle = {
            "resourceType": "Bundle",
            "id": f"patient-{self.patient.pk}-export",
            "type": "collection",
            "timestamp": timezone.now().isoformat(),
            "entry": self.entries,
        }
        return get_fhir_model_class("Bundle").model_validate(bundle)

    def resources(self, key: str) -> list[dict]:
        """The resources of the patient's records of one type, oldest first (each model's
        ordering is its date, then its id). A type the registry exports but this method does
        not know fails every export, never silently leaves the records out."""
        patient = self.patient
        if key == "patient":
            # The weight at enrollment, which the first dose is judged by.
            weight = self.weight(
                f"weight-patient-{patient.pk}", patient.enrolled_on, patient.weight_kg
            )
            return [self.patient_resource(), weight]
        rows = RECORD_TYPES[key].model.objects.filter(patient=patient)
        if key == "consents":
            return [self.consent(consent) for consent in rows]
        if key == "contraception":
            return [self.contraception(confirmation) for confirmation in rows]
        if key == "tests":
            return [self.pregnancy_test(test) for test in rows]
        if key == "labs":
            return [self.lab(lab) for lab in rows]
        if key == "visits":
            return [resource for visit in rows for resource in self.visit(visit)]
        if key == "prescriptions":
            prescriptions = list(rows.select_related("course", "recorded_by"))
            resources = []
            for prescription in prescriptions:
                resources.append(self.medication_request(prescription, prescriptions))
                if prescription.dispensed_on is not None:
                    resources.append(self.medication_dispense(prescription))
            return resources
        raise ValueError(f"the FHIR export has no resources for the record type {key!r}")

    # -- resources ----------------------------------------------------------------------------

    def organization(self) -> dict:
        clinic = self.clinic
        resource = {"resourceType": "Organization", "id": f"clinic-{clinic.pk}"}
        resource["name"] = clinic.name
        telecom = [
            {"system": system, "value": value, "use": "work"}
            for system, value in (("phone", clinic.contact_phone), ("email", clinic.contact_email))
            if value
        ]
        if telecom:
            resource["telecom"] = telecom
        return resource

    def patient_resource(self) -> dict:
        patient = self.patient
        identifiers = [
            {
                "use": "usual",
                "type": {"coding": [MEDICAL_RECORD_NUMBER]},
                "system": f"{base_url()}/clinic/{self.clinic.pk}/mrn",
                "value": patient.mrn,
            }
        ]
        if patient.ipledge_id:
            identifiers.append({"system": f"{base_url()}/ipledge-id", "value": patient.ipledge_id})
        telecom = [{"system": "email", "value": patient.email}]
        if patient.phone:
            telecom.append({"system": "phone", "value": patient.phone})
        return {
            "resourceType": "Patient",
            "id": f"patient-{patient.pk}",
            "identifier": identifiers,
            "active": True,
            "name": [
                {"use": "official", "family": patient.family_name, "given": [patient.given_name]}
            ],
            "telecom": telecom,
            "birthDate": patient.birth_date.isoformat(),
            "managingOrganization": self.ref(
                "Organization", f"clinic-{self.clinic.pk}", self.clinic.name
            ),
        }

    def consent(self, consent: Consent) -> dict:
        return {
            "resourceType": "Consent",
            "id": f"consent-{consent.pk}",
            "status": "active",
            "scope": {
                "coding": [{"system": CONSENT_SCOPE, "code": "treatment", "display": "Treatment"}]
            },
            "category": [
                {
                    "coding": [
                        {"system": LOINC, "code": CONSENT_DOCUMENT},
                        {
                            "system": local_system("consent-kind"),
                            "code": consent.kind,
                            "display": consent.get_kind_display(),
                        },
                    ],
                    "text": consent.get_kind_display(),
                }
            ],
            "patient": self.subject,
            "dateTime": consent.signed_on.isoformat(),
            "organization": [
                self.ref("Organization", f"clinic-{self.clinic.pk}", self.clinic.name)
            ],
            "policy": [{"uri": IPLEDGE_POLICY}],
        }

    def contraception(self, confirmation: ContraceptionConfirmation) -> dict:
        system = local_system("contraception-method")
        chosen = [(code, ContraceptionMethod(code).label) for code in confirmation.methods]
        if confirmation.abstinence:
            chosen.append(("abstinence", "Abstinence"))
        code, display = BIRTH_CONTROL_METHOD
        resource = {
            "resourceType": "Observation",
            "id": f"contraception-{confirmation.pk}",
            "status": "final",
            "category": [
                category("social-history", "Social History"),
                {
                    "coding": [
                        {
                            "system": local_system("confirmation-source"),
                            "code": confirmation.source,
                            "display": f"Confirmed by {confirmation.get_source_display().lower()}",
                        }
                    ]
                },
            ],
            "code": {"coding": [{"system": LOINC, "code": code, "display": display}]},
            "subject": self.subject,
            "effectiveDateTime": confirmation.confirmed_on.isoformat(),
            "component": [
                {
                    "code": {"coding": [{"system": LOINC, "code": code, "display": display}]},
                    "valueCodeableConcept": {
                        "coding": [{"system": system, "code": method, "display": label}],
                        "text": label,
                    },
                }
                for method, label in chosen
            ],
        }
        if confirmation.source == "patient":
            resource["performer"] = [self.subject]
        if not chosen:
            resource["dataAbsentReason"] = {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/data-absent-reason",
                        "code": "unknown",
                        "display": "Unknown",
                    }
                ]
            }
            del resource["component"]
        if confirmation.started_on:
            resource["note"] = [{"text": f"Methods started on {confirmation.started_on}."}]
        return resource

    def pregnancy_test(self, test: PregnancyTest) -> dict:
        code, display = PREGNANCY_TEST_LOINC[test.method]
        result_code, result_display = TEST_RESULT_SNOMED[TestResult(test.result)]
        notes = []
        if test.clia_lab:
            notes.append("Tested in a CLIA-certified lab.")
        if test.superseded_on:
            notes.append(
                f"Marked superseded by a clinician on {test.superseded_on}: "
                f"{test.superseded_reason}"
            )
        resource = {
            "resourceType": "Observation",
            "id": f"pregnancy-test-{test.pk}",
            "status": "final",
            "category": [
                category("laboratory", "Laboratory"),
                {
                    "coding": [
                        {
                            "system": local_system("pregnancy-test-kind"),
                            "code": test.kind,
                            "display": test.get_kind_display(),
                        }
                    ]
                },
            ],
            "code": {
                "coding": [{"system": LOINC, "code": code, "display": display}],
                "text": f"Pregnancy test ({test.get_kind_display().lower()})",
            },
            "subject": self.subject,
            "effectiveDateTime": test.collected_on.isoformat(),
            "valueCodeableConcept": {
                "coding": [{"system": SNOMED, "code": result_code, "display": result_display}],
                "text": test.get_result_display(),
            },
            "method": {
                "coding": [
                    {
                        "system": local_system("pregnancy-test-setting"),
                        "code": test.setting,
                        "display": test.get_setting_display(),
                    }
                ],
                "text": f"{test.get_setting_display()}, {test.get_method_display().lower()}",
            },
        }
        if notes:
            resource["note"] = [{"text": note} for note in notes]
        return resource

    def lab(self, lab: LabResult) -> dict:
        # The registry gives every kind a LOINC code in each unit it is stored in.
        measure = LAB_TYPES[lab.kind].measure(lab.unit)
        return {
            "resourceType": "Observation",
            "id": f"lab-{lab.pk}",
            "status": "final",
            "category": [category("laboratory", "Laboratory")],
            "code": {
                "coding": [
                    {"system": LOINC, "code": measure.loinc, "display": measure.loinc_display}
                ],
                "text": lab.get_kind_display(),
            },
            "subject": self.subject,
            "effectiveDateTime": lab.collected_on.isoformat(),
            "valueQuantity": quantity(lab.value, lab.unit, measure.unit.ucum),
        }

    def visit(self, visit: Visit) -> list[dict]:
        on = visit.visited_on.isoformat()
        resources = [
            self.score(f"phq2-visit-{visit.pk}", on, PHQ2_TOTAL, visit.phq2),
        ]
        if visit.phq9 is not None:
            phq9 = self.score(f"phq9-visit-{visit.pk}", on, PHQ9_TOTAL, visit.phq9)
            if visit.phq9_item9 is not None:
                answer, text = PHQ_ANSWERS[visit.phq9_item9]
                phq9["component"] = [
                    {
                        "code": {
                            "coding": [
                                {"system": LOINC, "code": PHQ9_ITEM9[0], "display": PHQ9_ITEM9[1]}
                            ]
                        },
                        "valueCodeableConcept": {
                            "coding": [{"system": LOINC, "code": answer, "display": text}],
                            "text": text,
                        },
                    }
                ]
            resources.append(phq9)
        if visit.weight_kg is not None:
            weight = self.weight(f"weight-visit-{visit.pk}", visit.visited_on, visit.weight_kg)
            resources.append(weight)
        return resources

    def score(self, id_: str, on: str, loinc: tuple[str, str], value: int) -> dict:
        return {
            "resourceType": "Observation",
            "id": id_,
            "status": "final",
            "category": [category("survey", "Survey")],
            "code": {"coding": [{"system": LOINC, "code": loinc[0], "display": loinc[1]}]},
            "subject": self.subject,
            "effectiveDateTime": on,
            "valueInteger": value,
        }

    def weight(self, id_: str, on: datetime.date, kg: Decimal) -> dict:
        code, display = BODY_WEIGHT
        return {
            "resourceType": "Observation",
            "id": id_,
            "status": "final",
            "category": [category("vital-signs", "Vital Signs")],
            "code": {"coding": [{"system": LOINC, "code": code, "display": display}]},
            "subject": self.subject,
            "effectiveDateTime": on.isoformat(),
            "valueQuantity": quantity(kg, "kg", "kg"),
        }

    def medication_request(self, prescription: Prescription, prescriptions: list) -> dict:
        resource = {
            "resourceType": "MedicationRequest",
            "id": f"prescription-{prescription.pk}",
            "status": prescription_status(prescription, prescriptions),
            "intent": "order",
            "medicationCodeableConcept": {"coding": [ISOTRETINOIN], "text": "isotretinoin"},
            "subject": self.subject,
            "authoredOn": prescription.written_on.isoformat(),
            "groupIdentifier": {
                "system": f"{base_url()}/course",
                "value": f"course-{prescription.course_id}",
            },
            "dosageInstruction": [dosage(prescription)],
            "dispenseRequest": {"expectedSupplyDuration": days(prescription.days_supply)},
        }
        prescriber = prescription.recorded_by
        if prescriber is not None:
            resource["requester"] = {
                "display": prescriber.get_full_name() or prescriber.get_username()
            }
        return resource

    def medication_dispense(self, prescription: Prescription) -> dict:
        resource = {
            "resourceType": "MedicationDispense",
            "id": f"dispense-{prescription.pk}",
            "status": "completed",
            "medicationCodeableConcept": {"coding": [ISOTRETINOIN], "text": "isotretinoin"},
            "subject": self.subject,
            "authorizingPrescription": [
                self.ref("MedicationRequest", f"prescription-{prescription.pk}")
            ],
            "daysSupply": days(prescription.days_supply),
            "whenHandedOver": prescription.dispensed_on.isoformat(),
            "dosageInstruction": [dosage(prescription)],
        }
        if prescription.rma_number:
            resource["identifier"] = [
                {"system": f"{base_url()}/ipledge-rma", "value": prescription.rma_number}
            ]
        return resource


def prescription_status(prescription: Prescription, prescriptions: list) -> str:
    """completed once dispensed; stopped when never picked up and a later prescription was
    written or the course ended; else active (waiting for the pharmacy)."""
    if prescription.dispensed_on is not None:
        return "completed"
    later = any(
        other.written_on > prescription.written_on
        or (other.written_on == prescription.written_on and other.pk > prescription.pk)
        for other in prescriptions
    )
    if later or prescription.course.last_dose_on is not None:
        return "stopped"
    return "active"


def category(code: str, display: str) -> dict:
    return {"coding": [{"system": OBSERVATION_CATEGORY, "code": code, "display": display}]}


def quantity(value: Decimal, unit: str, ucum: str) -> dict:
    return {"value": value, "unit": unit, "system": UCUM, "code": ucum}


def days(count: int) -> dict:
    return {"value": count, "unit": "days", "system": UCUM, "code": "d"}


def dosage(prescription: Prescription) -> dict:
    dose = prescription.daily_dose_mg.normalize()
    return {
        "text": f"{dose:f} mg by mouth once a day for {prescription.days_supply} days",
        "timing": {"repeat": {"frequency": 1, "period": 1, "periodUnit": "d"}},
        "route": {"coding": [ORAL_ROUTE]},
        "doseAndRate": [{"doseQuantity": quantity(prescription.daily_dose_mg, "mg", "mg")}],
    }


def export_bundle(patient: Patient):
    """The validated Bundle of one patient's record."""
    return Export(patient).bundle()


def bundle_json(patient: Patient) -> str:
    return export_bundle(patient).model_dump_json()


def filename(patient: Patient) -> str:
    """The download's name: the record's id and the clinic's date, never the patient's name."""
    return f"patient-{patient.pk}-fhir-{patient.clinic.today().isoformat()}.json"
