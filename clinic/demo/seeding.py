"""Synthetic demo patients, each built through the services in one gate state.

Every date is relative to the clinic's today, so the demo is alive whenever it is seeded.
All names and numbers are invented.
"""

import base64
import binascii
import datetime
import os
import random
import time
from collections import defaultdict
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.db import transaction
from django_otp.plugins.otp_totp.models import TOTPDevice

from clinic.core.models import Membership
from monitoring import enrollment
from monitoring import services as monitoring
from monitoring.models import Course, LabResult, Prescription, Visit
from monitoring.rules.labs import LAB_TYPES
from monitoring.services import VISIT_FIELDS
from patients import services as patients
from patients.models import Consent, ContraceptionConfirmation, Patient, PregnancyTest

# Each demo clinic has users of its own (docs/domain.md section 8): (username, role).
DEMO_USERS = (("clinician", "clinician"), ("staff", "staff"), ("clinic_admin", "clinic_admin"))
LEGACY_USERS = (
    ("legacy_clinician", "clinician"),
    ("legacy_staff", "staff"),
    ("legacy_admin", "clinic_admin"),
)
ALL_DEMO_USERNAMES = {username for username, _ in DEMO_USERS + LEGACY_USERS}


DEMO_DEVICE_NAME = "Demo authenticator"


def demo_totp_secret() -> str | None:
    """The base32 key every demo clinician and admin sets up at the first login: from
    DEMO_TOTP_SECRET, else the one an earlier seeding chose, else None (a new random one)."""
    secret = os.environ.get("DEMO_TOTP_SECRET", "").strip().upper().replace(" ", "")
    if secret:
        return secret
    device = TOTPDevice.objects.filter(name=DEMO_DEVICE_NAME).order_by("pk").first()
    return base64.b32encode(device.bin_key).decode() if device else None


def demo_second_factor(users) -> str:
    """An unconfirmed authenticator device with one known key for each demo user who needs a
    second factor, so the set-up page at the first login shows the key the seeding printed.
    A user who has a device already (set up, or being set up) keeps it."""
    secret = demo_totp_secret()
    if secret is None:
        key = os.urandom(20)
        secret = base64.b32encode(key).decode()
    else:
        try:
            key = base64.b32decode(secret + "=" * (-len(secret) % 8))
        except binascii.Error:
            raise ValueError("DEMO_TOTP_SECRET must be base32 (A-Z, 2-7).") from None
    for user in users:
        if not TOTPDevice.objects.filter(user=user).exists():
            TOTPDevice.objects.create(
                user=user, name=DEMO_DEVICE_NAME, confirmed=False, key=key.hex()
            )
    return secret


def demo_users(clinic, accounts, password: str) -> tuple[dict, bool]:
    """The clinic's demo users by role, created once, members of this clinic only.

    An older seeding made every demo user a member of both demo clinics; those extra
    memberships are removed, so a demo user never crosses clinics.
    """
    User = get_user_model()
    users, created_any = {}, False
    for username, role in accounts:
        user, created = User.objects.get_or_create(
            username=username, defaults={"email": f"{username}@example.org"}
        )
        if created:
            user.set_password(password)
            user.save()
            created_any = True
        Membership.objects.get_or_create(user=user, clinic=clinic, defaults={"role": role})
        Membership.objects.filter(user=user).exclude(clinic=clinic).delete()
        users[role] = user
    return users, created_any


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


class Builder:
    """Puts a patient in a state through the services, as staff would (validated, audited)."""

    def __init__(self, clinic, clinician, staff, today: datetime.date, mrn_prefix: str = "DEMO"):
        self.mrn_prefix = mrn_prefix
        self.clinic, self.clinician, self.staff, self.today = clinic, clinician, staff, today

    def day(self, offset: int) -> datetime.date:
        return self.today + datetime.timedelta(days=offset)

    def enrollment_data(self, index: int, rng: random.Random, *, can: bool, enrolled: int):
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
            "risk_category": "can_get_pregnant" if can else "cannot_get_pregnant",
            "risk_category_reason": "Assessed at enrollment",
            "enrolled_on": self.day(enrolled),
            "home_tests_allowed": False,
        }

    def enroll(self, index: int, rng: random.Random, *, can: bool, enrolled: int):
        data = self.enrollment_data(index, rng, can=can, enrolled=enrolled)
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
        self.consent(patient, "patient_information", on)
        if can:
            self.consent(patient, "birth_defects", on)
        for kind, value, unit in BASELINE_LABS:
            self.lab(patient, kind, on, value, unit)

    def test_data(self, kind: str, on: int, result: str = "negative") -> dict:
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
        return self.record_visit(patient, data)

    def record_visit(self, patient, data: dict):
        return monitoring.record_visit(
            patient, by=self.clinician, may_confirm_counseling=True, data=data
        )

    def prescribe(self, patient, on: int, *, dose: str = "40", dispensed: int | None = None):
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


def ready_first_prescription(b: Builder, patient, *, confirmation_on: int = -1):
    """can_get_pregnant, every check done; the window closes confirmation_on + 6."""
    b.baseline(patient, on=confirmation_on - 10, can=True)
    b.test(patient, "screening", confirmation_on - 25)
    b.contraception(patient, on=confirmation_on, started=-70)
    b.test(patient, "confirmation", confirmation_on)
    b.visit(patient, confirmation_on)


def scenario_ready(b, patient):
    ready_first_prescription(b, patient, confirmation_on=-1)


def scenario_window_closing(b, patient):
    ready_first_prescription(b, patient, confirmation_on=-5)


def scenario_in_treatment(b, patient):
    ready_first_prescription(b, patient, confirmation_on=-33)
    b.prescribe(patient, -33, dispensed=-32)
    b.test(patient, "monthly", -3)
    b.contraception(patient, on=-3, started=-70)
    b.visit(patient, -3, next_visit=27)
    b.prescribe(patient, -3, dispensed=-2)


def scenario_monthly_due(b, patient):
    ready_first_prescription(b, patient, confirmation_on=-30)
    b.prescribe(patient, -30, dispensed=-29)


def scenario_no_contraception(b, patient):
    b.baseline(patient, on=-10, can=True)
    b.test(patient, "screening", -30)
    b.test(patient, "confirmation", -1)
    b.visit(patient, -1)


def scenario_positive_test(b, patient):
    b.baseline(patient, on=-40, can=True)
    b.test(patient, "screening", -30, result="positive")


def scenario_mood_review(b, patient):
    ready_first_prescription(b, patient, confirmation_on=-2)
    b.visit(patient, -1, phq2=4, phq9=12, item9=1)


def scenario_mood_screen_incomplete(b, patient):
    ready_first_prescription(b, patient, confirmation_on=-2)
    b.visit(patient, -1, phq2=3)


def scenario_new(b, patient):
    b.consent(patient, "patient_information", 0)


def scenario_cannot_in_treatment(b, patient):
    b.baseline(patient, on=-40, can=False)
    b.visit(patient, -31)
    b.prescribe(patient, -31, dispensed=-30)
    b.visit(patient, -2, next_visit=28)


def scenario_cannot_ready(b, patient):
    b.baseline(patient, on=-10, can=False)
    b.visit(patient, -1)


def scenario_ended(b, patient):
    scenario_in_treatment(b, patient)
    b.end_treatment(patient, -1)


def scenario_too_early(b, patient):
    """The confirmation test came 10 days after the screening test, not 19."""
    b.baseline(patient, on=-11, can=True)
    b.test(patient, "screening", -11)
    b.contraception(patient, on=-1, started=-70)
    b.test(patient, "confirmation", -1)
    b.visit(patient, -1)


def scenario_home_confirmation(b, patient):
    """A home confirmation test before the first dispense: RS-2026 wants a medical setting."""
    b.baseline(patient, on=-11, can=True)
    b.test(patient, "screening", -26)
    b.contraception(patient, on=-1, started=-70)
    b.home_test(patient, "confirmation", -1)
    b.visit(patient, -1)


def scenario_mismatch(b, patient):
    ready_first_prescription(b, patient, confirmation_on=-2)
    b.contraception(
        patient, on=-1, started=-70, source="patient", methods=("implant", "male_condom")
    )


def scenario_comprehension_missing(b, patient):
    b.baseline(patient, on=-11, can=True)
    b.test(patient, "screening", -26)
    b.contraception(patient, on=-1, started=-70)
    b.test(patient, "confirmation", -1)
    b.visit(patient, -1, comprehension=False)


def scenario_counseling_missing(b, patient):
    b.baseline(patient, on=-11, can=False)
    b.visit(patient, -1, counseling=False)


def scenario_visit_missing(b, patient):
    b.baseline(patient, on=-11, can=True)
    b.test(patient, "screening", -26)
    b.contraception(patient, on=-1, started=-70)
    b.test(patient, "confirmation", -1)


def scenario_confirmation_missing(b, patient):
    b.baseline(patient, on=-11, can=True)
    b.test(patient, "screening", -26)
    b.contraception(patient, on=-1, started=-70)
    b.visit(patient, -1)


def scenario_monthly_test_missing(b, patient):
    ready_first_prescription(b, patient, confirmation_on=-30)
    b.prescribe(patient, -30, dispensed=-29)
    b.contraception(patient, on=-1, started=-70)
    b.visit(patient, -1, next_visit=28)


def scenario_locked_out(b, patient):
    """RS-2021: the first window closed unused 12 days ago: locked out for 19 days."""
    b.baseline(patient, on=-20, can=True)
    b.test(patient, "screening", -35)
    b.contraception(patient, on=-12, started=-70)
    b.test(patient, "confirmation", -12)
    b.visit(patient, -12)


SCENARIOS = [
    # (name, can get pregnant, enrolled days ago, builder)
    ("ready", True, -45, scenario_ready),
    ("window_closing", True, -45, scenario_window_closing),
    ("in_treatment", True, -80, scenario_in_treatment),
    ("monthly_test_due", True, -80, scenario_monthly_due),
    ("contraception_unconfirmed", True, -45, scenario_no_contraception),
    ("pregnancy_test_positive", True, -45, scenario_positive_test),
    ("mood_review_required", True, -45, scenario_mood_review),
    ("mood_screen_incomplete", True, -45, scenario_mood_screen_incomplete),
    ("newly_enrolled", True, 0, scenario_new),
    ("cannot_in_treatment", False, -45, scenario_cannot_in_treatment),
    ("cannot_ready", False, -45, scenario_cannot_ready),
    ("ended", True, -80, scenario_ended),
    ("confirmation_test_too_early", True, -45, scenario_too_early),
    ("test_setting_not_allowed", True, -45, scenario_home_confirmation),
    ("contraception_mismatch", True, -45, scenario_mismatch),
    ("comprehension_incomplete", True, -45, scenario_comprehension_missing),
    ("counseling_unconfirmed", False, -45, scenario_counseling_missing),
    ("visit_missing", True, -45, scenario_visit_missing),
    ("confirmation_test_missing", True, -45, scenario_confirmation_missing),
    ("pregnancy_test_missing", True, -80, scenario_monthly_test_missing),
]

# A second demo clinic that has not yet moved to RS-2026 (a clinic setting), to show the
# RS-2021 rules: a ready patient, a locked-out one, one in treatment.
LEGACY_SCENARIOS = [
    ("rs2021_ready", True, -45, scenario_ready),
    ("rs2021_lockout_active", True, -45, scenario_locked_out),
    ("rs2021_in_treatment", True, -80, scenario_in_treatment),
    ("rs2021_cannot_ready", False, -45, scenario_cannot_ready),
]


def build_patient(b: Builder, index: int, rng: random.Random, scenarios=SCENARIOS):
    name, can, enrolled, build = scenarios[(index - 1) % len(scenarios)]
    patient = b.enroll(index, rng, can=can, enrolled=enrolled)
    build(b, patient)
    return name, patient


class BulkBuilder(Builder):
    """The same scenarios as rows in memory, inserted by `flush()` with one bulk_create per
    record type: for large demo clinics (benchmarks), where the services' per-record checks,
    locks and audit would take most of the time.

    It writes exactly the fields the services write (the same dates, the same people), so each
    patient lands in the state the scenario gives through the services
    (tests/clinic/test_seed_demo.py compares the rules' answers); no audit events are written
    for these synthetic rows.
    """

    BATCH = 2000

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.target = self.clinic.default_target_mg_per_kg
        self.reset()

    def reset(self) -> None:
        self.patients: list[Patient] = []
        self.courses: dict[int, Course] = {}  # id(patient) -> its course
        self.rows: dict[type, list] = defaultdict(list)
        self.prescriptions: list[Prescription] = []
        self.home_tests: list[PregnancyTest] = []
        self.prescribed: dict[int, int] = defaultdict(int)

    def enroll(self, index: int, rng: random.Random, *, can: bool, enrolled: int):
        data = self.enrollment_data(index, rng, can=can, enrolled=enrolled)
        patient = Patient(
            clinic=self.clinic,
            created_by=self.staff,
            risk_category_set_on=data["enrolled_on"],
            **data,
        )
        self.patients.append(patient)
        self.courses[id(patient)] = Course(
            patient=patient,
            opened_on=patient.enrolled_on,
            target_mg_per_kg=self.target,
            recorded_by=self.staff,
        )
        return patient

    def consent(self, patient, kind: str, on: int):
        self.rows[Consent].append(
            Consent(patient=patient, kind=kind, signed_on=self.day(on), recorded_by=self.staff)
        )

    def lab(self, patient, kind: str, on: int, value: str, unit: str):
        self.rows[LabResult].append(
            LabResult(
                patient=patient,
                kind=kind,
                collected_on=self.day(on),
                value=Decimal(value),
                unit=unit,
                recorded_by=self.staff,
            )
        )

    def test(self, patient, kind: str, on: int, result: str = "negative"):
        test = PregnancyTest(
            patient=patient,
            recorded_by=self.staff,
            verified_by=self.staff,
            **self.test_data(kind, on, result),
        )
        self.rows[PregnancyTest].append(test)
        return test

    def home_test(self, patient, kind: str, on: int):
        data = self.home_test_data(kind, on)
        data.pop("evidence")  # stored in flush(), once the patient has an id for its path
        test = self.test(patient, kind, on)
        for field, value in data.items():
            setattr(test, field, value)
        self.home_tests.append(test)
        return test

    def contraception(
        self, patient, on: int, started: int, source: str = "staff", methods=("iud", "male_condom")
    ):
        self.rows[ContraceptionConfirmation].append(
            ContraceptionConfirmation(
                patient=patient,
                confirmed_on=self.day(on),
                source=source,
                methods=sorted(methods),
                abstinence=False,
                started_on=self.day(started),
                recorded_by=self.staff if source == "staff" else None,
            )
        )

    def record_visit(self, patient, data: dict):
        fields = {name: data[name] for name in VISIT_FIELDS if data.get(name) is not None}
        visit = Visit(patient=patient, recorded_by=self.clinician, **fields)
        self.rows[Visit].append(visit)
        return visit

    def prescribe(self, patient, on: int, *, dose: str = "40", dispensed: int | None = None):
        self.prescribed[id(patient)] += 1
        prescription = Prescription(
            patient=patient,
            course=self.courses[id(patient)],
            written_on=self.day(on),
            daily_dose_mg=Decimal(dose),
            days_supply=30,
            recorded_by=self.clinician,
        )
        if dispensed is not None:
            prescription.dispensed_on = self.day(dispensed)
            prescription.rma_number = f"{len(self.prescriptions) + 1:09d}"
        self.prescriptions.append(prescription)
        return prescription

    def end_treatment(self, patient, last_dose: int):
        course = self.courses[id(patient)]
        course.last_dose_on = self.day(last_dose)
        course.ended_by = self.clinician

    def flush(self) -> int:
        """Insert everything built since the last flush, in one transaction. Returns the number
        of patients inserted."""
        count = len(self.patients)
        with transaction.atomic():
            Patient.objects.bulk_create(self.patients, batch_size=self.BATCH)
            Course.objects.bulk_create(list(self.courses.values()), batch_size=self.BATCH)
            evidence = PregnancyTest._meta.get_field("evidence")
            for test in self.home_tests:
                name = evidence.generate_filename(test, "readout.png")
                test.evidence.name = evidence.storage.save(name, ContentFile(HOME_READOUT))
            for model, rows in self.rows.items():
                model.objects.bulk_create(rows, batch_size=self.BATCH)
            Prescription.objects.bulk_create(self.prescriptions, batch_size=self.BATCH)
        self.reset()
        return count


def bulk_seed(
    b: BulkBuilder, indices, rngs, scenarios=SCENARIOS, *, chunk: int = 1000, report=None
):
    """Build the patients of `indices` (with their `rngs`) as `build_patient` would, and insert
    them `chunk` patients at a time. `report(done, seconds)` is told after each chunk."""
    done, started = 0, time.perf_counter()
    for index, rng in zip(indices, rngs, strict=True):
        build_patient(b, index, rng, scenarios)
        if len(b.patients) >= chunk:
            done += b.flush()
            if report:
                report(done, time.perf_counter() - started)
    if b.patients:
        done += b.flush()
        if report:
            report(done, time.perf_counter() - started)
    return done
