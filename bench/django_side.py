"""The bench's steps that run inside Django, one per call, each printing one JSON line.

    python bench/django_side.py info | pages URLS | batch planner|refresh | sessions N
                                | p3-prepare N | p3-dispatch N | p3-outcome

bench/run.py calls these with DATABASE_URL pointing at the database of one clinic size.
"""

import gc
import json
import os
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clinic.settings")

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

from clinic.core.models import Clinic  # noqa: E402
from monitoring.models import Reminder, ReminderStatus  # noqa: E402
from patients.models import Patient  # noqa: E402

DEMO_CLINIC = "Demo Dermatology"


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def info() -> dict:
    clinic = Clinic.objects.get(name=DEMO_CLINIC)
    patients = Patient.objects.filter(clinic=clinic)
    newest = patients.order_by("-created_at").values_list("created_at", flat=True).first()
    # DEMO-0003 is the "in treatment" scenario: a patient page with every kind of record.
    page = patients.filter(mrn="DEMO-0003").values_list("pk", flat=True).first()
    with connection.cursor() as cursor:
        cursor.execute("select version()")
        version = cursor.fetchone()[0]
    return {
        "patients": patients.count(),
        "seeded_on": str(timezone.localdate(newest)) if newest else None,
        "today": str(timezone.localdate()),
        "patient_id": page,
        "postgres": version.split(" on ")[0],
    }


def pages(urls: dict) -> dict:
    """Query count, status and size of each page, for the clinician, in this process."""
    client = Client()
    client.force_login(get_user_model().objects.get(username="clinician"))
    api = Client()
    token = api.post(
        "/api/v1/auth/token/",
        {"username": "clinician", "password": os.environ["DEMO_PASSWORD"]},
        content_type="application/json",
    ).json()["token"]
    result = {}
    for name, url in urls.items():
        user = api if url.startswith("/api/") else client
        extra = {"HTTP_AUTHORIZATION": f"Token {token}"} if user is api else {}
        try:
            user.get(url, **extra)  # warm: caches, the session's clinic
            with CaptureQueriesContext(connection) as queries:
                response = user.get(url, **extra)
                body = b"".join(response) if response.streaming else response.content
        except Exception as error:  # a broken page is a figure too, not the end of the run
            result[name] = {"queries": None, "status": f"error: {error}"[:200], "bytes": 0}
            continue
        result[name] = {"queries": len(queries), "status": response.status_code, "bytes": len(body)}
    return result


def refresh_function():
    from monitoring.worklist import mark_stale, refresh_clinic

    def refresh(clinic, on):
        mark_stale(clinic)  # the daily run after midnight: every row answers for yesterday
        return refresh_clinic(clinic, on)

    return refresh


def batch(what: str) -> dict:
    """Time and peak memory (this process's maximum resident set) of one batch job over the
    clinic: the planner from no reminders, or the daily triage refresh."""
    clinic = Clinic.objects.get(name=DEMO_CLINIC)
    if what == "planner":
        from monitoring.reminders.planner import plan_clinic

        Reminder.objects.filter(patient__clinic=clinic).delete()

        def job():
            return plan_clinic(clinic).created
    else:
        refresh = refresh_function()
        if refresh is None:
            return {"skipped": "no triage refresh"}

        def job():
            return refresh(clinic, clinic.today())

    gc.collect()
    before = peak_mb()
    started = time.perf_counter()
    outcome = job()
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "peak_mb": peak_mb(),
        "baseline_mb": before,
        "outcome": outcome if isinstance(outcome, int | float | str | None) else str(outcome),
    }


def p3_prepare(count: int) -> dict:
    """`count` pending reminders due now, still needed (planned today), in a clinic without
    quiet hours; every other pending reminder pushed far ahead, so only these are dispatched."""
    from monitoring.reminders.planner import plan_clinic
    from monitoring.reminders.sender import recheck

    clinic = Clinic.objects.get(name=DEMO_CLINIC)
    Clinic.objects.filter(pk=clinic.pk).update(quiet_hours_start=0, quiet_hours_end=0)
    Reminder.objects.filter(patient__clinic=clinic).delete()
    plan_clinic(clinic)
    now = timezone.now()
    today = clinic.today()
    pending = Reminder.objects.filter(
        patient__clinic=clinic, status=ReminderStatus.PENDING
    ).select_related("patient__clinic")
    chosen = []
    for reminder in pending.order_by("pk").iterator():
        if recheck(reminder, today) is None:
            chosen.append(reminder.pk)
            if len(chosen) == count:
                break
    Reminder.objects.filter(status=ReminderStatus.PENDING).update(
        send_at=now + timezone.timedelta(days=3650)
    )
    Reminder.objects.filter(pk__in=chosen).update(send_at=now - timezone.timedelta(minutes=1))
    return {"due": len(chosen)}


def p3_dispatch(count: int) -> dict:
    from monitoring.reminders.dispatch import dispatch_due

    began = time.time()
    started = time.perf_counter()
    claimed = dispatch_due(limit=count)
    return {"claimed": len(claimed), "seconds": time.perf_counter() - started, "began": began}


def sessions(count: int) -> dict:
    """`count` logged-in sessions and API tokens of the clinician, made without hashing a
    password each time (the load test's users start logged in; logins are not the load)."""
    from django.conf import settings

    from clinic.api.auth import issue_token

    user = get_user_model().objects.get(username="clinician")
    keys, tokens = [], []
    for _ in range(count):
        client = Client()
        client.force_login(user)
        keys.append(client.cookies[settings.SESSION_COOKIE_NAME].value)
        tokens.append(issue_token(user, with_second_factor=True))  # the clinician has a code
    return {"cookie": settings.SESSION_COOKIE_NAME, "sessions": keys, "tokens": tokens}


def p3_outcome() -> dict:
    counts = {}
    for status in Reminder.objects.values_list("status", flat=True):
        counts[status] = counts.get(status, 0) + 1
    return counts


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    if command == "info":
        out = info()
    elif command == "pages":
        out = pages(json.loads(args[0]))
    elif command == "batch":
        out = batch(args[0])
    elif command == "p3-prepare":
        out = p3_prepare(int(args[0]))
    elif command == "p3-dispatch":
        out = p3_dispatch(int(args[0]))
    elif command == "sessions":
        out = sessions(int(args[0]))
    elif command == "p3-outcome":
        out = p3_outcome()
    else:
        raise SystemExit(f"unknown command {command}")
    print("BENCH " + json.dumps(out, default=str))
