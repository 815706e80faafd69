"""Create demo clinics, each with three users of its own, and synthetic patients in every
gate state.

Idempotent: users and clinics are created once; a patient whose demo MRN exists is skipped,
so running it twice gives the same data. Patients are built through the services (validated
and audited, as staff would enter them); for more than BULK_ABOVE new patients, or with
--bulk, the same scenarios are bulk-inserted a thousand patients at a time (demo/seeding.py,
BulkBuilder), which `seed_demo --patients 100000` needs, and the time per 1,000 is printed.
A second, smaller clinic still judged by RS-2021 (its RS-2026 effective date is a year ahead,
a clinic setting) shows the lockout.
"""

import datetime
import os
import random
import secrets

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction

from clinic.models import Clinic
from demo.seeding import (
    DEMO_USERS,
    LEGACY_SCENARIOS,
    LEGACY_USERS,
    SCENARIOS,
    BulkBuilder,
    build_patient,
    bulk_seed,
    demo_second_factor,
    demo_totp_secret,
    demo_users,
)
from demo.states import Builder
from monitoring import kept
from patients.models import Patient

DEMO_CLINIC = "Demo Dermatology"
LEGACY_CLINIC = "Demo Dermatology (RS-2021 rules)"

# More new patients than this are bulk-inserted (seconds instead of minutes per thousand).
BULK_ABOVE = 500

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
        parser.add_argument(
            "--bulk",
            action="store_true",
            help=f"Bulk-insert the patients (no audit events); the default above {BULK_ABOVE}.",
        )

    def handle(self, *args, patients: int, once: bool, **options):
        # Demo users with a known authenticator key (and a printed password) must never reach a
        # clinic's database: only a development server (DJANGO_DEBUG=true) or the tests seed.
        if not settings.DEBUG and not settings.TESTING:
            raise CommandError(
                "seed_demo refuses to run in production (DJANGO_DEBUG is not true): demo users "
                "have a known password and authenticator key. Create a real clinic with "
                "docs/deploy.md instead."
            )
        self.bulk = options.get("bulk", False)
        if once and Clinic.objects.filter(name=DEMO_CLINIC).exists():
            self.stdout.write(
                f"Demo clinic already seeded. Logins: {LOGINS} "
                "(password from DEMO_PASSWORD or printed at the first seeding)."
            )
            self.second_factor_note(demo_totp_secret())
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
            secret = demo_second_factor(
                [users["clinician"], users["clinic_admin"]]
                + [legacy_users["clinician"], legacy_users["clinic_admin"]]
            )
        self.patients(clinic, users, "DEMO", patients, SCENARIOS)
        self.patients(legacy, legacy_users, "LEG", len(LEGACY_SCENARIOS), LEGACY_SCENARIOS)
        if created_demo or created_legacy:
            shown = "the value of DEMO_PASSWORD" if os.environ.get("DEMO_PASSWORD") else password
            self.stdout.write(f"Demo logins: {LOGINS} — password: {shown}")
        self.second_factor_note(secret)

    def second_factor_note(self, secret: str | None) -> None:
        if secret is None:
            return
        self.stdout.write(
            "Second factor (clinicians and clinic admins): at the first login, add this key to "
            f"an authenticator app (the page shows it as a QR code too): {secret}\n"
            f"  or, without an app: oathtool --totp -b {secret}   "
            "(DJANGO_DEBUG=true DEMO_OTP=off turns it off for scripted demos)"
        )

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
        existing = set(Patient.objects.filter(clinic=clinic).values_list("mrn", flat=True))
        rng = random.Random(f"{prefix}-20261126")  # nosec B311  # synthetic demo data, repeatable
        missing = []  # (index, its own random generator): drawn for every index, so a rerun
        for index in range(1, count + 1):  # gives each patient the same data
            patient_rng = random.Random(rng.random())  # nosec B311  # synthetic demo data
            if f"{prefix}-{index:04d}" not in existing:
                missing.append((index, patient_rng))
        today = clinic.today()
        if missing and (self.bulk or len(missing) > BULK_ABOVE):
            builder = BulkBuilder(clinic, users["clinician"], users["staff"], today, prefix)
            made = bulk_seed(
                builder,
                [index for index, _ in missing],
                [patient_rng for _, patient_rng in missing],
                scenarios,
                report=lambda done, seconds: self.stdout.write(
                    f"  {clinic}: {done:,} patients in {seconds:.1f} s "
                    f"({seconds * 1000 / done:.2f} s per 1,000)"
                ),
            )
            refresh_triage(clinic, today)
            analyze_after_bulk_load()
        else:
            builder = Builder(clinic, users["clinician"], users["staff"], today, prefix)
            for index, patient_rng in missing:
                with transaction.atomic():
                    build_patient(builder, index, patient_rng, scenarios)
            made = len(missing)
        total = Patient.objects.filter(clinic=clinic).count()
        self.stdout.write(self.style.SUCCESS(f"{clinic}: {made} patients created, {total} in all."))


def refresh_triage(clinic, on) -> None:
    """Bulk rows bypass the services that keep each patient's triage rows: prepare the clinic's
    rows for today and tomorrow in one pass each (docs/clinic-day.md, "Kept rows")."""
    for day in (on, on + datetime.timedelta(days=1)):
        kept.prepare(clinic, day)


def analyze_after_bulk_load() -> None:
    """After a bulk load PostgreSQL's statistics describe the empty tables until autovacuum gets
    round to them, and its plans for Today and the patient list are made for those: refresh the
    statistics now, as PostgreSQL's documentation advises after populating a database."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
