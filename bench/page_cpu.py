"""CPU per request of a few pages, in this process, with production settings.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/<db> python bench/page_cpu.py [-n 200]
        [--only page,...] [--interleave] [--profile page [--dump file]] [--save folder]

The database holds `seed_demo`'s clinic (migrate, then `DJANGO_DEBUG=true manage.py seed_demo`:
the command refuses to seed with production settings). This script then runs with production
settings (DJANGO_DEBUG off, the cached template loader, Redis cache, HTTPS): the variables
production requires get harmless values unless set. The demo clinician logs in with a session
that passed the second factor (a confirmed device of theirs named in the session, as
django_otp.login does), and each page is asked `-n` times through the full handler
(django.test.Client, HTTPS) after a warm-up (with --interleave, the pages in turn). It prints,
per page, the median and p90 of `time.process_time()` per request (this process's CPU only, not
PostgreSQL's) and the queries of one request, with the machine's load average: on a shared
machine the figures move with the neighbours' load, the ratios between pages much less.

Pages: the patient page of the demo patient with the most records and of a typical one (the
median number of records), Today, and the empty logged-in view GET /account/session/ (the
floor every request pays: middleware, session, user, memberships, second factor).

`--profile NAME` runs cProfile over the requests of that page and prints the top functions
(`--dump` keeps them for pstats); `--save FOLDER` writes each page's HTML, to diff a change's
pages against the pages before it.
"""

import argparse
import cProfile
import os
import pstats
import re
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PRODUCTION_ENV = {
    "DJANGO_SETTINGS_MODULE": "config.settings",
    "SITE_URL": "https://bench.example.org",
    "DJANGO_ALLOWED_HOSTS": "bench.example.org",
    "EMAIL_HOST": "localhost",
    "REDIS_URL": "redis://127.0.0.1:6379/14",
    "DEFAULT_FROM_EMAIL": "clinic@example.org",
    # A throwaway key for a throwaway database (50+ characters, not a dev default).
    "DJANGO_SECRET_KEY": "bench-page-cpu-" + "k7Qx9vR2mW4pL8nT3sY6bH1cJ5fD0gZa" * 2,
    "LOG_LEVEL": "WARNING",
}
for _name, _value in PRODUCTION_ENV.items():
    os.environ.setdefault(_name, _value)
os.environ.pop("DJANGO_DEBUG", None)
if "DATABASE_URL" not in os.environ:
    sys.exit("Set DATABASE_URL to a PostgreSQL database seeded with seed_demo.")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.contrib.staticfiles.storage import staticfiles_storage  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.db.models import Count  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.urls import reverse  # noqa: E402
from django_otp import DEVICE_ID_SESSION_KEY  # noqa: E402
from django_otp.plugins.otp_totp.models import TOTPDevice  # noqa: E402

from clinic.models import Clinic  # noqa: E402
from patients.models import Patient  # noqa: E402

DEMO_CLINIC = "Demo Dermatology"
HOST = "bench.example.org"
# The patient's records the page shows (reverse relations of Patient).
RECORDS = (
    "consents",
    "contraception",
    "pregnancy_tests",
    "labs",
    "visits",
    "mood_reviews",
    "prescriptions",
    "comprehension_reports",
    "risk_changes",
    "ipledge_entries",
)


def demo_patients() -> tuple[Patient, Patient]:
    """The demo clinic's patient with the most records, and one with the median number."""
    clinic = Clinic.objects.get(name=DEMO_CLINIC)
    patients = Patient.objects.filter(clinic=clinic)
    totals = {}
    for name in RECORDS:
        for pk, n in patients.annotate(n=Count(name)).values_list("pk", "n"):
            totals[pk] = totals.get(pk, 0) + n
    ranked = sorted(totals, key=lambda pk: (-totals[pk], pk))  # ties: the first enrolled
    most, typical = ranked[0], ranked[len(ranked) // 2]
    found = Patient.objects.in_bulk([most, typical])
    for pk in (most, typical):
        found[pk].records_counted = totals[pk]
    return found[most], found[typical]


def verified_client() -> Client:
    """The demo clinician, logged in, with a session that passed the second factor."""
    user = get_user_model().objects.get(username="clinician")
    device = TOTPDevice.objects.filter(user=user).order_by("pk").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="bench", confirmed=True)
    elif not device.confirmed:
        device.confirmed = True
        device.save(update_fields=["confirmed"])
    client = Client(SERVER_NAME=HOST)
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client


def warm(client: Client, url: str) -> tuple[int, int]:
    """Ten requests (template cache, URL resolvers, the session's clinic), then one counted:
    (status, queries)."""
    for _ in range(10):
        client.get(url, secure=True)
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, secure=True)
    if response.status_code not in (200, 204):
        raise SystemExit(f"{url}: HTTP {response.status_code} {response.get('Location', '')}")
    return response.status_code, len(captured)


def measure(
    client: Client, pages: dict, n: int, profiled: str | None, interleave: bool
) -> dict[str, list]:
    """CPU ms of each request: each page `n` times in a row, or with `interleave` the pages in
    turn (a worker serving mixed pages: colder caches, higher figures; a neighbour's load on a
    shared machine then weighs on every page alike). cProfile runs with the wall clock
    (process_time's own cost would swamp the figures): time waiting for PostgreSQL shows under
    psycopg's wait()."""
    profile = cProfile.Profile() if profiled else None
    times: dict[str, list] = {name: [] for name in pages}
    order = [name for _ in range(n) for name in pages] if interleave else []
    order = order or [name for name in pages for _ in range(n)]
    for name in order:
        if name == profiled:
            profile.enable()
        start = time.process_time()
        client.get(pages[name], secure=True)
        times[name].append((time.process_time() - start) * 1000)
        if name == profiled:
            profile.disable()
    times["_profile"] = profile
    return times


def save(client: Client, url: str, path: Path) -> None:
    body = client.get(url, secure=True).content.decode()
    # The CSRF token is new on every page: blank it so two runs compare equal.
    body = re.sub(r'(name="csrfmiddlewaretoken" value=)"[^"]*"', r'\1""', body)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=200)
    parser.add_argument("--profile", help="a page name: cProfile its requests")
    parser.add_argument("--only", help="comma-separated page names")
    parser.add_argument("--interleave", action="store_true", help="ask the pages in turn")
    parser.add_argument("--sort", default="cumulative")
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--dump", help="write the profile to this file (pstats)")
    parser.add_argument(
        "--save", help="write each page's body to this folder (to compare before and after)"
    )
    args = parser.parse_args()
    assert not settings.DEBUG  # noqa: S101 - the bench's own sanity check
    # Production pages name hashed static files from the manifest collectstatic writes.
    if not staticfiles_storage.exists(staticfiles_storage.manifest_name):
        call_command("collectstatic", interactive=False, verbosity=0)
    most, typical = demo_patients()
    pages = {
        "patient-most": reverse("patients:detail", args=[most.pk]),
        "patient-typical": reverse("patients:detail", args=[typical.pk]),
        "today": reverse("monitoring:worklist"),
        "empty": reverse("session_status"),
    }
    about = {
        "patient-most": f"{most.mrn}, {most.records_counted} records",
        "patient-typical": f"{typical.mrn}, {typical.records_counted} records",
    }
    if args.only:
        pages = {name: url for name, url in pages.items() if name in args.only.split(",")}
    client = verified_client()
    counted = {name: warm(client, url) for name, url in pages.items()}
    load_before = os.getloadavg()[0]
    times = measure(client, pages, args.n, args.profile, args.interleave)
    print(f"load average {load_before:.2f} before, {os.getloadavg()[0]:.2f} after; n={args.n}")
    print(f"{'page':16} {'median ms':>9} {'p90 ms':>7} {'queries':>7}  url")
    for name, url in pages.items():
        ms = sorted(times[name])
        print(
            f"{name:16} {statistics.median(ms):9.2f} {ms[int(len(ms) * 0.9) - 1]:7.2f} "
            f"{counted[name][1]:7d}  {url} {about.get(name, '')}"
        )
        if args.save:
            save(client, url, Path(args.save) / f"{name}.html")
    if times["_profile"]:
        if args.dump:
            times["_profile"].dump_stats(args.dump)
        pstats.Stats(times["_profile"]).sort_stats(args.sort).print_stats(args.top)


if __name__ == "__main__":
    main()
