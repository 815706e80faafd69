"""The demo clinics: their users, and a table of synthetic patients, one per gate state,
put in that state by the builder the tests use too (demo/states.py).

Every date is relative to the clinic's today, so the demo is alive whenever it is seeded.
All names and numbers are invented.
"""

import base64
import binascii
import os
import random
import time
from collections import defaultdict
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.db import transaction
from django_otp.plugins.otp_totp.models import TOTPDevice

from clinic.models import Membership
from demo import states
from demo.states import HOME_READOUT, Builder
from monitoring.models import Course, LabResult, Prescription, Visit
from monitoring.services import VISIT_FIELDS
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


SCENARIOS = [
    # (name, can get pregnant, enrolled days ago, builder)
    ("ready", True, -45, states.ready),
    ("window_closing", True, -45, states.window_closing),
    ("in_treatment", True, -80, states.in_treatment),
    ("monthly_test_due", True, -80, states.monthly_due),
    ("contraception_unconfirmed", True, -45, states.no_contraception),
    ("pregnancy_test_positive", True, -45, states.positive_test),
    ("mood_review_required", True, -45, states.mood_review),
    ("mood_screen_incomplete", True, -45, states.mood_screen_incomplete),
    ("newly_enrolled", True, 0, states.newly_enrolled),
    ("cannot_in_treatment", False, -45, states.cannot_in_treatment),
    ("cannot_ready", False, -45, states.cannot_ready),
    ("ended", True, -80, states.ended),
    ("confirmation_test_too_early", True, -45, states.confirmation_too_early),
    ("test_setting_not_allowed", True, -45, states.home_confirmation),
    ("contraception_mismatch", True, -45, states.mismatch),
    ("comprehension_incomplete", True, -45, states.comprehension_missing),
    ("counseling_unconfirmed", False, -45, states.counseling_missing),
    ("visit_missing", True, -45, states.visit_missing),
    ("confirmation_test_missing", True, -45, states.confirmation_missing),
    ("pregnancy_test_missing", True, -80, states.monthly_test_missing),
]

# A second demo clinic that has not yet moved to RS-2026 (a clinic setting), to show the
# RS-2021 rules: a ready patient, a locked-out one, one in treatment.
LEGACY_SCENARIOS = [
    ("rs2021_ready", True, -45, states.ready),
    ("rs2021_lockout_active", True, -45, states.locked_out),
    ("rs2021_in_treatment", True, -80, states.in_treatment),
    ("rs2021_cannot_ready", False, -45, states.cannot_ready),
]


def build_patient(b: Builder, index: int, rng: random.Random, scenarios=SCENARIOS):
    name, can, enrolled, build = scenarios[(index - 1) % len(scenarios)]
    patient = b.enroll(can=can, enrolled=enrolled, **b.invented_person(index, rng))
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

    def enroll(self, *, can: bool = True, enrolled: int = -45, **person):
        data = self.enrollment_data(can=can, enrolled=enrolled, **person)
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
