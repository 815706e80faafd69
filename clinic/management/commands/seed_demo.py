"""Create demo clinics with three users and synthetic patients in every gate state.

Idempotent: users and clinics are created once; a patient whose demo MRN exists is skipped,
so running it twice gives the same data. A second, smaller clinic still judged by RS-2021 (its
RS-2026 effective date is a year ahead, a clinic setting) shows the lockout.
"""

import datetime
import os
import random
import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from clinic.demo import LEGACY_SCENARIOS, SCENARIOS, Builder, build_patient
from clinic.models import Clinic, Membership
from patients.models import Patient

DEMO_CLINIC = "Demo Dermatology"
LEGACY_CLINIC = "Demo Dermatology (RS-2021 rules)"
DEMO_USERS = (("clinician", "clinician"), ("staff", "staff"), ("clinic_admin", "clinic_admin"))


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
                "Demo clinic already seeded. Logins: clinician, staff, clinic_admin "
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
            users, created_any = self.users(password, [clinic, legacy])
        self.patients(clinic, users, "DEMO", patients, SCENARIOS)
        self.patients(legacy, users, "LEG", len(LEGACY_SCENARIOS), LEGACY_SCENARIOS)
        if created_any:
            shown = "the value of DEMO_PASSWORD" if os.environ.get("DEMO_PASSWORD") else password
            self.stdout.write(f"Demo logins: clinician, staff, clinic_admin — password: {shown}")

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

    def users(self, password: str, clinics: list[Clinic]):
        User = get_user_model()
        users, created_any = {}, False
        for username, role in DEMO_USERS:
            user, created = User.objects.get_or_create(
                username=username, defaults={"email": f"{username}@example.org"}
            )
            if created:
                user.set_password(password)
                user.save()
                created_any = True
            for clinic in clinics:
                Membership.objects.get_or_create(user=user, clinic=clinic, defaults={"role": role})
            users[role] = user
        return users, created_any

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
