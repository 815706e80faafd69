"""Create demo clinics, each with three users of its own, and synthetic patients in every
gate state.

Idempotent: users and clinics are created once; a patient whose demo MRN exists is skipped,
so running it twice gives the same data. A second, smaller clinic still judged by RS-2021 (its
RS-2026 effective date is a year ahead, a clinic setting) shows the lockout.
"""

import datetime
import os
import random
import secrets

from django.core.management.base import BaseCommand
from django.db import transaction

from clinic.demo import (
    DEMO_USERS,
    LEGACY_SCENARIOS,
    LEGACY_USERS,
    SCENARIOS,
    Builder,
    build_patient,
    demo_users,
)
from clinic.models import Clinic
from patients.models import Patient

DEMO_CLINIC = "Demo Dermatology"
LEGACY_CLINIC = "Demo Dermatology (RS-2021 rules)"

LOGINS = (
    f"{', '.join(name for name, _ in DEMO_USERS)} ({DEMO_CLINIC}); "
    f"{', '.join(name for name, _ in LEGACY_USERS)} ({LEGACY_CLINIC})"
)


class Command(BaseCommand):
    help = "Create demo clinics with clinician, staff and clinic_admin users and patients."

    def add_arguments(self, parser):
        parser.add_argument("--patients", type=int, default=36)
        parser.add_argument(
            "--once", action="store_true", help="Do nothing if the demo clinic already exists."
        )

    def handle(self, *args, patients: int, once: bool, **options):
        if once and Clinic.objects.filter(name=DEMO_CLINIC).exists():
            self.stdout.write(
                f"Demo clinic already seeded. Logins: {LOGINS} "
                "(password from DEMO_PASSWORD or printed at the first seeding)."
            )
            return
        password = os.environ.get("DEMO_PASSWORD") or secrets.token_urlsafe(9)
        with transaction.atomic():
            clinic = self.clinic(DEMO_CLINIC)
            legacy = self.clinic(
                LEGACY_CLINIC,
                rs2026_effective_on=clinic.today() + datetime.timedelta(days=365),
            )
            users, created_demo = demo_users(clinic, DEMO_USERS, password)
            legacy_users, created_legacy = demo_users(legacy, LEGACY_USERS, password)
        self.patients(clinic, users, "DEMO", patients, SCENARIOS)
        self.patients(legacy, legacy_users, "LEG", len(LEGACY_SCENARIOS), LEGACY_SCENARIOS)
        if created_demo or created_legacy:
            shown = "the value of DEMO_PASSWORD" if os.environ.get("DEMO_PASSWORD") else password
            self.stdout.write(f"Demo logins: {LOGINS} — password: {shown}")

    def clinic(self, name: str, **extra) -> Clinic:
        clinic, _ = Clinic.objects.get_or_create(
            name=name,
            defaults={
                "contact_phone": "555-0100",
                "contact_email": "frontdesk@example.org",
                **extra,
            },
        )
        return clinic

    def patients(self, clinic, users, prefix: str, count: int, scenarios) -> None:
        builder = Builder(clinic, users["clinician"], users["staff"], clinic.today(), prefix)
        existing = set(Patient.objects.filter(clinic=clinic).values_list("mrn", flat=True))
        rng = random.Random(f"{prefix}-20261126")
        made = 0
        for index in range(1, count + 1):
            patient_rng = random.Random(rng.random())
            if f"{prefix}-{index:04d}" in existing:
                continue
            with transaction.atomic():
                build_patient(builder, index, patient_rng, scenarios)
            made += 1
        total = Patient.objects.filter(clinic=clinic).count()
        self.stdout.write(self.style.SUCCESS(f"{clinic}: {made} patients created, {total} in all."))
