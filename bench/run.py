"""`make bench`: the speed and scale checks (docs/quality.md P1-P4), measured from outside in
one run, with production settings.

Needs PostgreSQL and Redis up. DATABASE_URL (default postgres://postgres@127.0.0.1:5432/bench)
names the server and a base name: the clinics live in <base>_1k, <base>_10k and <base>_100k,
created when missing, seeded with `seed_demo --bulk` and reused the same day. BENCH_REDIS_URL
(default redis://127.0.0.1:6379/15) is the servers' REDIS_URL (broker and cache): a database
no worker reads, so a refresh a request enqueues is never run.

Every server is gunicorn with deploy/gunicorn.conf.py (its worker count and gunicorn's default
30 s timeout) and production settings: DJANGO_DEBUG off, a 67-character secret key, an https
SITE_URL, an SMTP host, Redis, a sender of a real-looking domain; static files collected (the
manifest storage), the cached template loader. Requests come as the TLS proxy sends them: the
site's host name and `X-Forwarded-Proto: https` (SECURE_PROXY_SSL_HEADER; SECURE_SSL_REDIRECT
is on), with the Secure cookies sent by hand. Each user's session is made logged in and past
the second factor (django-otp), in the user's clinic. No redirect is ever followed; any answer
outside 2xx is an error and shows as one.

- P1 at 1,000, 10,000 and 100,000 patients: median and p95 of each page over the empty
  logged-in view (GET /account/session/, 204) measured in the same run, query counts, sizes,
  and the gunicorn workers' CPU per request; Today cold right after `mark_stale` and after the
  clinic's TriageSlot rows are two days old (when that model exists), with no worker running.
- P2: the planner and the triage refresh over 10,000 and 100,000 patients: wall and CPU time,
  peak memory, and what a second refresh of the unchanged clinic writes.
- P3: reminder emails per second through Celery and Redis to a local SMTP sink (aiosmtpd),
  against a no-op task on the same worker and broker, the median of 20 rounds.
- P4: locust, 50 users at a clinic's pace (2-5 s between actions) for 3 minutes on 10,000
  patients, writes through the real forms included; then a step load to the requests per
  second at which the p95 crosses 500 ms.

BENCH_QUICK=1: 1,000 patients only and short runs, for development; it writes
var/bench/benchmarks-quick.md instead of docs/benchmarks.md.
"""

# ruff: noqa: S603, S607 - the bench starts its own tools (manage.py, gunicorn, celery, locust, git)

import datetime as dt
import json
import os
import platform
import re
import resource
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from http.cookiejar import DefaultCookiePolicy
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psutil
import psycopg
import redis
import requests
from aiosmtpd.controller import Controller

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
QUICK = os.environ.get("BENCH_QUICK", "") == "1"
DATABASE_URL = os.environ.get("DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/bench"
REDIS_URL = os.environ.get("BENCH_REDIS_URL") or "redis://127.0.0.1:6379/15"
PASSWORD = "bench-demo-password"  # noqa: S105 - synthetic demo users of throwaway databases
WORK = ROOT / "var" / "bench"
OUT = WORK / "benchmarks-quick.md" if QUICK else ROOT / "docs" / "benchmarks.md"
PREVIOUS = ROOT / "bench" / "previous-2026-12-07.md"

# Production settings (config/settings.py, config/deploy_checks.py): the site's name, and a key
# made for this run (sessions made by bench/django_side.py are signed with it).
HOST_NAME = "bench.example.org"
SECRET_KEY = secrets.token_urlsafe(50)

P1_SIZES = [1_000] if QUICK else [1_000, 10_000, 100_000]
P2_SIZES = [1_000] if QUICK else [10_000, 100_000]
LOAD_SIZE = 1_000 if QUICK else 10_000  # P3 and P4
P1_SAMPLES = 8 if QUICK else 30
P1_COLD_SAMPLES = 3 if QUICK else 10
BASELINE_SAMPLES = 5 if QUICK else 11  # the empty view's, just before each page's samples
P1_MAX_SECONDS = 20 if QUICK else 60  # per page: slow pages get fewer samples (at least 3)
REQUEST_TIMEOUT = 120  # the client's; gunicorn's own 30 s ends a request first
P3_MESSAGES = 200 if QUICK else 1000
P3_ROUNDS = 3 if QUICK else 20  # the median round is reported
P4_USERS = 50
P4_SECONDS = 30 if QUICK else 180
P4_WAIT = (2, 5)
# The step load: more users, about a second between actions; each stage's first seconds (its
# users arriving) are left out of its figures.
STEP_WAIT = (0.5, 1.5)
STEP_USERS = [10, 25, 50] if QUICK else [10, 25, 50, 100, 150, 200, 300]
STEP_SECONDS = 15 if QUICK else 50
STEP_SETTLE = 5
P95_LIMIT_MS = 500
CPU_TARGET_MS = 12
WORKER_CONCURRENCY = 2

# Pages of P1: name -> (path, API token instead of the session). {group}: the listed group
# with the most rows; {category}: the commonest risk category; {patient}: the "in treatment"
# demo patient; {search}: the key of the patient search the bench's sessions keep.
EMPTY = "empty view"
PAGES = {
    EMPTY: ("/account/session/", False),
    "Today": ("/today/", False),
    "Today group page 2": ("/today/?group={group}&page=2", False),
    "Today category": ("/today/?category={category}", False),
    "search": ("/patients/?s={search}", False),
    "patient list": ("/patients/", False),
    "patient page": ("/patients/{patient}/", False),
    "entry sheet": ("/patients/{patient}/ipledge/", False),
    "FHIR": ("/patients/{patient}/fhir/", False),
    "API status": ("/api/v1/patients/{patient}/status/", True),
    "API worklist": ("/api/v1/worklist/", True),
    "API worklist group page 2": ("/api/v1/worklist/?group={group}&page=2", True),
    "Today CSV": ("/today/?format=csv", False),
}
# Today with no fresh kept rows, each sample right after the step that makes them stale.
COLD = {
    "Today cold: settings changed": ("/today/", "mark_stale"),
    "Today cold: beat stopped 2 days": ("/today/", "age_slots"),
}
EXAMINE_NOTE = "more than 60 queries: bench/django_side.py EXAMINE_AT_MOST"
# Within 3x the empty view at the largest clinic (docs/quality.md P1).
WITHIN_3X = [
    "Today",
    "Today group page 2",
    "Today category",
    "search",
    "API worklist",
    "API worklist group page 2",
    *COLD,
]

LOG: list[str] = []


def say(line: str = "") -> None:
    print(line, flush=True)
    LOG.append(line)


# Settings -------------------------------------------------------------------------------------
def base_env() -> dict:
    """The caller's environment without the app's settings (a DJANGO_DEBUG=true exported by
    the Makefile, a CELERY_TASK_ALWAYS_EAGER of a shell)."""
    return {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "CELERY_", "GUNICORN_", "DEMO_"))
        and key not in ("SITE_URL", "REDIS_URL", "EMAIL_HOST", "DEFAULT_FROM_EMAIL")
    }


def dev_env(url: str) -> dict:
    """Seeding only: seed_demo refuses production settings."""
    return {
        **base_env(),
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DJANGO_DEBUG": "true",
        "DEMO_PASSWORD": PASSWORD,
        "DATABASE_URL": url,
    }


def prod_env(url: str, **extra) -> dict:
    """Production settings: every variable config/deploy_checks.py asks for, set to a value it
    accepts (an SMTP relay on this host, which only P3 ever reaches, as its sink)."""
    return {
        **base_env(),
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": SECRET_KEY,
        "DJANGO_ALLOWED_HOSTS": HOST_NAME,
        "SITE_URL": f"https://{HOST_NAME}",
        "EMAIL_HOST": "127.0.0.1",
        "DEFAULT_FROM_EMAIL": f"clinic@{HOST_NAME}",
        "REDIS_URL": REDIS_URL,
        "DATABASE_URL": url,
        **{key: str(value) for key, value in extra.items()},
    }


# Databases ------------------------------------------------------------------------------------
def label(size: int) -> str:
    return f"{size // 1000}k"


def db_url(size: int) -> str:
    parts = urlsplit(DATABASE_URL)
    base = parts.path.strip("/") or "bench"
    return urlunsplit(parts._replace(path=f"/{base}_{label(size)}"))


def conninfo(url: str) -> str:
    return url.replace("postgres://", "postgresql://", 1)


def admin_conninfo(url: str) -> str:
    return conninfo(urlunsplit(urlsplit(url)._replace(path="/postgres")))


def ensure_database(url: str, *, fresh: bool = False) -> None:
    name = urlsplit(url).path.strip("/")
    with psycopg.connect(admin_conninfo(url), autocommit=True) as conn:
        exists = conn.execute("select 1 from pg_database where datname = %s", [name]).fetchone()
        if exists and fresh:
            conn.execute(f'drop database "{name}" with (force)')
            exists = None
        if not exists:
            conn.execute(f'create database "{name}"')


def django(url: str, *args: str, **extra) -> dict:
    """One step of bench/django_side.py, with production settings."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "django_side.py"), *args],
        env=prod_env(url, **extra),
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    for line in done.stdout.splitlines():
        if line.startswith("BENCH "):
            return json.loads(line[6:])
    raise RuntimeError(f"django_side {args} failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")


def manage(url: str, *args: str, env: dict | None = None) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        env=env or dev_env(url),
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    if done.returncode:
        raise RuntimeError(
            f"manage.py {args} failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
        )
    return done.stdout


SEEDING: dict[int, str] = {}


def seeded(size: int) -> dict:
    """The database of `size` patients, seeded today (reused) or afresh."""
    url = db_url(size)
    ensure_database(url)
    manage(url, "migrate", "--noinput", "-v0")
    state = django(url, "info") if _has_demo(url) else {"patients": 0}
    if state["patients"] and (
        state["patients"] > size or state.get("seeded_on") != state.get("today")
    ):
        # Demo dates are relative to the day of seeding: yesterday's clinic is another clinic.
        say(f"  {label(size)}: stale demo data ({state['patients']} patients), reseeding")
        ensure_database(url, fresh=True)
        manage(url, "migrate", "--noinput", "-v0")
        state = {"patients": 0}
    if state["patients"] < size:  # none yet, or an interrupted seeding (seed_demo resumes)
        started = time.perf_counter()
        output = manage(url, "seed_demo", "--patients", str(size), "--bulk")
        seconds = time.perf_counter() - started
        made = size - state["patients"]
        SEEDING[size] = f"{seconds:.0f} s for {made:,} ({seconds * 1000 / made:.2f} s per 1,000)"
        say(f"  seeded {size:,} patients in {SEEDING[size]}")
        paces = re.findall(
            r"Demo Dermatology: [\d,]+ patients in .*\(([\d.]+) s per 1,000\)", output
        )
        if paces:
            say(f"    seed_demo's own pace at the end: {paces[-1]} s per 1,000")
        state = django(url, "info")
    else:
        SEEDING.setdefault(size, "reused (seeded earlier today)")
    return {**state, "url": url}


def _has_demo(url: str) -> bool:
    with psycopg.connect(conninfo(url)) as conn:
        return bool(
            conn.execute("select 1 from clinic_clinic where name = 'Demo Dermatology'").fetchone()
        )


def collect_static(url: str) -> str:
    """Production serves static files through the manifest storage: a page without its manifest
    is a 500. collectstatic (with compression, a minute or two) runs when a static file is newer
    than the manifest."""
    manifest = ROOT / "staticfiles" / "staticfiles.json"
    sources = [
        path
        for app in ("clinic", "patients", "monitoring")
        for path in (ROOT / app).rglob("static/**/*")
        if path.is_file()
    ]
    newest = max((path.stat().st_mtime for path in sources), default=0)
    if manifest.exists() and manifest.stat().st_mtime >= newest:
        return "up to date"
    started = time.perf_counter()
    manage(url, "collectstatic", "--noinput", "-v0", env=prod_env(url))
    return f"collected in {time.perf_counter() - started:.0f} s"


# Processes ------------------------------------------------------------------------------------
PROCS: list[subprocess.Popen] = []


def free_port(start: int) -> int:
    for port in range(start, start + 500):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port")


def start(args: list[str], env: dict, log: str, **popen) -> subprocess.Popen:
    WORK.mkdir(parents=True, exist_ok=True)
    out = open(WORK / log, "wb")  # closed with the process
    proc = subprocess.Popen(
        args,
        env=env,
        cwd=ROOT,
        stdout=popen.pop("stdout", out),
        stderr=out,
        start_new_session=True,
        **popen,
    )
    PROCS.append(proc)
    return proc


def stop(proc: subprocess.Popen) -> None:
    """Stop a process this script started (its own process group, by its id)."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(40)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
        except ProcessLookupError:
            pass
    if proc in PROCS:
        PROCS.remove(proc)


def wait_for(condition, timeout: float, step: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if condition():
                return True
        except Exception:  # noqa: S110 - not up yet
            pass
        time.sleep(step)
    return False


class Server:
    """gunicorn as deployed (deploy/gunicorn.conf.py: its worker count, gunicorn's default
    timeout, the access log), production settings."""

    def __init__(self, url: str, **extra):
        port = free_port(8700)
        self.url = url
        self.base = f"http://127.0.0.1:{port}"
        self.proc = start(
            [
                str(BIN / "gunicorn"),
                "-c",
                str(ROOT / "deploy" / "gunicorn.conf.py"),
                "config.wsgi:application",
            ],
            prod_env(url, GUNICORN_BIND=f"127.0.0.1:{port}", **extra),
            f"gunicorn-{urlsplit(url).path.strip('/')}.log",
        )
        probe = self.base + "/health/"
        if not wait_for(
            lambda: requests.get(probe, timeout=5, allow_redirects=False).status_code == 200, 90
        ):
            self.stop()
            raise RuntimeError("gunicorn did not start: see var/bench/")
        wait_for(lambda: len(self.workers()) >= self.expected_workers(), 30)

    @staticmethod
    def expected_workers() -> int:
        return min(2 * (os.cpu_count() or 1) + 1, 12)

    def workers(self) -> list[psutil.Process]:
        try:
            return psutil.Process(self.proc.pid).children()
        except psutil.Error:
            return []

    def stop(self) -> None:
        stop(self.proc)


class Control:
    """bench/django_side.py's `control`: Django kept up to make the kept rows stale between two
    samples, in a few milliseconds each."""

    def __init__(self, url: str):
        self.proc = start(
            [sys.executable, str(ROOT / "bench" / "django_side.py"), "control"],
            prod_env(url),
            "control.log",
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.ready = self._answer()

    def _answer(self) -> dict:
        for line in self.proc.stdout:
            if line.startswith("BENCH "):
                return json.loads(line[6:])
        raise RuntimeError("bench/django_side.py control ended: see var/bench/control.log")

    def call(self, command: str) -> dict:
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        answer = self._answer()
        if "error" in answer:
            raise RuntimeError(f"control {command}: {answer['error']}")
        return answer

    def stop(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        stop(self.proc)


def purge_queues() -> dict[str, int]:
    """Empty the broker's queues (what the requests enqueued, which nothing ran); returns how
    many messages each held."""
    broker = redis.Redis.from_url(REDIS_URL)
    held = {}
    for key in broker.scan_iter():
        kind = broker.type(key)
        if kind == b"list":
            held[key.decode()] = broker.llen(key)
        if kind == b"list" or key.startswith(b"unacked"):
            broker.delete(key)
    return {key: n for key, n in held.items() if n}


# Requests -------------------------------------------------------------------------------------
class Browser:
    """One verified user as the TLS proxy forwards them: the site's host, X-Forwarded-Proto,
    the session and CSRF cookies by hand (Secure cookies; nothing the server sets is kept),
    redirects never followed."""

    def __init__(self, base: str, logins: dict, index: int = 0):
        user = logins["users"][index]
        self.base = base
        self.http = requests.Session()
        self.http.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
        proxy = {"Host": HOST_NAME, "X-Forwarded-Proto": "https"}
        self.web = {
            **proxy,
            "Cookie": f"{logins['session_cookie']}={user['session']}; "
            f"{logins['csrf_cookie']}={user['csrf']}",
        }
        self.api = {**proxy, "Authorization": f"Token {user['token']}"}

    def fetch(self, path: str, api: bool = False) -> dict:
        started = time.perf_counter()
        try:
            response = self.http.get(
                self.base + path,
                headers=self.api if api else self.web,
                allow_redirects=False,
                timeout=REQUEST_TIMEOUT,
            )
            body = response.content
        except requests.RequestException as error:
            ms = (time.perf_counter() - started) * 1000
            return {"ms": ms, "status": None, "bytes": 0, "error": type(error).__name__}
        return {
            "ms": (time.perf_counter() - started) * 1000,
            "status": response.status_code,
            "bytes": len(body),
            "lines": body.count(b"\n"),
            "location": response.headers.get("Location", ""),
        }


def ok(status) -> bool:
    return status is not None and 200 <= status < 300


class CpuMeter:
    """CPU seconds of gunicorn's workers and of their PostgreSQL backends (the database's
    client backends but the bench's own), between two readings."""

    def __init__(self, server: Server, exclude: list[int]):
        self.server = server
        self.exclude = exclude
        self.db = psycopg.connect(conninfo(server.url), autocommit=True)
        self.name = urlsplit(server.url).path.strip("/")

    @staticmethod
    def _cpu(processes) -> dict[int, float]:
        """Seconds on a CPU so far, in nanoseconds from /proc/<pid>/schedstat where the kernel
        keeps it (user + system time come in 10 ms ticks: too coarse for a request)."""
        out = {}
        for process in processes:
            try:
                stat = Path(f"/proc/{process.pid}/schedstat").read_text()
                out[process.pid] = int(stat.split()[0]) / 1e9
                continue
            except (OSError, ValueError, IndexError):
                pass
            try:
                times = process.cpu_times()
            except psutil.Error:
                continue
            out[process.pid] = times.user + times.system
        return out

    def read(self) -> dict:
        backends = self.db.execute(
            "select pid from pg_stat_activity where datname = %s and backend_type ="
            " 'client backend' and pid <> pg_backend_pid() and not (pid = any(%s))",
            [self.name, self.exclude],
        ).fetchall()
        pids = []
        for (pid,) in backends:
            try:
                pids.append(psutil.Process(pid))
            except psutil.Error:
                continue
        return {"workers": self._cpu(self.server.workers()), "db": self._cpu(pids)}

    @staticmethod
    def since(before: dict, after: dict) -> dict:
        """Seconds used in between; a process that ended in between is missing its share, one
        that started counts whole (a new worker's start-up included: flagged)."""

        def used(kind):
            return sum(value - before[kind].get(pid, 0.0) for pid, value in after[kind].items())

        replaced = bool(set(before["workers"]) ^ set(after["workers"]))
        return {"workers": used("workers"), "db": used("db"), "replaced": replaced}

    def close(self) -> None:
        self.db.close()


# P1 -------------------------------------------------------------------------------------------
def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def page_paths(facts: dict) -> dict[str, tuple[str, bool]]:
    fill = {
        "group": facts["big_group"],
        "category": facts["category"],
        "patient": facts["patient_id"],
        "search": facts["search_key"],
    }
    return {name: (path.format(**fill), api) for name, (path, api) in PAGES.items()}


def warm(browser: Browser, paths: list[tuple[str, bool]]) -> None:
    """Every worker's first requests import and compile what the pages use: a few rounds of
    every page first, so no measured request is a worker's first of its kind."""
    for _ in range(2 * Server.expected_workers()):
        for path, api in paths:
            browser.fetch(path, api)


def measure(
    browser: Browser,
    meter: CpuMeter,
    path: str,
    api: bool,
    *,
    samples: int,
    before: str | None = None,
    control: Control | None = None,
    baseline: tuple[str, bool] | None = None,
) -> dict:
    """Sequential samples of one page (2 warm-up requests first, unless each sample is cold),
    timed from the first byte sent to the last received; the workers' CPU over them. With
    `baseline`, BASELINE_SAMPLES of it are taken just before: the page's ratio is to them (the
    machine is shared, and its load drifts over a run)."""
    if not before:
        for _ in range(2):
            browser.fetch(path, api)
    against = [browser.fetch(*baseline) for _ in range(BASELINE_SAMPLES)] if baseline else []
    cpu_before = meter.read()
    answers = []
    began = time.monotonic()
    while len(answers) < samples and (
        len(answers) < 3 or time.monotonic() - began < P1_MAX_SECONDS
    ):
        if before and "skipped" in (prepared := control.call(before)):
            return {"skipped": prepared["skipped"]}
        answers.append(browser.fetch(path, api))
    cpu = CpuMeter.since(cpu_before, meter.read())
    times = [a["ms"] for a in answers]
    bad = Counter(
        f"HTTP {a['status']} {a.get('location', '')}".strip()
        if a["status"] is not None
        else a["error"]
        for a in answers
        if not ok(a["status"])
    )
    bad.update(
        f"{EMPTY}: " + (f"HTTP {a['status']}" if a["status"] is not None else a["error"])
        for a in against
        if not ok(a["status"])
    )
    good = [a for a in answers if ok(a["status"])]
    return {
        "median_ms": statistics.median(times),
        "baseline_ms": statistics.median([a["ms"] for a in against] or times),
        "p95_ms": percentile(times, 0.95),
        "samples": len(answers),
        "bytes": good[-1]["bytes"] if good else 0,
        "lines": good[-1]["lines"] if good else 0,
        "status": (good[-1] if good else answers[-1])["status"],
        "errors": sum(bad.values()),
        "error_kinds": dict(bad),
        "cpu_ms": cpu["workers"] * 1000 / len(answers),
        "db_cpu_ms": cpu["db"] * 1000 / len(answers),
        "worker_replaced": cpu["replaced"],
    }


def p1(state: dict) -> dict:
    url = state["url"]
    prepared = django(url, "prepare")
    facts = django(url, "info")
    logins = django(url, "sessions", "1", facts["search"])
    facts["search_key"] = logins["search_key"]
    paths = page_paths(facts)
    server, control = Server(url), Control(url)
    results: dict[str, dict] = {}
    try:
        browser = Browser(server.base, logins)
        check = browser.fetch("/today/")
        if check["status"] != 200:
            raise RuntimeError(
                f"Today answered {check['status']} {check.get('location', '')} "
                f"{check.get('error', '')}: the bench's session is not a verified login"
            )
        warm(browser, [(p, api) for name, (p, api) in paths.items() if name != "Today CSV"])
        meter = CpuMeter(server, exclude=[control.ready["backend"]])
        try:
            for name, (path, api) in paths.items():
                results[name] = measure(
                    browser,
                    meter,
                    path,
                    api,
                    samples=P1_SAMPLES,
                    baseline=paths[EMPTY] if name != EMPTY else None,
                )
                _say_page(name, results[name])
            for name, (path, before) in COLD.items():
                results[name] = measure(
                    browser,
                    meter,
                    path,
                    False,
                    samples=P1_COLD_SAMPLES,
                    before=before,
                    control=control,
                    baseline=paths[EMPTY],
                )
                _say_page(name, results[name])
        finally:
            meter.close()
        control.call("prepare")
    finally:
        server.stop()
        control.stop()
        enqueued = purge_queues()
    spec = {name: {"url": path, "api": api} for name, (path, api) in paths.items()}
    spec.update({name: {"url": path, "before": before} for name, (path, before) in COLD.items()})
    spec["_search"] = facts["search"]
    counts = django(url, "pages", json.dumps(spec))
    for name, count in counts.items():
        if name in results:
            results[name]["queries"] = count["queries"]
            results[name]["in_process_status"] = count["status"]
            results[name]["rows_read"] = count.get("rows_read")
            results[name]["worst_query"] = count.get("worst_query")
    return {
        "pages": results,
        "facts": facts,
        "prepared": prepared,
        "enqueued": enqueued,
        "workers": Server.expected_workers(),
    }


def _say_page(name: str, r: dict) -> None:
    if "skipped" in r:
        say(f"  {name:32} skipped: {r['skipped']}")
        return
    say(
        f"  {name:32} median {r['median_ms']:8.1f} ms  p95 {r['p95_ms']:8.1f} ms  "
        f"{r['median_ms'] / r['baseline_ms']:6.1f}x  {r['bytes'] / 1024:7.0f} KB  "
        f"CPU {r['cpu_ms']:6.1f} ms + db {r['db_cpu_ms']:5.1f} ms  ({r['samples']} samples"
        + (f", {r['errors']} errors: {r['error_kinds']}" if r["errors"] else "")
        + ")"
    )


# P2 -------------------------------------------------------------------------------------------
def p2(state: dict) -> dict:
    return {what: django(state["url"], "batch", what) for what in ("planner", "refresh")}


# P3 -------------------------------------------------------------------------------------------
class CountingSink:
    def __init__(self):
        self.lock = threading.Lock()
        self.accepted = 0
        self.last = 0.0

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.accepted += 1
            self.last = time.time()
        return "250 Message accepted for delivery"


def p3(state: dict) -> dict:
    url = state["url"]
    broker = redis.Redis.from_url(REDIS_URL)
    broker.ping()
    sink = CountingSink()
    controller = Controller(sink, hostname="127.0.0.1", port=free_port(8900))
    controller.start()
    worker_env = prod_env(url, EMAIL_HOST="127.0.0.1", EMAIL_PORT=controller.port)
    purge_queues()
    worker = start(
        [
            str(BIN / "celery"),
            "-A",
            "bench.celery_app",
            "worker",
            "--pool=prefork",
            f"--concurrency={WORKER_CONCURRENCY}",
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
            "--loglevel=WARNING",
        ],
        worker_env,
        "celery-worker.log",
    )
    rounds = []
    try:
        time.sleep(2)
        if not wait_for(lambda: _worker_ready(worker_env), 60, step=1):
            raise RuntimeError("celery worker did not answer: see var/bench/celery-worker.log")
        # A warm-up round first, not counted: the pool processes load the templates, open
        # their database and SMTP connections and fill their caches on their first messages.
        warm_up = _p3_round(url, worker, worker_env, broker, sink)
        for index in range(P3_ROUNDS):
            rounds.append(_p3_round(url, worker, worker_env, broker, sink))
            r = rounds[-1]
            say(
                f"  round {index + 1}: emails {r['email_rate']:.0f}/s, no-op"
                f" {r['noop_rate']:.0f}/s: {r['email_rate'] / r['noop_rate']:.2f}"
            )
    finally:
        stop(worker)
        controller.stop()
    median = sorted(rounds, key=lambda r: r["email_rate"] / r["noop_rate"])[len(rounds) // 2]
    return {**median, "rounds": rounds, "warm_up": warm_up}


def _p3_round(url: str, worker, worker_env: dict, broker, sink: "CountingSink") -> dict:
    """One round on the running worker: the no-op rate, then P3_MESSAGES reminders."""
    prepared = django(url, "p3-prepare", str(P3_MESSAGES))
    noop_rate = _noop_rate(worker_env, broker, P3_MESSAGES * 2)
    due = prepared["due"]
    with sink.lock:
        sink.accepted, sink.last = 0, 0.0
    cpu_before = _cpu_seconds(worker)
    dispatched = django(url, "p3-dispatch", str(due))
    if not wait_for(lambda: sink.accepted >= due, 300, step=0.05):
        raise RuntimeError(f"only {sink.accepted} of {due} emails arrived")
    seconds = sink.last - dispatched["began"]
    cpu = {
        name: (after - cpu_before[name]) * 1000 / due
        for name, after in _cpu_seconds(worker).items()
    }
    return {
        "emails": due,
        "email_rate": due / seconds,
        "noop_rate": noop_rate,
        "dispatch_seconds": dispatched["seconds"],
        "statuses": django(url, "p3-outcome"),
        "cpu_ms_per_email": cpu,
    }


def _cpu_seconds(worker: subprocess.Popen) -> dict[str, float]:
    """CPU seconds used so far by the worker (its pool included), this process (the SMTP
    sink's thread, mostly), PostgreSQL and Redis: where the time of a send goes."""

    def used(processes) -> float:
        total = 0.0
        for process in processes:
            try:
                times = process.cpu_times()
            except psutil.Error:
                continue
            total += times.user + times.system
        return total

    tree = psutil.Process(worker.pid)
    named = list(psutil.process_iter(["name"]))
    return {
        "worker": used([tree, *tree.children(recursive=True)]),
        "sink (bench process)": used([psutil.Process()]),
        "postgres": used(p for p in named if p.info["name"] == "postgres"),
        "redis": used(p for p in named if (p.info["name"] or "").startswith("redis-server")),
    }


def _worker_ready(env: dict) -> bool:
    done = subprocess.run(
        [str(BIN / "celery"), "-A", "bench.celery_app", "inspect", "ping", "--timeout=2"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    return "pong" in done.stdout


def _noop_rate(env: dict, broker, count: int) -> float:
    """No-op tasks per second on the same worker and broker, enqueued as fast as the client can
    and timed until the last has run (a marker task per pool process)."""
    key = f"bench-done-{time.time_ns()}"
    script = (
        "import time, django; django.setup();"
        "from bench.celery_app import noop, done;"
        "print(time.time(), flush=True);"
        f"[noop.delay(i) for i in range({count})];"
        f"[done.delay({key!r}) for _ in range({WORKER_CONCURRENCY})]"
    )
    enqueued = subprocess.run(
        [sys.executable, "-c", script], env=env, cwd=ROOT, check=True, capture_output=True
    )
    began = float(enqueued.stdout.split()[0])
    if not wait_for(lambda: broker.llen(key) >= WORKER_CONCURRENCY, 300, step=0.02):
        raise RuntimeError("the no-op tasks did not finish")
    seconds = time.time() - began
    broker.delete(key)
    return count / seconds


# P4 -------------------------------------------------------------------------------------------
def p4(state: dict) -> dict:
    url = state["url"]
    django(url, "prepare")
    facts = django(url, "info")
    WORK.mkdir(parents=True, exist_ok=True)
    files = {
        "BENCH_SESSIONS": WORK / "locust-sessions.json",
        "BENCH_IDS": WORK / "locust-ids.json",
        "BENCH_FACTS": WORK / "locust-facts.json",
    }
    files["BENCH_IDS"].write_text(json.dumps(django(url, "load-ids", "500")))
    files["BENCH_FACTS"].write_text(
        json.dumps({"group": facts["big_group"], "search": facts["search"], "host": HOST_NAME})
    )
    server = Server(url)
    try:
        logins = django(url, "sessions", str(P4_USERS))
        files["BENCH_SESSIONS"].write_text(json.dumps(logins))
        patient = facts["patient_id"]
        warm(
            Browser(server.base, logins),
            [
                ("/today/", False),
                (f"/today/?group={facts['big_group']}&page=2", False),
                ("/patients/", False),
                (f"/patients/{patient}/", False),
                (f"/patients/{patient}/labs/new/", False),
                (f"/patients/{patient}/visits/new/", False),
                (f"/api/v1/patients/{patient}/status/", True),
            ],
        )
        meter = CpuMeter(server, exclude=[])
        before = meter.read()
        pace = _locust(server, files, "pace", users=P4_USERS, wait=P4_WAIT, seconds=P4_SECONDS)
        cpu = CpuMeter.since(before, meter.read())
        meter.close()
        pace["cpu_ms"] = cpu["workers"] * 1000 / max(1, pace["requests"])
        pace["db_cpu_ms"] = cpu["db"] * 1000 / max(1, pace["requests"])
        pace["worker_replaced"] = cpu["replaced"]
        say(f"  at a clinic's pace: {_p4_line(pace)}")
        files["BENCH_SESSIONS"].write_text(
            json.dumps(django(url, "sessions", str(max(STEP_USERS))))
        )
        stages = [[users, STEP_SECONDS] for users in STEP_USERS]
        steps = _locust(server, files, "steps", wait=STEP_WAIT, stages=stages)
        for stage in steps["stages"]:
            say(f"  step {stage['users']} users: {_p4_line(stage)}")
    finally:
        server.stop()
    return {"pace": pace, "steps": steps, "facts": facts, "workers": Server.expected_workers()}


def _p4_line(r: dict) -> str:
    return (
        f"{r['rps']:.1f} requests/s, p50 {r['p50_ms']:.0f} ms, p95 {r['p95_ms']:.0f} ms,"
        f" {r['failures']} failures {r['failure_kinds'] or ''}"
    )


def _locust(server, files, name, *, wait, users=0, seconds=0, stages=None) -> dict:
    out = WORK / f"locust-{name}.json"
    out.unlink(missing_ok=True)
    args = [
        str(BIN / "locust"),
        "-f",
        str(ROOT / "bench" / "locustfile.py"),
        "--headless",
        f"--host={server.base}",
        "--only-summary",
        "--stop-timeout=10",
        "--loglevel=WARNING",
    ]
    if not stages:
        args += [f"--users={users}", f"--spawn-rate={users}", f"--run-time={seconds}s"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(
        args,
        env={
            **base_env(),
            **{key: str(path) for key, path in files.items()},
            "BENCH_WAIT": f"{wait[0]},{wait[1]}",
            "BENCH_STAGES": json.dumps(stages or []),
            "BENCH_LOCUST_OUT": str(out),
        },
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    generator = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    (WORK / f"locust-{name}.log").write_text(done.stdout + done.stderr)
    if not out.exists():
        raise RuntimeError(f"locust wrote no results: see var/bench/locust-{name}.log")
    result = json.loads(out.read_text())
    records, began = result["records"], result["started"]
    if not stages:
        return {**_summary(records, seconds), "generator_cpu_s": generator}
    summaries, start_at = [], began
    for users, length in stages:
        window = [r for r in records if start_at + STEP_SETTLE <= r[4] < start_at + length]
        summaries.append({"users": users, **_summary(window, length - STEP_SETTLE)})
        start_at += length
    return {"stages": summaries, "generator_cpu_s": generator}


def _summary(records: list, seconds: float) -> dict:
    """records: (name, ms, ok, status, finished at, failure)."""
    times = [r[1] for r in records]
    failures = Counter(f"{r[0]}: {r[5]}" for r in records if not r[2])
    names = {}
    for name in sorted({r[0] for r in records}):
        mine = [r for r in records if r[0] == name]
        names[name] = {
            "count": len(mine),
            "median_ms": statistics.median([r[1] for r in mine]),
            "p95_ms": percentile([r[1] for r in mine], 0.95),
            "failures": sum(1 for r in mine if not r[2]),
        }
    return {
        "requests": len(records),
        "rps": len(records) / seconds,
        "p50_ms": percentile(times, 0.5) if times else 0,
        "p95_ms": percentile(times, 0.95) if times else 0,
        "failures": sum(failures.values()),
        "failure_kinds": dict(failures.most_common(8)),
        "statuses": dict(Counter(str(r[3]) for r in records)),
        "pages": names,
    }


# Report ---------------------------------------------------------------------------------------
def machine() -> dict:
    cpu = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        found = re.search(r"model name\s*:\s*(.+)", cpuinfo.read_text())
        cpu = found.group(1) if found else cpu
    memory = "unknown"
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        found = re.search(r"MemTotal:\s*(\d+) kB", meminfo.read_text())
        memory = f"{int(found.group(1)) / 1024 / 1024:.1f} GB" if found else memory
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory": memory,
        "system": platform.platform(),
        "python": platform.python_version(),
    }


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def verdict(passed: bool | None) -> str:
    return "n/a" if passed is None else ("pass" if passed else "**FAIL**")


def git_commit() -> str:
    done = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    )
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    ).stdout.strip()
    return done.stdout.strip() + (" (with uncommitted changes)" if dirty else "")


# The run of 2026-12-07 (bench/previous-2026-12-07.md): DJANGO_DEBUG on, no second factor, the
# new-patient form as the baseline, 4 gunicorn workers with a 300 s timeout, 10,000 patients.
PREVIOUS_P1 = {
    "Today": "31.2 ms, 2.3x, 17 q, 156 KB",
    "Today CSV": "603 ms, 44.6x, 18 q",
    "patient list": "15.8 ms, 1.2x, 8 q",
    "patient page": "25.2 ms, 1.9x, 21 q",
    "API status": "15.2 ms, 1.1x, 15 q",
}
PREVIOUS_P2 = {
    ("planner", 10_000): "2.4 s, 111 MB",
    ("refresh", 10_000): "2.4 s, 111 MB",
    ("planner", 100_000): "22.8 s, 116 MB",
    ("refresh", 100_000): "25.8 s, 117 MB",
}


def cell(r: dict, key: str, fmt: str) -> str:
    value = r.get(key)
    return "-" if value is None else format(value, fmt)


def report(results: dict) -> str:
    p1s = {int(k): v for k, v in results["p1"].items()}
    p2s = {int(k): v for k, v in results["p2"].items()}
    p3r, p4r = results["p3"], results["p4"]
    m = machine()
    redis_version = redis.Redis.from_url(REDIS_URL).info()["redis_version"]
    first = p1s[P1_SIZES[0]]
    lines = [
        "# Benchmarks (`make bench`)",
        "",
        f"Run on {results['date']} UTC, in {(results['finished'] - results['started']) / 60:.0f}"
        " minutes"
        + (" (BENCH_QUICK=1: 1,000 patients, short runs)" if QUICK else "")
        + f", at commit {results['commit']}. Produced by `bench/run.py`; the targets are"
        " docs/quality.md's P1-P4 (issue 25). The figures of the previous run (2026-12-07,"
        " measured another way) are kept beside them and in full at the end.",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory']} RAM; {m['system']}; Python"
        f" {m['python']}; {first['facts']['postgres']}; Redis {redis_version}; PostgreSQL,"
        " Redis, gunicorn, the load generator and the bench share the machine. Load average"
        f" (1, 5, 15 min) at the start {results['load_start']}, at the end"
        f" {results['load_end']}: the {m['cores']} cores are shared with other engineers'"
        " processes (test runs, editors) during the run, so absolute figures are noisy; the"
        " ratios measured side by side in one run are the meaningful ones.",
        "",
        f"Setup: gunicorn with deploy/gunicorn.conf.py ({first['workers']} sync workers, 2 x"
        " cores + 1; gunicorn's default 30 s timeout; its access log) and production settings:"
        f" DJANGO_DEBUG off, a {len(SECRET_KEY)}-character secret key, SITE_URL"
        f" https://{HOST_NAME}, EMAIL_HOST, REDIS_URL ({REDIS_URL}), DEFAULT_FROM_EMAIL"
        f" clinic@{HOST_NAME}; static files collected for the manifest storage; the cached"
        " template loader. Each request comes as the TLS proxy forwards it (`Host:"
        f" {HOST_NAME}`, `X-Forwarded-Proto: https`, which SECURE_PROXY_SSL_HEADER trusts;"
        " SECURE_SSL_REDIRECT is on), the Secure session and CSRF cookies sent by hand. The"
        " bench user's sessions are logged in and past the second factor (django-otp's device"
        " id in the session, as the verify page leaves it), in its clinic; Today answered 200"
        " before any measurement. Redirects are never followed: any answer outside 2xx is an"
        " error. No Celery worker runs during P1 and P2: a refresh a request enqueues is never"
        " run. Demo data from `seed_demo --bulk` (every gate state of demo/seeding.py in"
        " turn). Seeding: "
        + "; ".join(f"{size:,} patients {text}" for size, text in sorted(SEEDING.items()))
        + f". Static files: {results.get('static', '?')}.",
        "",
    ]
    lines += _p1_report(p1s)
    lines += _p2_report(p2s)
    lines += _p3_report(p3r)
    lines += _p4_report(p4r, p1s)
    lines += ["## Notes on this run", "", *(f"- {note}" for note in results.get("notes", []))]
    if not results.get("notes"):
        lines.append("- (none)")
    lines += ["", *_previous()]
    return "\n".join(lines) + "\n"


def _p1_report(p1s: dict) -> list[str]:
    lines = [
        "## P1: pages, from outside",
        "",
        "Median and p95 in ms over sequential samples (up to"
        f" {P1_SAMPLES} a page after 2 warm-up requests, fewer for a page slower than"
        f" {P1_MAX_SECONDS} s in all; cold pages {P1_COLD_SAMPLES}, each right after the step"
        " that makes the kept rows stale, no warm-up). The empty view is `GET /account/session/`"
        " (204): logged in, past the second factor, every middleware, no page. Ratio = the"
        f" page's median / the median of {BASELINE_SAMPLES} samples of the empty view taken just"
        ' before the page\'s (column "empty"; the machine is shared and its load drifts over a'
        " run, so each page is compared with the baseline of its own minute). CPU = the"
        " gunicorn workers' time on a CPU over the page's samples / samples (from"
        " /proc/<pid>/schedstat, in nanoseconds); db = their PostgreSQL backends' the same way."
        " Queries are counted in a Django process with the same settings and session (a"
        " request after a warm-up one). Errors = answers outside 2xx (or none: a timeout).",
        "",
    ]
    for size in P1_SIZES:
        pages = p1s[size]["pages"]
        facts = p1s[size]["facts"]
        lines += [
            f"### {size:,} patients",
            "",
            f"Today's biggest group: `{facts['big_group']}`"
            f" ({facts['groups'].get(facts['big_group'], 0):,} rows); category"
            f" `{facts['category']}` ({facts['categories'].get(facts['category'], 0):,}"
            f" patients); search: part of the commonest family name ({len(facts['search'])}"
            " letters); patient: DEMO-0003 (in treatment).",
            "",
            "| page | median | p95 | empty | ratio | queries | rows read | size | CPU ms | db ms |"
            " errors |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for name in [*PAGES, *COLD]:
            r = pages.get(name)
            if r is None:
                continue
            if "skipped" in r:
                lines.append(f"| {name} | skipped: {r['skipped']} | | | | | | | | | |")
                continue
            replaced = " (a worker was replaced)" if r.get("worker_replaced") else ""
            kinds = ", ".join(f"{k} x{n}" for k, n in r["error_kinds"].items())
            lines.append(
                f"| {name} | {r['median_ms']:.1f} | {r['p95_ms']:.1f} |"
                f" {r['baseline_ms']:.1f} | {r['median_ms'] / r['baseline_ms']:.1f}x |"
                f" {r.get('queries', '-')} | {_rows(r)} |"
                f" {r['bytes'] / 1024:.0f} KB | {r['cpu_ms']:.1f}{replaced} |"
                f" {r['db_cpu_ms']:.1f} | {r['errors']}/{r['samples']}"
                + (f" ({kinds})" if kinds else "")
                + " |"
            )
        enqueued = p1s[size].get("enqueued") or {}
        lines += [
            "",
            "Messages the requests left in the broker (no worker running): "
            + (", ".join(f"{k} {n}" for k, n in enqueued.items()) or "none")
            + ".",
            "",
        ]
    lines += _p1_summary(p1s)
    return lines


def _rows(r: dict) -> str:
    read = r.get("rows_read")
    return "-" if read is None else f"{read:,}"


def whole_clinic(p1s: dict, size: int) -> dict[str, dict]:
    """The pages (the CSV aside: it is the clinic's rows) with a query that reads at least
    half as many rows as the clinic has patients."""
    patients = p1s[size]["facts"]["patients"]
    return {
        name: r
        for name, r in p1s[size]["pages"].items()
        if name != "Today CSV" and (r.get("rows_read") or 0) >= patients / 2
    }


def _p1_summary(p1s: dict) -> list[str]:
    sizes = P1_SIZES
    top, small = p1s[sizes[-1]]["pages"], p1s[sizes[0]]["pages"]
    lines = [
        "### Across sizes",
        "",
        "| page |"
        + "".join(f" {label(s)} ratio | {label(s)} queries |" for s in sizes)
        + " 2026-12-07 at 10k |",
        "|---|" + "---|" * (2 * len(sizes) + 1),
    ]
    for name in [*PAGES, *COLD]:
        row = f"| {name} |"
        for size in sizes:
            r = p1s[size]["pages"].get(name, {})
            if "median_ms" not in r:
                row += " - | - |"
                continue
            ratio = r["median_ms"] / r["baseline_ms"]
            row += f" {ratio:.1f}x | {r.get('queries', '-')} |"
        lines.append(row + f" {PREVIOUS_P1.get(name, '')} |")
    lines += [
        "",
        "The 2026-12-07 column is not comparable as a ratio: its baseline was the new-patient"
        " form (a page, not the empty view), with DJANGO_DEBUG on and no second factor.",
        "",
    ]
    scanning = whole_clinic(p1s, sizes[-1])
    unexamined = [n for n, r in top.items() if r.get("queries") and r.get("rows_read") is None]
    if scanning:
        lines += [
            f"Queries that read the whole clinic at {label(sizes[-1])} (rows read = the most rows"
            " one scan of one query reads, returned or filtered out, from EXPLAIN ANALYZE of the"
            " counted request's SELECTs):",
            "",
            *(
                f"- {name}: {r['rows_read']:,} rows: `{r.get('worst_query', '')}`"
                for name, r in scanning.items()
            ),
            "",
        ]

    def ratio(name):
        r = top.get(name, {})
        return r["median_ms"] / r["baseline_ms"] if "median_ms" in r else None

    measured = [*PAGES, *COLD]
    counted = [n for n in measured if all("median_ms" in p1s[s]["pages"].get(n, {}) for s in sizes)]
    differ = [n for n in counted if len({p1s[s]["pages"][n].get("queries") for s in sizes}) > 1]
    errors = sum(
        r.get("errors", 0) for s in sizes for r in p1s[s]["pages"].values() if "errors" in r
    )
    samples = sum(
        r.get("samples", 0) for s in sizes for r in p1s[s]["pages"].values() if "samples" in r
    )
    size_ratio = top["Today"]["bytes"] / max(1, small["Today"]["bytes"])
    csv = top["Today CSV"]
    several = len(sizes) > 1
    at = label(sizes[-1])
    lines += ["| P1 target | measured | verdict |", "|---|---|---|"]
    for name in WITHIN_3X:
        value = ratio(name)
        if value is None:
            reason = top.get(name, {}).get("skipped", "not measured")
            lines.append(f"| {name} within 3x the empty view at {at} | {reason} | n/a |")
            continue
        lines.append(
            f"| {name} within 3x the empty view at {at} | {value:.1f}x |"
            f" {verdict(value <= 3 and top[name]['errors'] == 0)} |"
        )
    lines += [
        f"| CSV of the clinic under 5 s at {at} | {csv['median_ms'] / 1000:.2f} s"
        f" ({csv.get('lines', 1) - 1:,} rows, {csv['bytes'] / 1024 / 1024:.1f} MB) |"
        f" {verdict(csv['median_ms'] < 5000 and csv['errors'] == 0)} |",
        f"| Today's size independent of the clinic's ({label(sizes[0])} to {at}) |"
        f" {size_ratio:.2f}x the bytes | {verdict(size_ratio <= 1.1 if several else None)} |",
        "| a fixed number of queries whatever the patient count |"
        + (f" differ: {', '.join(differ)} |" if differ else " same counts at every size |")
        + f" {verdict(not differ if several else None)} |",
        f"| no query reads the whole clinic ({at}; the CSV aside) |"
        + (f" {', '.join(scanning)}" if scanning else " none does")
        + (f"; not examined: {', '.join(unexamined)} ({EXAMINE_NOTE})" if unexamined else "")
        + f" | {verdict(not scanning)} |",
        f"| every answer 2xx | {errors} errors in {samples} answers | {verdict(errors == 0)} |",
    ]
    for name in ("Today", "patient page"):
        worst = max(p1s[s]["pages"][name]["cpu_ms"] for s in sizes)
        lines.append(
            f"| {name}: CPU per request {CPU_TARGET_MS} ms or less (gunicorn worker, every"
            f" size) | {worst:.1f} ms at most | {verdict(worst <= CPU_TARGET_MS)} |"
        )
    return [*lines, ""]


def _p2_report(p2s: dict) -> list[str]:
    lines = [
        "## P2: batch work over a whole clinic",
        "",
        "Each job in its own Django process with production settings. Wall time; the process's"
        " CPU (user + system) and its PostgreSQL backend's; the process's peak resident memory"
        " (Django loaded included; baseline = the peak before the job). The refresh is the"
        " one that recomputes every row: `monitoring.kept.mark_stale(clinic)` (a settings"
        " change) then `prepare(clinic, today)`, which recomputes every patient and writes the"
        " rows whose answer changed. Then it runs again for the same date on the unchanged"
        " clinic; the planner runs again too.",
        "",
        "| job | patients | seconds | CPU s | db CPU s | peak MB | baseline MB | rows written |"
        " again: rows, s | 2026-12-07 |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for size in P2_SIZES:
        for what, r in p2s[size].items():
            again = r["again"]
            lines.append(
                f"| {what} | {size:,} | {r['seconds']:.1f} | {r['cpu_seconds']:.1f} |"
                f" {cell(r, 'db_cpu_seconds', '.1f')} | {r['peak_mb']:.0f} |"
                f" {r['baseline_mb']:.0f} | {r['outcome']} | {again['outcome']},"
                f" {again['seconds']:.1f} s | {PREVIOUS_P2.get((what, size), '')} |"
            )
    top = P2_SIZES[-1]
    final = not QUICK
    lines += ["", "| P2 target | measured | verdict |", "|---|---|---|"]
    for what in ("planner", "refresh"):
        r = p2s[top][what]
        lines += [
            f"| {what} at {top:,}: under 30 s | {r['seconds']:.1f} s |"
            f" {verdict(r['seconds'] < 30 if final else None)} |",
            f"| {what} at {top:,}: under 300 MB | {r['peak_mb']:.0f} MB |"
            f" {verdict(r['peak_mb'] < 300 if final else None)} |",
        ]
        if len(P2_SIZES) > 1:
            growth = r["cpu_seconds"] / p2s[P2_SIZES[0]][what]["cpu_seconds"]
            lines.append(
                f"| {what}: 10x the patients at most 11x the CPU time | {growth:.1f}x |"
                f" {verdict(growth <= 11)} |"
            )
    again = p2s[top]["refresh"]["again"]["outcome"]
    lines += [
        f"| a refresh of an unchanged clinic writes nothing ({top:,}) | {again} rows |"
        f" {verdict(again == 0)} |",
        "",
    ]
    return lines


def _p3_report(p3r: dict | None) -> list[str]:
    lines = ["## P3: sending through Celery and Redis to a local SMTP sink", ""]
    if p3r is None or "error" in p3r:
        return [*lines, f"Not measured: {(p3r or {}).get('error', 'see the run output')}.", ""]
    share = p3r["email_rate"] / p3r["noop_rate"]
    ratios = sorted(r["email_rate"] / r["noop_rate"] for r in p3r["rounds"])
    return [
        *lines,
        f"One worker (prefork, concurrency {WORKER_CONCURRENCY}) with production settings,"
        f" Redis {REDIS_URL}, an aiosmtpd sink in the bench process; {label(LOAD_SIZE)} clinic.",
        "",
        f"{len(p3r['rounds'])} rounds on the one worker after a warm-up round that is not"
        f" counted (warm-up: {p3r['warm_up']['noop_rate']:.0f} no-op tasks/s,"
        f" {p3r['warm_up']['email_rate']:.0f} emails/s); each round measures the no-op rate,"
        f" then sends {p3r['emails']} reminders (dispatch to the last one accepted). The median"
        f" round (by ratio) is the measurement; the ratios ranged {ratios[0]:.2f}-"
        f"{ratios[-1]:.2f}. The run of 2026-12-07: 0.50, the median of 5 rounds.",
        "",
        "| round | no-op task | reminder emails | ratio |",
        "|---|---|---|---|",
        *(
            f"| {index} | {r['noop_rate']:.0f} tasks/s | {r['email_rate']:.0f} emails/s |"
            f" {r['email_rate'] / r['noop_rate']:.2f} |"
            for index, r in enumerate(p3r["rounds"], 1)
        ),
        "",
        f"Final statuses of the median round: {p3r['statuses']}.",
        "",
        "CPU per email in the median round (dispatch to the last accepted): "
        + ", ".join(f"{name} {ms:.2f} ms" for name, ms in p3r["cpu_ms_per_email"].items())
        + f"; {os.cpu_count()} cores.",
        "",
        "| P3 target | measured | verdict |",
        "|---|---|---|",
        f"| at least 0.4 of the no-op rate (median of {len(p3r['rounds'])} rounds) |"
        f" {share:.2f} | {verdict(share >= 0.4)} |",
        "",
    ]


def _p4_report(p4r: dict | None, p1s: dict) -> list[str]:
    lines = [f"## P4: the load of a clinic (locust), {label(LOAD_SIZE)} patients", ""]
    if p4r is None or "error" in p4r:
        return [*lines, f"Not measured: {(p4r or {}).get('error', 'see the run output')}.", ""]
    pace, steps = p4r["pace"], p4r["steps"]["stages"]
    lines += [
        f"{P4_USERS} users for {P4_SECONDS} s, {P4_WAIT[0]}-{P4_WAIT[1]} s between actions,"
        f" against one gunicorn ({p4r['workers']} workers, the settings of P1). Each user has"
        " its own verified session and CSRF cookie. Actions (weights): Today 4, a group's page"
        " 2 of Today 1, a patient page 4, the patient list 2, the API status 2, a search 1 (the"
        " form's POST, then its results), a lab result 1 and a monthly visit 1 (each: the form"
        " page, then its POST with the page's CSRF token). Redirects are not followed: a"
        " successful form's 302 to the page it should name is a success; any other answer"
        " outside 2xx, a redirect anywhere else (the login, the second factor) or a form sent"
        " back with errors is a failure. The load generator runs on the same 2 cores.",
        "",
        "| | requests | requests/s | p50 ms | p95 ms | failures | CPU ms per request |",
        "|---|---|---|---|---|---|---|",
        f"| all | {pace['requests']} | {pace['rps']:.1f} | {pace['p50_ms']:.0f} |"
        f" {pace['p95_ms']:.0f} | {pace['failures']} | {pace['cpu_ms']:.1f} (+ db"
        f" {pace['db_cpu_ms']:.1f}) |",
    ]
    for name, r in pace["pages"].items():
        lines.append(
            f"| {name} | {r['count']} | | {r['median_ms']:.0f} | {r['p95_ms']:.0f} |"
            f" {r['failures']} | |"
        )
    generator = pace.get("generator_cpu_s")
    if generator is not None:
        lines += [
            "",
            f"The load generator (locust) used {generator:.0f} s of CPU over the {P4_SECONDS} s"
            f" ({generator * 1000 / max(1, pace['requests']):.1f} ms per request) on the same"
            " cores.",
        ]
    if pace["failure_kinds"]:
        kinds = "; ".join(f"{k} x{n}" for k, n in pace["failure_kinds"].items())
        lines += ["", f"Failures: {kinds}."]
    lines += [
        "",
        f"Answers by status: {pace['statuses']}. The run of 2026-12-07 (50 users, 0.5-1.5 s"
        " between reads, no writes, DJANGO_DEBUG on): 47.1 requests/s, p95 84 ms, 0 errors.",
        "",
        f"Step load: users added every {STEP_SECONDS} s, {STEP_WAIT[0]}-{STEP_WAIT[1]} s between"
        f" actions, the same actions; each stage's first {STEP_SETTLE} s are left out.",
        "",
        "| users | requests/s | p50 ms | p95 ms | failures |",
        "|---|---|---|---|---|",
        *(
            f"| {s['users']} | {s['rps']:.1f} | {s['p50_ms']:.0f} | {s['p95_ms']:.0f} |"
            f" {s['failures']} |"
            for s in steps
        ),
        "",
    ]
    crossing = next((i for i, s in enumerate(steps) if s["p95_ms"] > P95_LIMIT_MS), None)
    if crossing is None:
        where = (
            f"not crossed up to {steps[-1]['rps']:.0f} requests/s ({steps[-1]['users']} users;"
            " the load generator shares the cores)"
        )
    elif crossing == 0:
        where = f"already above at the first stage ({steps[0]['rps']:.0f} requests/s)"
    else:
        below, above = steps[crossing - 1], steps[crossing]
        where = (
            f"between {below['rps']:.0f} requests/s (p95 {below['p95_ms']:.0f} ms) and"
            f" {above['rps']:.0f} requests/s (p95 {above['p95_ms']:.0f} ms)"
        )
    lines += [
        f"The p95 crosses {P95_LIMIT_MS} ms {where}.",
        "",
        "CPU per request by page, from P1 (gunicorn workers; at "
        + ", ".join(label(s) for s in P1_SIZES)
        + "): "
        + "; ".join(
            f"{name} "
            + "/".join(f"{p1s[s]['pages'][name]['cpu_ms']:.1f}" for s in P1_SIZES)
            + " ms"
            for name in PAGES
        )
        + ".",
        "",
        "| P4 target | measured | verdict |",
        "|---|---|---|",
        f"| 0 non-2xx answers (a successful form's redirect aside) | {pace['failures']} |"
        f" {verdict(pace['failures'] == 0)} |",
        f"| p95 under {P95_LIMIT_MS} ms | {pace['p95_ms']:.0f} ms |"
        f" {verdict(pace['p95_ms'] < P95_LIMIT_MS)} |",
    ]
    for name in ("Today", "patient page"):
        worst = max(p1s[s]["pages"][name]["cpu_ms"] for s in P1_SIZES)
        lines.append(
            f"| {name}: {CPU_TARGET_MS} ms of CPU per request or less | {worst:.1f} ms |"
            f" {verdict(worst <= CPU_TARGET_MS)} |"
        )
    return [*lines, ""]


def _previous() -> list[str]:
    """The run of 2026-12-07, as it was written, its headings a level down."""
    if not PREVIOUS.exists():
        return []
    text = PREVIOUS.read_text().splitlines()
    body = [("#" + line if line.startswith("#") else line) for line in text[1:]]
    return [
        "## The previous run (2026-12-07), as written then",
        "",
        "Measured differently: DJANGO_DEBUG on, the second factor off (DEMO_OTP=off), the"
        " new-patient form as the baseline, 4 gunicorn workers with a 300 s timeout, P1 at 1,000"
        " and 10,000 patients only, P3 the median of 5 rounds, P4 reads only at 0.5-1.5 s"
        " between requests for 60 s.",
        *body,
    ]


# Main -----------------------------------------------------------------------------------------
def guarded(what: str, job):
    """A section that fails is reported as failed; the others still run."""
    try:
        return job()
    except Exception as error:
        say(f"  {what} failed: {error}")
        return {"error": str(error)[:2000]}


def main() -> None:
    started = time.time()
    results = {"load_start": load_average(), "started": started, "notes": []}
    say(f"make bench{' (BENCH_QUICK=1)' if QUICK else ''}: databases from {DATABASE_URL}")
    states = {}
    for size in sorted(set(P1_SIZES + P2_SIZES + [LOAD_SIZE])):
        say(f"Seeding {size:,} patients")
        states[size] = seeded(size)
    results["static"] = collect_static(states[P1_SIZES[0]]["url"])
    say(f"Static files: {results['static']}")
    p1s = {}
    for size in P1_SIZES:
        say(f"P1 at {size:,} patients")
        p1s[size] = p1(states[size])
    p2s = {}
    for size in P2_SIZES:
        say(f"P2 at {size:,} patients")
        p2s[size] = p2(states[size])
        for what, r in p2s[size].items():
            say(f"  {what}: {r}")
    say(f"P3 at {LOAD_SIZE:,} patients")
    p3r = guarded("P3", lambda: p3(states[LOAD_SIZE]))
    say(f"P4 at {LOAD_SIZE:,} patients")
    p4r = guarded("P4", lambda: p4(states[LOAD_SIZE]))
    results.update(
        p1=p1s,
        p2=p2s,
        p3=p3r,
        p4=p4r,
        seeding=SEEDING,
        finished=time.time(),
        load_end=load_average(),
        date=f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M}",
        commit=git_commit(),
    )
    (WORK / f"results{'-quick' if QUICK else ''}.json").write_text(json.dumps(results))
    text = report(results)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(text)
    say(f"Wrote {OUT.relative_to(ROOT)} in {(time.time() - started) / 60:.1f} minutes")


def report_again() -> None:
    """Write the report again from the last run's figures (after editing its wording, or to add
    notes: `results.json`'s "notes" are listed under "Notes on this run")."""
    results = json.loads((WORK / f"results{'-quick' if QUICK else ''}.json").read_text())
    SEEDING.update({int(k): v for k, v in results["seeding"].items()})
    OUT.write_text(report(results))
    print(f"Wrote {OUT.relative_to(ROOT)} from {WORK.relative_to(ROOT)}")


if __name__ == "__main__":
    if sys.argv[1:] == ["--report"]:
        report_again()
        sys.exit()
    try:
        main()
    finally:
        for proc in list(PROCS):
            stop(proc)
