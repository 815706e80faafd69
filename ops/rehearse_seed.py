"""The seed and the counts of `make rehearse` (ops/rehearse.py), in the script's own process.

Only this process runs with the settings of a development server (DJANGO_DEBUG=true), to seed
and to read the reminder rows; every server it starts runs production settings.
"""

import datetime as dt
import os
from decimal import Decimal

from rehearse_stage import HOST, Rehearsal


def setup_django(stage: Rehearsal) -> None:
    os.environ.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DJANGO_DEBUG="true",  # for the seeding only; every server runs production settings
        # The servers' key: an API token made here keeps a hash keyed by it (api/auth.py).
        DJANGO_SECRET_KEY=stage.production["DJANGO_SECRET_KEY"],
        DATABASE_URL=stage.database_url,
        SITE_URL=stage.production["SITE_URL"],  # reminders' Message-IDs name its host
    )
    import django

    django.setup()


def seed(reminders: int, password: str, readers: int = 40) -> dict:
    """A clinic with no quiet hours and a send hour of midnight, so what is planned is due now
    (the fault tests' clinic): `reminders // 2` patients whose contraception staff have not
    confirmed after yesterday's test, two reminders each; `readers` patients who opted out of
    emails, whose pages the load reads and writes; four staff members."""
    from django.contrib.auth.models import User
    from django.utils import timezone

    from api.auth import issue_token
    from clinic.models import Clinic, Membership
    from monitoring.enrollment import enroll_patient
    from monitoring.models import Reminder
    from monitoring.reminders.emails import reminder_message_id
    from monitoring.reminders.planner import plan_clinic
    from patients import services
    from patients.models import Patient

    clinic = Clinic.objects.create(
        name="Rehearsal Clinic",
        time_zone="UTC",
        reminder_send_hour=0,
        quiet_hours_start=0,
        quiet_hours_end=0,
    )
    staff, tokens = [], []
    for index in range(4):
        user = User.objects.create_user(
            f"staff{index}", email=f"staff{index}@{HOST}", password=password
        )
        Membership.objects.create(user=user, clinic=clinic, role="staff")
        staff.append(user.username)
        # Each login through the form costs a password hash; the API's tokens are made here.
        tokens.append(issue_token(user, with_second_factor=False))  # staff need none
    by = User.objects.get(username="staff0")
    today = clinic.today()

    def enroll(index: int, email: str):
        return enroll_patient(
            clinic=clinic,
            by=by,
            data={
                "mrn": f"R{index:05d}",
                "given_name": "Sam",
                "family_name": f"Rehearsal{index}",
                "birth_date": dt.date(2001, 5, 17),
                "email": email,
                "weight_kg": Decimal("60.0"),
                "risk_category": "can_get_pregnant",
                "enrolled_on": today - dt.timedelta(days=40),
            },
        )

    for index in range(reminders // 2):
        patient = enroll(index, f"patient{index}@example.org")
        services.record_pregnancy_test(
            patient,
            by=by,
            data={
                "kind": "confirmation",
                "collected_on": today - dt.timedelta(days=1),
                "result": "negative",
                "setting": "medical",
                "clia_lab": True,
                "method": "urine",
            },
        )
    read = [enroll(100_000 + i, f"reader{i}@example.org").pk for i in range(readers)]
    Patient.objects.filter(pk__in=read).update(email_opt_out=True)  # no reminder of their own
    plan_clinic(clinic)
    due = Reminder.objects.filter(patient__clinic=clinic, send_at__lte=timezone.now())
    return {
        "staff": staff,
        "tokens": tokens,
        "password": password,
        "read_patients": read + list(due.values_list("patient_id", flat=True).distinct()[:40]),
        "write_patients": read,
        "due": {str(r.pk): reminder_message_id(r) for r in due},
    }


def reminder_rows() -> dict[int, tuple[str, bool]]:
    from django.db import connection

    from monitoring.models import Reminder

    rows = dict(
        (pk, (status, flagged))
        for pk, status, flagged in Reminder.objects.values_list(
            "pk", "status", "possible_duplicate"
        )
    )
    connection.close()
    return rows
