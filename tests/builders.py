"""Patients in the states the tests need, built through the services as staff would.

`Builder` records one thing at a time (a consent, a test, a visit, a prescription) through
patients.services and monitoring.services, dated in days from the clinic's today; the functions
below it put an enrolled patient in a named state with those steps. The rules each state meets
are in docs/domain.md. The demo clinic that `manage.py seed_demo` builds shows the same states,
but the tests do not depend on it.
"""

import datetime
from decimal import Decimal

from django.core.files.base import ContentFile

from monitoring import services as monitoring
from patients import services as patients
from tests.factories import enroll

BASELINE_LABS = (
    ("triglycerides", "110", "mg/dL"),
    ("total_cholesterol", "170", "mg/dL"),
    ("alt", "22", "U/L"),
)
# A 1x1 PNG: a home test's "photo" (evidence must be an image or a PDF).
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00"
    b"\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05"
    b"\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82"
)


class Builder:
    """Records for one clinic: staff record consents, labs, tests and contraception and
    dispense; the clinician records visits, writes prescriptions and ends treatment."""

    def __init__(self, clinic, clinician, staff, today: datetime.date | None = None):
        self.clinic, self.clinician, self.staff = clinic, clinician, staff
        self.today = today or clinic.today()

    def day(self, offset: int) -> datetime.date:
        return self.today + datetime.timedelta(days=offset)

    def enroll(self, *, can: bool = True, enrolled: int = -45, **fields):
        fields.setdefault("risk_category", "can_get_pregnant" if can else "cannot_get_pregnant")
        return enroll(self.clinic, by=self.staff, enrolled_on=self.day(enrolled), **fields)

    def consent(self, patient, kind: str, on: int):
        patients.record_consent(patient, by=self.staff, kind=kind, signed_on=self.day(on))

    def lab(self, patient, kind: str, on: int, value: str, unit: str):
        monitoring.record_lab(
            patient,
            by=self.staff,
            kind=kind,
            collected_on=self.day(on),
            value=Decimal(value),
            unit=unit,
        )

    def baseline(self, patient, *, on: int, can: bool):
        """The consents and the baseline labs a first prescription needs."""
        self.consent(patient, "patient_information", on)
        if can:
            self.consent(patient, "birth_defects", on)
        for kind, value, unit in BASELINE_LABS:
            self.lab(patient, kind, on, value, unit)

    def test(self, patient, kind: str, on: int, result: str = "negative"):
        """A pregnancy test in a CLIA lab (serum for the screening test, urine otherwise)."""
        data = {
            "kind": kind,
            "collected_on": self.day(on),
            "result": result,
            "setting": "medical",
            "clia_lab": True,
            "method": "serum" if kind == "screening" else "urine",
        }
        return patients.record_pregnancy_test(patient, by=self.staff, data=data)

    def home_test(self, patient, kind: str, on: int):
        data = {
            "kind": kind,
            "collected_on": self.day(on),
            "result": "negative",
            "setting": "home",
            "clia_lab": False,
            "method": "urine",
            "evidence": ContentFile(PNG, name="readout.png"),
        }
        return patients.record_pregnancy_test(patient, by=self.staff, data=data)

    def contraception(
        self, patient, on: int, started: int, source: str = "staff", methods=("iud", "male_condom")
    ):
        patients.record_contraception(
            patient,
            by=self.staff,
            confirmed_on=self.day(on),
            source=source,
            methods=list(methods),
            abstinence=False,
            started_on=self.day(started),
        )

    def visit(
        self,
        patient,
        on: int,
        *,
        phq2: int = 0,
        phq9=None,
        item9=None,
        weight=None,
        comprehension: bool = True,
        counseling: bool = True,
        next_visit: int | None = None,
    ):
        data = {
            "visited_on": self.day(on),
            "weight_kg": weight,
            "counseling_confirmed": counseling,
            "comprehension_completed": comprehension,
            "phq2": phq2,
            "phq9": phq9,
            "phq9_item9": item9,
            "missed_dose_days": 0,
            "next_visit_on": self.day(next_visit) if next_visit is not None else None,
        }
        return monitoring.record_visit(
            patient, by=self.clinician, may_confirm_counseling=True, data=data
        )

    def prescribe(self, patient, on: int, *, dose: str = "40", dispensed: int | None = None):
        """A 30-day prescription written on day `on`, dispensed on day `dispensed` if given."""
        prescription = monitoring.write_prescription(
            patient,
            by=self.clinician,
            written_on=self.day(on),
            daily_dose_mg=Decimal(dose),
            days_supply=30,
        )
        if dispensed is not None:
            monitoring.dispense(
                prescription,
                by=self.staff,
                dispensed_on=self.day(dispensed),
                rma_number=f"{prescription.pk:09d}",
            )
        return prescription

    def end_treatment(self, patient, last_dose: int):
        monitoring.end_treatment(patient, by=self.clinician, last_dose_on=self.day(last_dose))


# States. Each takes a Builder and a patient enrolled at least 45 days ago (80 for the ones
# with a dispensed supply), who can get pregnant unless the name says otherwise.


def ready_first_prescription(b: Builder, patient, *, confirmation_on: int = -1):
    """Every check for a first prescription done; the pick-up window opened by the
    confirmation test closes on day confirmation_on + 6."""
    b.baseline(patient, on=confirmation_on - 10, can=True)
    b.test(patient, "screening", confirmation_on - 25)
    b.contraception(patient, on=confirmation_on, started=-70)
    b.test(patient, "confirmation", confirmation_on)
    b.visit(patient, confirmation_on)


def ready(b: Builder, patient):
    """Confirmation test yesterday (IUD and condom confirmed): the window closes today + 5."""
    ready_first_prescription(b, patient, confirmation_on=-1)


def window_closing(b: Builder, patient):
    """Ready, but the window closes tomorrow."""
    ready_first_prescription(b, patient, confirmation_on=-5)


def in_treatment(b: Builder, patient):
    """Second supply dispensed two days ago; the next visit is booked for day 27."""
    ready_first_prescription(b, patient, confirmation_on=-33)
    b.prescribe(patient, -33, dispensed=-32)
    b.test(patient, "monthly", -3)
    b.contraception(patient, on=-3, started=-70)
    b.visit(patient, -3, next_visit=27)
    b.prescribe(patient, -3, dispensed=-2)


def monthly_due(b: Builder, patient):
    """First supply dispensed 29 days ago; the monthly test, contraception and visit are due."""
    ready_first_prescription(b, patient, confirmation_on=-30)
    b.prescribe(patient, -30, dispensed=-29)


def ended(b: Builder, patient):
    """In treatment, then the last dose yesterday."""
    in_treatment(b, patient)
    b.end_treatment(patient, -1)


def no_contraception(b: Builder, patient):
    """Confirmation test and visit yesterday, but contraception not confirmed."""
    b.baseline(patient, on=-10, can=True)
    b.test(patient, "screening", -30)
    b.test(patient, "confirmation", -1)
    b.visit(patient, -1)


def confirmation_missing(b: Builder, patient):
    """Contraception confirmed and the visit done yesterday, but no confirmation test."""
    b.baseline(patient, on=-11, can=True)
    b.test(patient, "screening", -26)
    b.contraception(patient, on=-1, started=-70)
    b.visit(patient, -1)


def positive_test(b: Builder, patient):
    b.baseline(patient, on=-40, can=True)
    b.test(patient, "screening", -30, result="positive")


def mood_review(b: Builder, patient):
    """Ready, then a visit yesterday with PHQ-9 12 and item 9 answered 1."""
    ready_first_prescription(b, patient, confirmation_on=-2)
    b.visit(patient, -1, phq2=4, phq9=12, item9=1)


def mismatch(b: Builder, patient):
    """Ready, then the patient named other methods than staff confirmed."""
    ready_first_prescription(b, patient, confirmation_on=-2)
    b.contraception(
        patient, on=-1, started=-70, source="patient", methods=("implant", "male_condom")
    )


def newly_enrolled(b: Builder, patient):
    """Only the information consent, signed today."""
    b.consent(patient, "patient_information", 0)


def cannot_ready(b: Builder, patient):
    """A patient who cannot get pregnant, every check for a first prescription done."""
    b.baseline(patient, on=-10, can=False)
    b.visit(patient, -1)


def locked_out(b: Builder, patient):
    """RS-2021: the first window closed unused 12 days ago, so locked out for 19 more days."""
    b.baseline(patient, on=-20, can=True)
    b.test(patient, "screening", -35)
    b.contraception(patient, on=-12, started=-70)
    b.test(patient, "confirmation", -12)
    b.visit(patient, -12)
