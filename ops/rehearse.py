"""`make rehearse`: the production topology on one machine under load and faults.

Separate processes sharing one PostgreSQL (database `rehearse`, dropped and made anew each run)
and one Redis (a redis-server of its own on a free port): nginx with TLS in front of two gunicorn
instances, two Celery workers, one beat, an SMTP sink counting Message-IDs. All but the
seeding run with production settings (DJANGO_DEBUG=false and every production variable set).
Under a locust load of staff reading pages and recording consents, it SIGKILLs one gunicorn and
one worker while reminders are going out, and starts a second beat by mistake. It prints the
requests failed (before and after the proxy marked the dead instance down), the reminders due,
delivered once, duplicated (flagged possible_duplicate or not) and lost, and the time to drain,
and exits non-zero unless 0 reminders are lost, 0 duplicates are unflagged and no request failed
once the proxy had marked the dead instance down.

Everything it starts is stopped by its own process id when it ends.
"""

import argparse
import json
import os
import re
import secrets
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from pathlib import Path

import psycopg
import redis
from aiosmtpd.controller import Controller

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.reminders.stack import Sink, free_port, wait_for  # noqa: E402 - the fault tests' sink

BIN = Path(sys.executable).parent
SERVER = os.environ.get("REHEARSE_POSTGRES", "postgres://postgres@127.0.0.1:5432")
DATABASE = "rehearse"
HOST = "clinic.rehearse.test"
PASSWORD = secrets.token_urlsafe(16)
FINAL = ("sent", "failed", "cancelled", "expired")
# A line of the proxy's access log (nginx_conf): msec, time, status, "upstreams" "their answers"
ACCESS_LINE = re.compile(r'^(\S+) \S+ \d+ "([^"]*)" "([^"]*)"$')
# The fault tests' timeouts (tests/reminders/stack.py): a killed worker's rows come back in
# seconds, not minutes.
REMINDER_ENV = {
    "REMINDER_DISPATCH_EVERY_SECONDS": "1",
    "REMINDER_PLAN_EVERY_SECONDS": "10",
    "REMINDER_DIGEST_EVERY_SECONDS": "5",
    "TRIAGE_REFRESH_EVERY_SECONDS": "10",
    "REMINDER_RETRY_BASE_SECONDS": "1",
    "REMINDER_CLAIM_TIMEOUT_SECONDS": "8",
    "REMINDER_SEND_TIME_LIMIT_SECONDS": "6",
    "REMINDER_ATTEMPT_TIMEOUT_SECONDS": "10",
    "BEAT_LOCK_SECONDS": "6",
}


class Rehearsal:
    def __init__(self, tmp: Path, reminders: int):
        self.tmp, self.due_target = tmp, reminders
        self.procs: dict[str, subprocess.Popen] = {}
        self.events: dict[str, float] = {}
        self.sink = Sink(delay=0.1)  # 0.1 s a message: sending lasts long enough to be hit
        self.smtp = Controller(self.sink, hostname="127.0.0.1", port=free_port(8125))
        self.redis_port = free_port(6390)
        self.web_ports = [free_port(8300), free_port(8350)]
        self.proxy_port = free_port(8443)
        self.database_url = f"{SERVER}/{DATABASE}"
        self.production = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "CELERY_"))},
            "DJANGO_SETTINGS_MODULE": "clinic.settings",
            "DJANGO_DEBUG": "false",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(64),
            "DJANGO_ALLOWED_HOSTS": f"{HOST},127.0.0.1,localhost",
            "SITE_URL": f"https://{HOST}",
            "DATABASE_URL": self.database_url,
            "REDIS_URL": f"redis://127.0.0.1:{self.redis_port}/0",
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(self.smtp.port),
            "EMAIL_TIMEOUT": "5",
            "DEFAULT_FROM_EMAIL": f"reminders@{HOST}",
            **REMINDER_ENV,
        }

    # processes --------------------------------------------------------------------------
    def start(self, name: str, argv: list[str], env: dict | None = None) -> subprocess.Popen:
        log = (self.tmp / f"{name}.log").open("ab")  # closed with the process
        proc = subprocess.Popen(  # noqa: S603 - our own programs, fixed arguments
            argv,
            cwd=ROOT,
            env=env or self.production,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: its children die with it
        )
        self.procs[name] = proc
        return proc

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        proc = self.procs.pop(name, None)
        if proc is None or proc.poll() is not None:
            return
        self.events[f"{name} killed"] = time.time()  # before: the proxy may log the break first
        try:
            os.killpg(proc.pid, sig)  # the process group started here, by its id
            proc.wait(15)
        except ProcessLookupError:
            return
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)

    def log(self, name: str) -> str:
        path = self.tmp / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def run(self, *argv: str, env: dict | None = None) -> None:
        done = subprocess.run(  # noqa: S603 - our own manage.py, fixed arguments
            [sys.executable, "manage.py", *argv],
            cwd=ROOT,
            env=env or self.production,
            capture_output=True,
            text=True,
        )
        if done.returncode:
            raise SystemExit(f"manage.py {' '.join(argv)} failed:\n{done.stdout}{done.stderr}")

    def close(self) -> None:
        for name in list(self.procs):
            self.kill(name, signal.SIGTERM)
        self.smtp.stop()

    # the topology -----------------------------------------------------------------------
    def fresh_database(self) -> None:
        with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
            admin.execute(f"CREATE DATABASE {DATABASE}")

    def start_redis(self) -> None:
        self.start(
            "redis",
            ["redis-server", "--port", str(self.redis_port), "--bind", "127.0.0.1"]
            + ["--save", "", "--appendonly", "no"],
        )
        client = redis.Redis(port=self.redis_port)
        if not wait_for(lambda: _answers(client.ping), 10):
            raise SystemExit("redis-server did not start:\n" + self.log("redis"))

    def web_answers(self, index: int) -> bool:
        """gunicorn serves the login page, asked directly as the proxy asks it."""
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.web_ports[index - 1]}/login/",
            headers={"Host": "127.0.0.1", "X-Forwarded-Proto": "https"},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as page:  # noqa: S310
                return page.status == 200
        except OSError:
            return False

    def start_web(self, index: int) -> None:
        port = self.web_ports[index - 1]
        self.start(
            f"gunicorn-{index}",
            [str(BIN / "gunicorn"), "clinic.wsgi:application", "--bind", f"127.0.0.1:{port}"]
            + ["--workers", "2", "--timeout", "30", "--graceful-timeout", "5"]
            + ["--no-control-socket"],  # gunicorn's default socket is one per user, not instance
        )

    def start_proxy(self) -> None:
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        if not Path(nginx).exists():
            raise SystemExit("nginx is missing: `make proxy` installs it (apt-get install nginx).")
        subprocess.run(  # noqa: S603 - a throwaway self-signed certificate for the run
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
            + ["-subj", f"/CN={HOST}", "-keyout", "key.pem", "-out", "cert.pem"],
            cwd=self.tmp,
            check=True,
            capture_output=True,
        )
        (self.tmp / "nginx.conf").write_text(nginx_conf(self.tmp, self.proxy_port, self.web_ports))
        self.start(
            "nginx",
            [nginx, "-p", str(self.tmp), "-c", str(self.tmp / "nginx.conf")]
            + ["-e", "nginx-error.log"],
        )

    def start_worker(self, index: int) -> None:
        self.start(
            f"worker-{index}",
            [str(BIN / "celery"), "-A", "clinic", "worker", "--pool=prefork", "--concurrency=2"]
            + ["--without-heartbeat", "--without-gossip", "--without-mingle"]
            + [f"--hostname=worker-{index}@%h", "--loglevel=INFO"],
        )

    def start_beat(self, index: int) -> None:
        beat = [str(BIN / "celery"), "-A", "clinic", "beat", "--loglevel=INFO"]
        self.start(f"beat-{index}", beat)
        self.events[f"beat-{index} started"] = time.time()

    def url(self, path: str) -> str:
        return f"https://127.0.0.1:{self.proxy_port}{path}"

    def serving(self) -> bool:
        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        try:
            with urllib.request.urlopen(self.url("/login/"), context=context, timeout=5) as page:  # noqa: S310
                return page.status == 200
        except OSError:
            return False


def _answers(call) -> bool:
    try:
        return bool(call())
    except redis.exceptions.ConnectionError:
        return False


def nginx_conf(tmp: Path, port: int, upstreams: list[int]) -> str:
    servers = "\n".join(
        f"        server 127.0.0.1:{p} max_fails=1 fail_timeout=30s;" for p in upstreams
    )
    return f"""daemon off;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log warn;
events {{ worker_connections 512; }}
http {{
    # No URI in the log (a patient search travels in the query string): the time, the answer and
    # which gunicorn answered, for the report.
    log_format upstreams '$msec $request_time $status "$upstream_addr" "$upstream_status"';
    access_log {tmp}/nginx-access.log upstreams;
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    client_max_body_size 11m;
    upstream clinic {{
{servers}
    }}
    server {{
        listen 127.0.0.1:{port} ssl;
        ssl_certificate {tmp}/cert.pem;
        ssl_certificate_key {tmp}/key.pem;
        location / {{
            proxy_pass http://clinic;
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-Proto https;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            # A refused or broken connection goes to the other instance, which is then marked
            # down for fail_timeout after max_fails such errors.
            proxy_next_upstream error timeout;
            proxy_connect_timeout 2s;
            proxy_read_timeout 30s;
        }}
    }}
}}
"""


# seeding and counting, in this process, with the settings of a development server -------------
def setup_django(stage: Rehearsal) -> None:
    os.environ.update(
        DJANGO_SETTINGS_MODULE="clinic.settings",
        DJANGO_DEBUG="true",  # for the seeding only; every server runs production settings
        # The servers' key: an API token made here keeps a hash keyed by it (clinic/api/auth.py).
        DJANGO_SECRET_KEY=stage.production["DJANGO_SECRET_KEY"],
        DATABASE_URL=stage.database_url,
        SITE_URL=stage.production["SITE_URL"],  # reminders' Message-IDs name its host
    )
    import django

    django.setup()


def seed(reminders: int, readers: int = 40) -> dict:
    """A clinic with no quiet hours and a send hour of midnight, so what is planned is due now
    (the fault tests' clinic): `reminders // 2` patients whose contraception staff have not
    confirmed after yesterday's test, two reminders each; `readers` patients who opted out of
    emails, whose pages the load reads and writes; four staff members."""
    import datetime as dt
    from decimal import Decimal

    from django.contrib.auth.models import User
    from django.utils import timezone

    from clinic.api.auth import issue_token
    from clinic.core.models import Clinic, Membership
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
            f"staff{index}", email=f"staff{index}@{HOST}", password=PASSWORD
        )
        Membership.objects.create(user=user, clinic=clinic, role="staff")
        staff.append(user.username)
        # Each login through the form costs a password hash; the API's tokens are made here.
        tokens.append(issue_token(user))
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
        "password": PASSWORD,
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


# the run ---------------------------------------------------------------------------------
def rehearse(stage: Rehearsal, users: int, seconds: int) -> dict:
    clock = Clock()
    stage.smtp.start()
    stage.fresh_database()
    stage.start_redis()
    # The manifest of static files production settings serve from, made while seeding.
    collect = [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"]
    static = stage.start("collectstatic", collect)
    stage.run("migrate", "--noinput")
    clock.lap("database migrated")
    setup_django(stage)
    setup = seed(stage.due_target)
    (stage.tmp / "setup.json").write_text(json.dumps(setup))
    due = {int(pk): mid for pk, mid in setup["due"].items()}
    clock.lap(f"seeded: {len(due)} reminders due, {len(setup['write_patients'])} patients to write")
    if static.wait(300):
        raise SystemExit("collectstatic failed:\n" + stage.log("collectstatic"))
    clock.lap("static files collected")

    for index in (1, 2):
        stage.start_web(index)
        stage.start_worker(index)
    for index in (1, 2):
        if not wait_for(lambda i=index: stage.web_answers(i), 90, 0.5):
            raise SystemExit(f"gunicorn-{index} does not serve:\n" + stage.log(f"gunicorn-{index}"))
        if not wait_for(lambda i=index: "ready." in stage.log(f"worker-{i}"), 90, 0.5):
            raise SystemExit(f"worker-{index} did not start:\n" + stage.log(f"worker-{index}"))
    stage.start_proxy()
    if not wait_for(stage.serving, 30, 0.5):
        raise SystemExit("the proxy does not serve /login/:\n" + stage.log("nginx-error"))
    clock.lap(
        f"up: nginx :{stage.proxy_port} -> gunicorn :{stage.web_ports[0]} and "
        f":{stage.web_ports[1]}, 2 workers, Redis :{stage.redis_port}, SMTP :{stage.smtp.port}"
    )

    stage.start(
        "locust",
        [str(BIN / "locust"), "-f", str(ROOT / "ops" / "locustfile.py"), "--headless"]
        + ["-u", str(users), "-r", "2", "-t", f"{seconds}s"]
        + ["--host", stage.url(""), "--only-summary", "--stop-timeout", "5"],
        env={
            **os.environ,
            "REHEARSE_SETUP": str(stage.tmp / "setup.json"),
            "REHEARSE_LOCUST_OUT": str(stage.tmp / "locust.json"),
        },
    )
    stage.events["load started"] = time.time()
    time.sleep(users / 2 + 2)  # every user logged in (two a second) before the faults
    stage.start_beat(1)
    # The faults land while reminders are going out: a quarter of them accepted at the sink.
    wait_for(lambda: len(stage.sink.accepted) >= len(due) // 4, 60, 0.05)
    stage.kill("worker-1")
    stage.kill("gunicorn-1")
    time.sleep(3)
    stage.start_beat(2)  # by mistake
    clock.lap("faults: worker-1 and gunicorn-1 SIGKILLed, beat-2 started")

    drained_at = None
    deadline = stage.events["load started"] + seconds + 90
    while time.time() < deadline:
        rows = reminder_rows()
        if drained_at is None and all(rows[pk][0] in FINAL for pk in due):
            drained_at = time.time()
        if drained_at and stage.procs["locust"].poll() is not None:
            break
        time.sleep(0.5)
    if stage.procs["locust"].poll() is None:
        stage.kill("locust", signal.SIGINT)
    time.sleep(2)  # a late duplicate would reach the sink now
    clock.lap("load over")
    (stage.tmp / "events.json").write_text(json.dumps(stage.events, indent=1))
    return {"due": due, "rows": reminder_rows(), "drained_at": drained_at}


class Clock:
    def __init__(self):
        self.started = time.monotonic()

    def lap(self, what: str) -> None:
        print(f"[{time.monotonic() - self.started:5.0f} s] {what}", flush=True)


def report(stage: Rehearsal, outcome: dict) -> bool:
    due, rows = outcome["due"], outcome["rows"]
    accepted = dict(stage.sink.accepted)
    counts = [accepted.get(mid, 0) for mid in due.values()]
    duplicated = [pk for pk, mid in due.items() if accepted.get(mid, 0) > 1]
    flagged = [pk for pk in duplicated if rows[pk][1]]
    lost = [pk for pk, mid in due.items() if mid not in accepted]
    statuses = Counter(status for pk, (status, _) in rows.items() if pk in due)
    digests = {mid: n for mid, n in accepted.items() if mid.startswith("<digest-")}
    unexpected = set(accepted) - set(due.values()) - set(digests)

    requests = json.loads((stage.tmp / "locust.json").read_text())
    dead = f"127.0.0.1:{stage.web_ports[0]}"
    marked_down = proxy_marked_down(
        stage.tmp / "nginx-access.log", dead, stage.events["gunicorn-1 killed"]
    )
    failed = [r for r in requests if not r[4]]
    after = [r for r in failed if marked_down is not None and r[1] > marked_down]
    by_name = Counter(r[0] for r in requests)
    failed_by = Counter((r[0], r[3]) for r in failed)
    times = sorted(r[2] for r in requests)
    beat_sends = {n: stage.log(n).count("Sending due task") for n in ("beat-1", "beat-2")}
    t0 = stage.events["beat-1 started"]

    print("")
    print("== make rehearse ==")
    print(
        f"requests: {len(requests)} total, {len(failed)} failed; p50 {pct(times, 50)} ms, "
        f"p95 {pct(times, 95)} ms"
    )
    for name, n in sorted(by_name.items()):
        print(f"  {name}: {n}")
    for (name, status), n in sorted(failed_by.items()):
        print(f"  failed: {name} answered {status or 'no answer'}: {n}")
    killed = stage.events["gunicorn-1 killed"]
    if marked_down is None:
        print(f"proxy: never sent a request to the dead gunicorn ({dead}) after the kill")
    else:
        print(
            f"proxy: marked gunicorn-1 ({dead}) down {marked_down - killed:.2f} s after its "
            f"SIGKILL; requests failed after that: {len(after)}"
        )
    print(
        f"reminders: {len(due)} due, {counts.count(1)} delivered once, {len(duplicated)} "
        f"duplicated ({len(flagged)} flagged possible_duplicate, "
        f"{len(duplicated) - len(flagged)} unflagged), {len(lost)} lost"
    )
    print(
        f"  rows: {dict(statuses)}; flagged possible_duplicate: "
        f"{sum(1 for pk in due if rows[pk][1])}; unexpected messages: {len(unexpected)}"
    )
    drained = outcome["drained_at"]
    print(
        "  time to drain: "
        + (
            f"{drained - t0:.1f} s from the first beat's start (worker-1 "
            f"SIGKILLed at +{stage.events['worker-1 killed'] - t0:.1f} s)"
            if drained
            else "NOT drained"
        )
    )
    print(f"staff digests: {len(digests)} sent, {sum(n - 1 for n in digests.values())} duplicated")
    print(
        f"beats: beat-1 sent {beat_sends['beat-1']} periodic tasks; beat-2 (started by mistake "
        f"{stage.events['beat-2 started'] - t0:.1f} s later) sent {beat_sends['beat-2']}"
    )

    problems = []
    if lost:
        problems.append(f"{len(lost)} reminders lost")
    if len(duplicated) != len(flagged):
        problems.append(f"{len(duplicated) - len(flagged)} unflagged duplicates")
    if after:
        problems.append(f"{len(after)} requests failed after the proxy marked gunicorn-1 down")
    if marked_down is None:
        problems.append("the proxy never reached the dead gunicorn: the kill was not rehearsed")
    if drained is None:
        problems.append("the reminders did not drain")
    if len(requests) < 100:
        problems.append(f"only {len(requests)} requests: the load did not run")
    if beat_sends["beat-2"]:
        problems.append(f"the second beat sent {beat_sends['beat-2']} periodic tasks")
    if any(n > 1 for n in digests.values()):
        problems.append("a staff digest went out twice")
    print("GOAL: " + ("met" if not problems else "NOT met: " + "; ".join(problems)))
    return not problems


def proxy_marked_down(access_log: Path, dead: str, killed: float) -> float | None:
    """When the proxy first failed to reach the dead instance after its kill (max_fails=1: it
    is marked down from then on): the end of the first request whose attempt on it failed
    (nginx logs 502 for a refused or broken connection, 504 for a timeout)."""
    for line in access_log.read_text().splitlines():
        msec, addresses, statuses = ACCESS_LINE.match(line).groups()
        if float(msec) < killed:
            continue
        tried = zip(addresses.split(", "), statuses.split(", "), strict=False)
        if any(addr == dead and status in ("502", "504") for addr, status in tried):
            return float(msec)
    return None


def pct(values: list[float], p: int) -> int:
    return round(values[min(len(values) - 1, len(values) * p // 100)] * 1000) if values else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reminders", type=int, default=400, help="reminders due (even)")
    parser.add_argument("--users", type=int, default=20, help="locust users")
    parser.add_argument("--seconds", type=int, default=60, help="length of the load")
    parser.add_argument("--keep", action="store_true", help="keep the logs' folder")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="rehearse-"))
    tmp.chmod(0o755)  # nginx's workers read the certificate as another user
    stage = Rehearsal(tmp, args.reminders)
    try:
        ok = report(stage, rehearse(stage, args.users, args.seconds))
    finally:
        stage.close()
        if args.keep:
            print(f"logs: {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
