"""The one registry of the kinds of patient record: for each, its model, its name on the audit
page, the fields the rules snapshot reads, its admin columns and what the FHIR export makes of it.

Readers: the history loader (monitoring/history.py and the send-time reader,
monitoring/reminders/history_row.py), the audit page (patients/audit_page.py), the admin
(patients/admin.py, monitoring/admin.py) and the FHIR export (monitoring/fhir.py). A record type
missing here fails tests/patients/test_record_types.py.

The table names each model by its label ("monitoring.LabResult"), not its class: the kinds of
record span this app and `monitoring`, and this app's own readers (the audit page, its admin)
may not import the upper one (docs/architecture.md). `RecordType.model` resolves the label once
the apps are loaded.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.apps import apps


@dataclass(frozen=True)
class RecordType:
    # The record type's list in monitoring.history.Records, and of the snapshot's rows.
    key: str
    model_label: str  # "app_label.ModelName"
    label: str  # the audit page's words for it
    # The fields the rules snapshot reads from each row (monitoring/history.py reads exactly
    # these); () = not read as rows of its own (the patient; mood reviews come with the visits).
    snapshot_fields: tuple[str, ...]
    admin_columns: tuple[str, ...]
    # The FHIR resources the export makes of it (docs/fhir.md); "" = not exported, and why.
    fhir: str
    # Written by the patient on the self-service page: the audit page names the patient.
    by_patient: bool = False

    @property
    def model(self):
        return apps.get_model(self.model_label)

    @property
    def content_type_model(self) -> str:
        """The name auditlog's content type gives the model ("labresult")."""
        return self.model_label.rsplit(".", 1)[1].lower()


# In the audit page's order: the patient, what staff confirm, then the course's records.
RECORD_TYPES: dict[str, RecordType] = {
    t.key: t
    for t in (
        RecordType(
            "patient",
            "patients.Patient",
            "Patient record",
            snapshot_fields=(),
            admin_columns=(
                "family_name",
                "given_name",
                "mrn",
                "clinic",
                "risk_category",
                "enrolled_on",
            ),
            fhir="Patient, and an Observation of the weight at enrollment",
        ),
        RecordType(
            "risk_changes",
            "patients.RiskCategoryChange",
            "Risk category change",
            snapshot_fields=("patient_id", "changed_on", "previous", "new"),
            admin_columns=("patient", "previous", "new", "changed_on"),
            fhir="",  # the category in force is the patient's; its history stays in the app
        ),
        RecordType(
            "consents",
            "patients.Consent",
            "Consent",
            snapshot_fields=("patient_id", "kind", "signed_on"),
            admin_columns=("patient", "kind", "signed_on"),
            fhir="Consent",
        ),
        RecordType(
            "contraception",
            "patients.ContraceptionConfirmation",
            "Contraception confirmation",
            snapshot_fields=(
                "pk",
                "patient_id",
                "confirmed_on",
                "source",
                "methods",
                "abstinence",
                "started_on",
            ),
            admin_columns=("patient", "confirmed_on", "source", "abstinence"),
            fhir="Observation",
        ),
        RecordType(
            "tests",
            "patients.PregnancyTest",
            "Pregnancy test",
            snapshot_fields=(
                "pk",
                "patient_id",
                "kind",
                "collected_on",
                "result",
                "setting",
                "clia_lab",
                "method",
                "verified_by_id",
                "evidence",
                "superseded_on",
            ),
            admin_columns=("patient", "kind", "collected_on", "result", "setting"),
            fhir="Observation",
        ),
        RecordType(
            "labs",
            "monitoring.LabResult",
            "Lab result",
            snapshot_fields=("patient_id", "kind", "collected_on", "value", "unit"),
            admin_columns=("patient", "kind", "collected_on", "value", "unit"),
            fhir="Observation",
        ),
        RecordType(
            "visits",
            "monitoring.Visit",
            "Visit",
            snapshot_fields=(
                "pk",
                "patient_id",
                "visited_on",
                "weight_kg",
                "counseling_confirmed",
                "comprehension_completed",
                "phq2",
                "phq9",
                "phq9_item9",
                "missed_dose_days",
                "next_visit_on",
            ),
            admin_columns=("patient", "visited_on", "phq2", "phq9", "counseling_confirmed"),
            fhir="Observations: the PHQ-2, the PHQ-9 with item 9, the weight",
        ),
        RecordType(
            "mood_reviews",
            "monitoring.MoodReview",
            "Mood review",
            snapshot_fields=(),
            admin_columns=("patient", "visit", "reviewed_on"),
            fhir="",  # a clinician's review of a visit's answers, kept in the app
        ),
        RecordType(
            "prescriptions",
            "monitoring.Prescription",
            "Prescription",
            snapshot_fields=(
                "pk",
                "patient_id",
                "course_id",
                "written_on",
                "daily_dose_mg",
                "days_supply",
                "dispensed_on",
            ),
            admin_columns=(
                "patient",
                "written_on",
                "daily_dose_mg",
                "days_supply",
                "dispensed_on",
            ),
            fhir="MedicationRequest, and a MedicationDispense once dispensed",
        ),
        RecordType(
            "courses",
            "monitoring.Course",
            "Course",
            snapshot_fields=("pk", "patient_id", "opened_on", "last_dose_on", "target_mg_per_kg"),
            admin_columns=("patient", "opened_on", "target_mg_per_kg", "last_dose_on"),
            fhir="",  # each prescription names its course (groupIdentifier)
        ),
        RecordType(
            "reports",
            "monitoring.ComprehensionReport",
            "Monthly questions done (patient)",
            snapshot_fields=("patient_id", "reported_on"),
            admin_columns=("patient", "reported_on"),
            fhir="",  # the patient's word that iPLEDGE's questions are done, not a finding
            by_patient=True,
        ),
    )
}


def of_app(app_label: str) -> list[RecordType]:
    """The record types whose model is in `app_label` (each app's admin registers its own)."""
    return [t for t in RECORD_TYPES.values() if t.model_label.startswith(f"{app_label}.")]
