"""The bench's steps that run inside Django, one per call, each printing one JSON line.

    python bench/django_side.py info | prepare | sessions N | pages SPEC | batch planner|refresh
                                | control | p3-prepare N | p3-dispatch N | p3-outcome

bench/run.py calls these with DATABASE_URL pointing at the database of one clinic size and the
production settings gunicorn runs with (DJANGO_DEBUG off, the same DJANGO_SECRET_KEY: the
sessions made here are signed with it). `control` stays up and answers one command a line on
stdin (mark the kept rows stale, age the clinic's slots, prepare again), so the cold samples of
Today cost no Django start-up each.
"""

import gc
import json
import os
import resource
import sys
import time
from importlib import import_module
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

import psutil  # noqa: E402
from django.apps import apps  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.auth import (  # noqa: E402
    BACKEND_SESSION_KEY,
    HASH_SESSION_KEY,
    SESSION_KEY,
    get_user_model,  # noqa: E402
)
from django.db import connection  # noqa: E402
from django.db.models import Count  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402
from django.utils.crypto import get_random_string  # noqa: E402

from clinic.models import Clinic  # noqa: E402
from monitoring import kept  # noqa: E402
from monitoring.models import Reminder, ReminderStatus, TriageRow  # noqa: E402
from patients.models import Patient  # noqa: E402

DEMO_CLINIC = "Demo Dermatology"
BENCH_USER = "clinician"
# The key of the patient search the bench's sessions hold (the list shows it at ?s=<key>).
SEARCH_KEY = "bench"
BENCH_DEVICE = "Bench verified session"


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def database_cpu_seconds() -> float | None:
    """CPU used so far by this process's PostgreSQL backend (None when it cannot be read)."""
    with connection.cursor() as cursor:
        cursor.execute("select pg_backend_pid()")
        pid = cursor.fetchone()[0]
    try:
        times = psutil.Process(pid).cpu_times()
    except psutil.Error:
        return None
    return times.user + times.system


def clinic() -> Clinic:
    return Clinic.objects.get(name=DEMO_CLINIC)


# The refresh ------------------------------------------------------------------------------------
def prepare_function():
    """`monitoring.kept.prepare(clinic, on) -> rows written`: every patient's kept row
    recomputed for `on`, only the changed ones written (docs/clinic-day.md, "Kept rows")."""
    from monitoring import kept

    return kept.prepare, "monitoring.kept.prepare"


def daily_refresh(clinic, on) -> int:
    """The refresh that recomputes the whole clinic: right after `mark_stale` (a settings
    change), `prepare` for the clinic's today: every patient recomputed, the rows whose answer
    changed written."""
    from monitoring import kept

    kept.mark_stale(clinic)
    return kept.prepare(clinic, on)


def triage_slot_model():
    try:
        return apps.get_model("monitoring", "TriageSlot")
    except LookupError:
        return None


# The slots' dates before the first aging in this process: each cold sample ages them from
# these again, so every sample sees rows two days old (not four, six, ...).
SLOT_DATES: dict[int, object] = {}


def age_slots(clinic, days: int = 2) -> dict:
    """Beat stopped for `days` days: the clinic's kept rows answer for a date `days` older."""
    model = triage_slot_model()
    if model is None:
        return {"skipped": "no monitoring.models.TriageSlot on this commit"}
    if not SLOT_DATES:
        SLOT_DATES.update(model.objects.filter(clinic=clinic).values_list("pk", "on"))
    for pk, on in sorted(SLOT_DATES.items(), key=lambda item: item[1]):  # the oldest first
        model.objects.filter(pk=pk).update(on=on - timezone.timedelta(days=days))
    return {"slots": len(SLOT_DATES)}


def mark_stale(clinic) -> dict:
    from monitoring import kept

    kept.mark_stale(clinic)
    return {}


def prepare() -> dict:
    """Every kept row of the clinic brought to its today: the warm state Today is measured in
    (beat's refresh has run)."""
    c = clinic()
    function, name = prepare_function()
    SLOT_DATES.clear()  # dates to age from are read again after this
    started = time.perf_counter()
    written = function(c, c.today())
    return {"written": written, "seconds": time.perf_counter() - started, "function": name}


# Facts the pages need ---------------------------------------------------------------------------
def info() -> dict:
    import rules

    c = clinic()
    patients = Patient.objects.filter(clinic=c)
    newest = patients.order_by("-created_at").values_list("created_at", flat=True).first()
    # DEMO-0003 is the "in treatment" scenario: a patient page with every kind of record.
    page = patients.filter(mrn="DEMO-0003").values_list("pk", flat=True).first()
    with connection.cursor() as cursor:
        cursor.execute("select version()")
        version = cursor.fetchone()[0]
    groups = dict(
        TriageRow.objects.filter(
            clinic=c, slot=kept.read(c).slot, group__in=rules.TRIAGE_LISTED_GROUPS
        )
        .values_list("group")
        .annotate(n=Count("pk"))
        .values_list("group", "n")
    )
    categories = dict(
        patients.values_list("risk_category")
        .annotate(n=Count("pk"))
        .values_list("risk_category", "n")
    )
    families = (
        patients.values_list("family_name").annotate(n=Count("pk")).order_by("-n", "family_name")
    )
    family = families.values_list("family_name", flat=True).first() or "Hollis"
    return {
        "patients": patients.count(),
        "seeded_on": str(timezone.localdate(newest)) if newest else None,
        "today": str(timezone.localdate()),
        "patient_id": page,
        "postgres": version.split(" on ")[0],
        "groups": groups,
        "big_group": max(groups, key=groups.get) if groups else None,
        "categories": categories,
        # The largest category: the filter that keeps the most rows.
        "category": max(categories, key=categories.get) if categories else None,
        # Part of the commonest family name (a receptionist types the first letters).
        "search": family[:5].lower(),
        "search_family": family,
        "triage_slot": triage_slot_model() is not None,
    }


# Verified sessions ------------------------------------------------------------------------------
def verified_session_key(user, membership, search: str) -> str:
    """A session as the login and the second-factor page leave it (django.contrib.auth's three
    keys, django-otp's device id), in the user's clinic, with one patient search kept (the
    list's ?s=<key>), saved in the session store. Made without the login form: 50 password
    hashes and TOTP codes would be the load otherwise."""
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_static.models import StaticDevice

    from clinic.access import SESSION_CLINIC_KEY
    from monitoring.patient_views import SEARCHES_SESSION_KEY

    device, _ = StaticDevice.objects.get_or_create(
        user=user, name=BENCH_DEVICE, defaults={"confirmed": True}
    )
    store = import_module(settings.SESSION_ENGINE).SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store[DEVICE_ID_SESSION_KEY] = device.persistent_id
    store[SESSION_CLINIC_KEY] = membership.clinic_id
    store[SEARCHES_SESSION_KEY] = {SEARCH_KEY: search}
    store.save()  # a new key, expiring as a login's does (SESSION_COOKIE_AGE, idle)
    return store.session_key


def sessions(count: int, search: str = "holli") -> dict:
    """`count` verified sessions and API tokens of the bench user, each with a CSRF secret:
    every load-test user has its own."""
    from api.auth import issue_token
    from clinic.models import Membership

    user = get_user_model().objects.get(username=BENCH_USER)
    membership = Membership.objects.select_related("clinic").get(user=user, clinic=clinic())
    out = []
    for _ in range(count):
        out.append(
            {
                "session": verified_session_key(user, membership, search),
                "csrf": get_random_string(32),
                "token": issue_token(user, with_second_factor=True),
            }
        )
    return {
        "session_cookie": settings.SESSION_COOKIE_NAME,
        "csrf_cookie": settings.CSRF_COOKIE_NAME,
        "users": out,
        "search_key": SEARCH_KEY,
    }


# Query counts -----------------------------------------------------------------------------------
# Pages with more queries than this are not examined one query at a time (a cold page that
# recomputes the clinic runs thousands).
EXAMINE_AT_MOST = 60


def rows_read(sql: str) -> int | None:
    """The most rows one scan of this SELECT reads (returned plus filtered out, times its
    loops), from EXPLAIN ANALYZE: a query that reads the whole clinic shows as the clinic's
    size, whatever it returns."""
    if not sql.lstrip().upper().startswith("SELECT"):
        return None
    try:
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql)
            plan = cursor.fetchone()[0]
    except Exception:  # a statement EXPLAIN cannot take is not a figure
        return None
    plan = json.loads(plan) if isinstance(plan, str) else plan

    def most(node) -> int:
        own = 0
        if "Scan" in node.get("Node Type", ""):
            read = node.get("Actual Rows", 0) + node.get("Rows Removed by Filter", 0)
            own = int(read * node.get("Actual Loops", 1))
        return max([own, *(most(child) for child in node.get("Plans", []))])

    return most(plan[0]["Plan"])


def pages(spec: dict) -> dict:
    """Query count, status and size of each page, requested in this process as gunicorn gets
    it (the same verified session, HTTPS from the proxy, the site's host). spec: {name: {"url",
    "api", "before"}}; "before" (mark_stale or age_slots) runs after the warm-up request, just
    before the counted one."""
    login = sessions(1, spec.pop("_search", "holli"))["users"][0]
    host = settings.ALLOWED_HOSTS[0]
    web = Client(HTTP_HOST=host, HTTP_X_FORWARDED_PROTO="https")
    web.cookies[settings.SESSION_COOKIE_NAME] = login["session"]
    c = clinic()
    result, cold = {}, False
    for name, page in spec.items():
        extra = {"HTTP_AUTHORIZATION": f"Token {login['token']}"} if page.get("api") else {}
        try:
            web.get(page["url"], **extra)  # warm: caches, the session's clinic
            before = page.get("before")
            if before == "mark_stale":
                mark_stale(c)
            elif before == "age_slots":
                if age_slots(c).get("skipped"):
                    result[name] = {"queries": None, "status": "skipped", "bytes": 0}
                    continue
            with CaptureQueriesContext(connection) as queries:
                response = web.get(page["url"], **extra)
                body = b"".join(response) if response.streaming else response.content
            cold = cold or bool(before)
        except Exception as error:  # a broken page is a figure too, not the end of the run
            result[name] = {"queries": None, "status": f"error: {error}"[:200], "bytes": 0}
            continue
        read, worst = None, ""
        if len(queries) <= EXAMINE_AT_MOST:
            read = 0
            for query in queries.captured_queries:
                rows = rows_read(query["sql"] or "") or 0
                if rows > read:
                    read, worst = rows, query["sql"]
        result[name] = {
            "queries": len(queries),
            "status": response.status_code,
            "bytes": len(body),
            "location": response.get("Location", ""),
            "rows_read": read,
            # The start of the query that read the most (the bench's own demo data only).
            "worst_query": " ".join(worst.split())[:240],
        }
    if cold:
        prepare()  # leave the rows warm, as a worker would have
    return result


# Batch jobs -------------------------------------------------------------------------------------
def _measure(job) -> dict:
    gc.collect()
    before = peak_mb()
    cpu, db = cpu_seconds(), database_cpu_seconds()
    started = time.perf_counter()
    outcome = job()
    seconds = time.perf_counter() - started
    db_after = database_cpu_seconds()
    return {
        "seconds": seconds,
        "cpu_seconds": cpu_seconds() - cpu,
        "db_cpu_seconds": db_after - db if db is not None and db_after is not None else None,
        "peak_mb": peak_mb(),
        "baseline_mb": before,
        "outcome": outcome if isinstance(outcome, int | float | str | None) else str(outcome),
    }


def batch(what: str) -> dict:
    """Time, CPU and peak memory (this process's maximum resident set) of one batch job over
    the clinic: the planner from no reminders, or the daily triage refresh; then the same job
    again on the unchanged clinic (what it writes the second time)."""
    c = clinic()
    if what == "planner":
        from monitoring.reminders.planner import plan_clinic

        Reminder.objects.filter(patient__clinic=c).delete()
        first = _measure(lambda: plan_clinic(c).created)
        again = _measure(lambda: plan_clinic(c).created)
        return {**first, "again": again}
    on = c.today()
    function, name = prepare_function()
    first = _measure(lambda: daily_refresh(c, on))
    again = _measure(lambda: function(c, on))
    return {**first, "again": again, "function": name}


# The control loop for cold samples --------------------------------------------------------------
def control() -> None:
    """Answers one JSON line per command read on stdin, until end of input."""
    c = clinic()
    with connection.cursor() as cursor:
        cursor.execute("select pg_backend_pid()")
        backend = cursor.fetchone()[0]
    # Its own PostgreSQL backend, which the bench leaves out of the servers' CPU.
    print("BENCH " + json.dumps({"ready": True, "backend": backend}), flush=True)
    for line in sys.stdin:
        command = line.strip()
        if not command:
            continue
        try:
            if command == "mark_stale":
                out = mark_stale(c)
            elif command == "age_slots":
                out = age_slots(c)
            elif command == "prepare":
                out = prepare()
            else:
                out = {"error": f"unknown command {command}"}
        except Exception as error:  # reported to the bench, which stops
            out = {"error": repr(error)[:500]}
        print("BENCH " + json.dumps(out, default=str), flush=True)


# P3 ---------------------------------------------------------------------------------------------
def p3_prepare(count: int) -> dict:
    """`count` pending reminders due now, still needed (planned today), in a clinic without
    quiet hours; every other pending reminder pushed far ahead, so only these are dispatched."""
    from monitoring.reminders.history_row import with_history
    from monitoring.reminders.planner import plan_clinic
    from monitoring.reminders.sender import recheck

    c = clinic()
    Clinic.objects.filter(pk=c.pk).update(quiet_hours_start=0, quiet_hours_end=0)
    Reminder.objects.filter(patient__clinic=c).delete()
    plan_clinic(c)
    now = timezone.now()
    today = c.today()
    pending = with_history(
        Reminder.objects.filter(patient__clinic=c, status=ReminderStatus.PENDING).select_related(
            "patient__clinic"
        )
    )
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


def p3_outcome() -> dict:
    counts = {}
    for status in Reminder.objects.values_list("status", flat=True):
        counts[status] = counts.get(status, 0) + 1
    return counts


# P4 ---------------------------------------------------------------------------------------------
def load_ids(count: int) -> dict:
    """Patients the load test opens, and those it writes a lab result for (enrolled at least a
    day ago: a lab of today is then never before the enrollment's 30-day window)."""
    c = clinic()
    patients = Patient.objects.filter(clinic=c).order_by("?")
    today = c.today()
    return {
        "view": list(patients.values_list("pk", flat=True)[:count]),
        "write": list(patients.filter(enrolled_on__lte=today).values_list("pk", flat=True)[:count]),
    }


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    if command == "control":
        control()
        sys.exit()
    if command == "info":
        out = info()
    elif command == "prepare":
        out = prepare()
    elif command == "pages":
        out = pages(json.loads(args[0]))
    elif command == "batch":
        out = batch(args[0])
    elif command == "p3-prepare":
        out = p3_prepare(int(args[0]))
    elif command == "p3-dispatch":
        out = p3_dispatch(int(args[0]))
    elif command == "sessions":
        out = sessions(int(args[0]), *args[1:])
    elif command == "load-ids":
        out = load_ids(int(args[0]))
    elif command == "p3-outcome":
        out = p3_outcome()
    else:
        raise SystemExit(f"unknown command {command}")
    print("BENCH " + json.dumps(out, default=str))
