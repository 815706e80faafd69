"""A quick look at P3 alone, for development: `make bench`'s own P3 plus in-process figures.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/<base> BENCH_REDIS_URL=redis://.../<db> \
        .venv/bin/python bench/p3_probe.py [--size P] [--messages N] [--runs R] [--rounds K] \
        [--profile N] [--no-worker]

Seeds (or reuses) <base>_1k (or the clinic of --size patients) with bench/run.py's `seeded`,
runs bench/run.py's `p3` R times (a real prefork Celery worker on Redis, an aiosmtpd sink,
PostgreSQL; its warm-up round, then --rounds rounds) and prints emails/s, no-op tasks/s and
their ratio for each round. Then, in a Django process on the same database and a local
aiosmtpd sink, it counts the queries of `sender.deliver` per send
(CaptureQueriesContext) and, with --profile N, times N sends and profiles N more (cProfile).

In-process sends reuse one database connection; so does the worker since config/settings.py
sets CELERY_DB_REUSE_MAX (Celery's Django fixup otherwise closes every database connection
before and after each task, and each send then pays a new PostgreSQL connection and cold catalog
caches).
"""

# ruff: noqa: S603 - the probe starts its own tools, like bench/run.py

import argparse
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def outside(args) -> None:
    from bench import run

    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every command

    run.P3_MESSAGES = args.messages
    run.P3_ROUNDS = args.rounds
    run.django = _registering(run.django)
    state = run.seeded(args.size)
    if not args.no_worker:
        for _ in range(args.runs):
            result = run.p3(state)
            for r in [result["warm_up"], *result["rounds"]]:
                print(
                    f"P3: emails {r['email_rate']:.0f}/s, no-op {r['noop_rate']:.0f}/s, "
                    f"ratio {r['email_rate'] / r['noop_rate']:.2f} "
                    f"(dispatch {r['dispatch_seconds']:.2f} s; {r['statuses']}); "
                    "CPU ms per email: "
                    + ", ".join(f"{k} {v:.2f}" for k, v in r["cpu_ms_per_email"].items()),
                    flush=True,
                )
    done = subprocess.run(
        [sys.executable, __file__, "--inside", "--profile", str(args.profile)]
        + ["--sort", args.sort, "--lines", str(args.lines)],
        env=run.prod_env(state["url"]),
        cwd=ROOT,
        check=False,
    )
    if done.returncode:
        raise SystemExit(done.returncode)


def _registering(django):
    """bench/run.py's `django` step runner, with p3-dispatch run through this file. Written when
    a plain Django process did not register the Celery tasks; monitoring's `ready` now does, so
    this only keeps the probe independent of that."""

    def call(url: str, *args: str, **extra) -> dict:
        if args[:1] != ("p3-dispatch",):
            return django(url, *args, **extra)
        from bench import run

        done = subprocess.run(
            [sys.executable, __file__, "--dispatch", args[1]],
            env=run.prod_env(url, **extra),
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
        for line in done.stdout.splitlines():
            if line.startswith("BENCH "):
                return json.loads(line[6:])
        raise RuntimeError(f"p3-dispatch failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")

    return call


def dispatch(count: int) -> None:
    from bench import django_side
    from monitoring import tasks  # noqa: F401 - registers monitoring.tasks.send_reminder

    print("BENCH " + json.dumps(django_side.p3_dispatch(count), default=str))


def inside(args) -> None:
    import cProfile
    import pstats
    import time

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
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

    logging.getLogger("mail.log").setLevel(logging.WARNING)
    sink = CountingSink()
    controller = Controller(sink, hostname="127.0.0.1", port=free_port(8950))
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", controller.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    try:
        count = 2 * max(args.profile, 0) + 20
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
        plain, profiled = ids[20 : 20 + args.profile], ids[20 + args.profile :]
        if plain:
            started = time.perf_counter()
            outcomes = [sender.deliver(pk) for pk in plain]
            seconds = time.perf_counter() - started
            print(
                f"in-process: {len(plain)} sends in {seconds:.2f} s, "
                f"{seconds * 1000 / len(plain):.2f} ms each; "
                f"{ {o: outcomes.count(o) for o in set(outcomes)} }",
                flush=True,
            )
        if profiled:
            profile = cProfile.Profile()
            profile.enable()
            for pk in profiled:
                sender.deliver(pk)
            profile.disable()
            stats = pstats.Stats(profile).strip_dirs().sort_stats(args.sort)
            stats.print_stats(args.lines)
    finally:
        sender.close_connection()
        controller.stop()
    print("BENCH " + json.dumps({"queries": counts}))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=500)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--size", type=int, default=1000, help="patients (bench/run.py seeds)")
    parser.add_argument("--rounds", type=int, default=1, help="rounds per worker (bench/run.py)")
    parser.add_argument("--profile", type=int, default=0)
    parser.add_argument("--no-worker", action="store_true")
    parser.add_argument("--sort", default="cumulative")
    parser.add_argument("--lines", type=int, default=45)
    parser.add_argument("--inside", action="store_true")
    parser.add_argument("--dispatch", type=int)
    arguments = parser.parse_args()
    if arguments.dispatch is not None:
        dispatch(arguments.dispatch)
    else:
        (inside if arguments.inside else outside)(arguments)
