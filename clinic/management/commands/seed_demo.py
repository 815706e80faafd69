"""Create a demo clinic with three users and synthetic patients in every gate state.

Idempotent: users and the clinic are created once; a patient whose demo MRN exists is skipped,
so running it twice gives the same data.
"""

import os
import random
import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from clinic.demo import Builder, build_patient
from clinic.models import Clinic, Membership
from patients.models import Patient

DEMO_CLINIC = "Demo Dermatology"
DEMO_USERS = (("clinician", "clinician"), ("staff", "staff"), ("clinic_admin", "clinic_admin"))


class Command(BaseCommand):
    help = "Create a demo clinic with clinician, staff and clinic_admin users and patients."

    def add_arguments(self, parser):
        parser.add_argument("--patients", type=int, default=36)
        parser.add_argument(
            "--once", action="store_true", help="Do nothing if the demo clinic already exists."
        )

    def handle(self, *args, patients: int, once: bool, **options):
        if once and Clinic.objects.filter(name=DEMO_CLINIC).exists():
            self.stdout.write(
                "Demo clinic already seeded. Logins: clinician, staff, clinic_admin "
                "(password from DEMO_PASSWORD or printed at first seeding)."
            )
            return
        password = os.environ.get("DEMO_PASSWORD")
        generated = not password
        password = password or secrets.token_urlsafe(9)
        with transaction.atomic():
            clinic, _ = Clinic.objects.get_or_create(
                name=DEMO_CLINIC,
                defaults={"contact_phone": "555-0100", "contact_email": "frontdesk@example.org"},
            )
            users = {}
            User = get_user_model()
            for username, role in DEMO_USERS:
                user, created = User.objects.get_or_create(
                    username=username, defaults={"email": f"{username}@example.org"}
                )
                if created:
                    user.set_password(password)
                    user.save()
                Membership.objects.get_or_create(user=user, clinic=clinic, defaults={"role": role})
                users[role] = (user, created)
        builder = Builder(clinic, users["clinician"][0], users["staff"][0], clinic.today())
        rng = random.Random(20261126)
        made = 0
        existing = set(Patient.objects.filter(clinic=clinic).values_list("mrn", flat=True))
        for index in range(1, patients + 1):
            rng_state = random.Random(rng.random())
            if f"DEMO-{index:04d}" in existing:
                continue
            with transaction.atomic():
                build_patient(builder, index, rng_state)
            made += 1
        self.stdout.write(
            self.style.SUCCESS(
                f"{DEMO_CLINIC}: {made} patients created, "
                f"{Patient.objects.filter(clinic=clinic).count()} in all."
            )
        )
        if any(created for _, created in users.values()):
            shown = password if generated else "the value of DEMO_PASSWORD"
            self.stdout.write(f"Demo logins: clinician, staff, clinic_admin — password: {shown}")
