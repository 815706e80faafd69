"""A quick look at P3 alone, for development: `make bench`'s own P3 plus in-process figures.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/<base> BENCH_REDIS_URL=redis://.../<db> \
        .venv/bin/python bench/p3_probe.py [--messages N] [--runs R] [--profile N] [--no-worker]

Seeds (or reuses) <base>_1k with bench/run.py's `seeded`, runs bench/run.py's `p3` R times
(a real prefork Celery worker on Redis, an aiosmtpd sink, PostgreSQL) and prints emails/s,
no-op tasks/s and their ratio. Then, in a Django process on the same database and a local
aiosmtpd sink, it counts the queries of `sender.deliver` per send
(CaptureQueriesContext) and, with --profile N, profiles N sends with cProfile.
"""

# ruff: noqa: S603 - the probe starts its own tools, like bench/run.py

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def outside(args) -> None:
    from bench import run

    run.P3_MESSAGES = args.messages
    state = run.seeded(1000)
    if not args.no_worker:
        for _ in range(args.runs):
            r = run.p3(state)
            print(
                f"P3: emails {r['email_rate']:.0f}/s, no-op {r['noop_rate']:.0f}/s, "
                f"ratio {r['email_rate'] / r['noop_rate']:.2f} "
                f"(dispatch {r['dispatch_seconds']:.2f} s; {r['statuses']})",
                flush=True,
            )
    done = subprocess.run(
        [sys.executable, __file__, "--inside", "--profile", str(args.profile)],
        env=run.env_for(state["url"], DJANGO_DEBUG="false", **_secret()),
        cwd=ROOT,
        check=False,
    )
    if done.returncode:
        raise SystemExit(done.returncode)


def _secret() -> dict:
    return {
        "DJANGO_SECRET_KEY": "bench-only-not-a-secret-" + "x" * 40,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
    }


def inside(args) -> None:
    import cProfile
    import pstats
    import time

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clinic.settings")
    django.setup()

    from aiosmtpd.controller import Controller
    from django.conf import settings
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from bench import django_side
    from bench.run import CountingSink, free_port
    from monitoring.models import Reminder, ReminderStatus
    from monitoring.reminders import sender

    sink = CountingSink()
    controller = Controller(sink, hostname="127.0.0.1", port=free_port(8950))
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", controller.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    try:
        count = max(args.profile, 0) + 20
        django_side.p3_prepare(count)
        ids = list(
            Reminder.objects.filter(send_at__lte=timezone.now(), status=ReminderStatus.PENDING)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        Reminder.objects.filter(pk__in=ids).update(
            status=ReminderStatus.SENDING, claimed_at=timezone.now()
        )
        counts = []
        for pk in ids[:20]:
            with CaptureQueriesContext(connection) as queries:
                outcome = sender.deliver(pk)
            counts.append((outcome, len(queries)))
        print(f"queries per send (first 20, the first warms up): {counts}", flush=True)
        rest = ids[20:]
        if rest:
            profile = cProfile.Profile()
            started = time.perf_counter()
            profile.enable()
            outcomes = [sender.deliver(pk) for pk in rest]
            profile.disable()
            seconds = time.perf_counter() - started
            print(
                f"in-process: {len(rest)} sends in {seconds:.2f} s, "
                f"{seconds * 1000 / len(rest):.2f} ms each; "
                f"{ {o: outcomes.count(o) for o in set(outcomes)} }",
                flush=True,
            )
            stats = pstats.Stats(profile).strip_dirs().sort_stats("cumulative")
            stats.print_stats(45)
    finally:
        sender.close_connection()
        controller.stop()
    print("BENCH " + json.dumps({"queries": counts}))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=500)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--profile", type=int, default=0)
    parser.add_argument("--no-worker", action="store_true")
    parser.add_argument("--inside", action="store_true")
    arguments = parser.parse_args()
    (inside if arguments.inside else outside)(arguments)
