"""Patients in a state, built through the services as staff would: one builder for the demo
clinic (`manage.py seed_demo`, demo/seeding.py) and for the tests (tests/builders.py
re-exports this module), so the states the demo shows are the states the tests check.

`Builder` records one thing at a time (a consent, a test, a visit, a prescription) through
patients.services and monitoring.services, dated in days from the clinic's today; the functions
below it put an enrolled patient in a named state with those steps. The rules each state meets
are in docs/domain.md. All names and numbers are invented.
"""

import datetime
import itertools
import random
from collections.abc import Iterable
from decimal import Decimal

from django.core.files.base import ContentFile

from monitoring import enrollment
from monitoring import services as monitoring
from patients import services as patients
from rules.labs import LAB_TYPES

GIVEN = [
    "Avery",
    "Blake",
    "Casey",
    "Devon",
    "Emery",
    "Finley",
    "Harper",
    "Jordan",
    "Kai",
    "Logan",
    "Morgan",
    "Noel",
    "Parker",
    "Quinn",
    "Reese",
    "Riley",
    "Rowan",
    "Sage",
    "Skyler",
    "Taylor",
]
FAMILY = [
    "Ashdown",
    "Brightwater",
    "Calloway",
    "Dunmore",
    "Ellery",
    "Fairbanks",
    "Greenleaf",
    "Hollis",
    "Ingram",
    "Jessup",
    "Kingsley",
    "Lockhart",
    "Merriweather",
    "Northcott",
    "Oakes",
    "Pembrook",
    "Quayle",
    "Redford",
    "Stanhope",
    "Thorne",
]

# An ordinary value of each baseline lab, in its usual unit (the registry's, rules/labs.py).
BASELINE_VALUES = {"triglycerides": "110", "total_cholesterol": "170", "alt": "22"}
BASELINE_LABS = tuple(
    (lab.kind, BASELINE_VALUES[lab.kind], lab.usual_unit)
    for lab in LAB_TYPES.values()
    if lab.baseline
)
# A 1x1 PNG: a home test's synthetic "photo" (evidence is told from its bytes: it must be an
# image or a PDF).
HOME_READOUT = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00"
    b"\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05"
    b"\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82"
)

# The person a patient is when the caller names nobody (the tests): one name for all, so a test
# can look for it, and an MRN of its own each (a clinic's MRNs are unique), from a counter no
# demo MRN (PREFIX-0001) or factory MRN (MRN100000) shares.
PLAIN_PERSON = {
    "given_name": "Alex",
    "family_name": "Example",
    "birth_date": datetime.date(2001, 5, 17),
    "email": "alex@example.org",
    "phone": "",
    "ipledge_id": "",
    "weight_kg": Decimal("60.0"),
}
_plain_mrns = (f"PLAIN-{number:06d}" for number in itertools.count(1))


class Builder:
    """Records for one clinic: staff record consents, labs, tests and contraception and
    dispense; the clinician records visits, writes prescriptions and ends treatment."""

    def __init__(
        self,
        clinic,
        clinician,
        staff,
        today: datetime.date | None = None,
        mrn_prefix: str = "DEMO",
    ):
        self.clinic, self.clinician, self.staff = clinic, clinician, staff
        self.today = today or clinic.today()
        self.mrn_prefix = mrn_prefix

    def day(self, offset: int) -> datetime.date:
        return self.today + datetime.timedelta(days=offset)

    def invented_person(self, index: int, rng: random.Random) -> dict:
        """Demo patient number `index`: a name, birth date and contact drawn from `rng` (the
        same `rng` state gives the same person, so a reseeding gives the same demo)."""
        given, family = rng.choice(GIVEN), rng.choice(FAMILY)
        return {
            "mrn": f"{self.mrn_prefix}-{index:04d}",
            "given_name": given,
            "family_name": family,
            "birth_date": datetime.date(
                1990 + rng.randrange(15), rng.randrange(1, 13), rng.randrange(1, 28)
            ),
            "email": f"{given.lower()}.{family.lower()}.{index}@example.org",
            "phone": f"555-01{index % 100:02d}",
            "ipledge_id": f"{rng.randrange(10**9, 10**10)}",
            "weight_kg": Decimal(rng.randrange(50, 95)),
        }

    def enrollment_data(self, *, can: bool = True, enrolled: int = -45, **person) -> dict:
        """The enrollment form's fields: `person` over the plain person, enrolled on day
        `enrolled`, who can get pregnant if `can` (unless `person` says otherwise)."""
        data = {
            **PLAIN_PERSON,
            "risk_category": "can_get_pregnant" if can else "cannot_get_pregnant",
            "risk_category_reason": "Assessed at enrollment",
            "enrolled_on": self.day(enrolled),
            "home_tests_allowed": False,
            **person,
        }
        data.setdefault("mrn", next(_plain_mrns))
        return data

    def enroll(self, *, can: bool = True, enrolled: int = -45, **person):
        data = self.enrollment_data(can=can, enrolled=enrolled, **person)
        return enrollment.enroll_patient(clinic=self.clinic, by=self.staff, data=data)

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

    def test_data(self, kind: str, on: int, result: str = "negative") -> dict:
        """A pregnancy test in a CLIA lab (serum for the screening test, urine otherwise)."""
        return {
            "kind": kind,
            "collected_on": self.day(on),
            "result": result,
            "setting": "medical",
            "clia_lab": True,
            "method": "serum" if kind == "screening" else "urine",
        }

    def test(self, patient, kind: str, on: int, result: str = "negative"):
        return patients.record_pregnancy_test(
            patient, by=self.staff, data=self.test_data(kind, on, result)
        )

    def home_test_data(self, kind: str, on: int) -> dict:
        return {
            **self.test_data(kind, on),
            "setting": "home",
            "clia_lab": False,
            "evidence": ContentFile(HOME_READOUT, name="readout.png"),
        }

    def home_test(self, patient, kind: str, on: int):
        return patients.record_pregnancy_test(
            patient, by=self.staff, data=self.home_test_data(kind, on)
        )

    def contraception(
        self,
        patient,
        on: int,
        started: int,
        source: str = "staff",
        methods: Iterable[str] = ("iud", "male_condom"),
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
        return self.record_visit(patient, data)

    def record_visit(self, patient, data: dict):
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


def monthly_test_missing(b: Builder, patient):
    """Monthly visit and contraception done yesterday, but no monthly pregnancy test."""
    monthly_due(b, patient)
    b.contraception(patient, on=-1, started=-70)
    b.visit(patient, -1, next_visit=28)


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


def visit_missing(b: Builder, patient):
    """Every test and contraception done yesterday, but no visit."""
    b.baseline(patient, on=-11, can=True)
    b.test(patient, "screening", -26)
    b.contraception(patient, on=-1, started=-70)
    b.test(patient, "confirmation", -1)


def confirmation_too_early(b: Builder, patient):
    """The confirmation test came 10 days after the screening test, not 19."""
    b.baseline(patient, on=-11, can=True)
    b.test(patient, "screening", -11)
    b.contraception(patient, on=-1, started=-70)
    b.test(patient, "confirmation", -1)
    b.visit(patient, -1)


def home_confirmation(b: Builder, patient):
    """A home confirmation test before the first dispense: RS-2026 wants a medical setting."""
    b.baseline(patient, on=-11, can=True)
    b.test(patient, "screening", -26)
    b.contraception(patient, on=-1, started=-70)
    b.home_test(patient, "confirmation", -1)
    b.visit(patient, -1)


def comprehension_missing(b: Builder, patient):
    """Ready but for the comprehension questions, not completed at yesterday's visit."""
    b.baseline(patient, on=-11, can=True)
    b.test(patient, "screening", -26)
    b.contraception(patient, on=-1, started=-70)
    b.test(patient, "confirmation", -1)
    b.visit(patient, -1, comprehension=False)


def positive_test(b: Builder, patient):
    b.baseline(patient, on=-40, can=True)
    b.test(patient, "screening", -30, result="positive")


def mood_review(b: Builder, patient):
    """Ready, then a visit yesterday with PHQ-9 12 and item 9 answered 1."""
    ready_first_prescription(b, patient, confirmation_on=-2)
    b.visit(patient, -1, phq2=4, phq9=12, item9=1)


def mood_screen_incomplete(b: Builder, patient):
    """Ready, then a visit yesterday whose PHQ-2 of 3 asks for a PHQ-9 nobody recorded."""
    ready_first_prescription(b, patient, confirmation_on=-2)
    b.visit(patient, -1, phq2=3)


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


def cannot_in_treatment(b: Builder, patient):
    """A patient who cannot get pregnant, first supply dispensed 30 days ago, visit booked."""
    b.baseline(patient, on=-40, can=False)
    b.visit(patient, -31)
    b.prescribe(patient, -31, dispensed=-30)
    b.visit(patient, -2, next_visit=28)


def counseling_missing(b: Builder, patient):
    """A patient who cannot get pregnant, seen yesterday without the counseling confirmed."""
    b.baseline(patient, on=-11, can=False)
    b.visit(patient, -1, counseling=False)


def locked_out(b: Builder, patient):
    """RS-2021: the first window closed unused 12 days ago, so locked out for 19 more days."""
    b.baseline(patient, on=-20, can=True)
    b.test(patient, "screening", -35)
    b.contraception(patient, on=-12, started=-70)
    b.test(patient, "confirmation", -12)
    b.visit(patient, -12)
