"""The processes of `make rehearse` (ops/rehearse.py), each started and killed by its own id."""

import os
import secrets
import shutil
import signal
import ssl
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psycopg
import redis
from aiosmtpd.controller import Controller

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.reminders.stack import (  # noqa: E402 - the fault tests' sink and timeouts
    FAULT_TIMEOUTS,
    Sink,
    free_port,
    wait_for,
)

BIN = Path(sys.executable).parent
SERVER = os.environ.get("REHEARSE_POSTGRES", "postgres://postgres@127.0.0.1:5432")
DATABASE = "rehearse"
HOST = "clinic.rehearse.test"
# The fault tests' timeouts (tests/reminders/stack.py), so a killed worker's rows come back in
# seconds; the planner, the staff digest and the triage refresh every few seconds, so beat sends
# each of them many times during the run.
REMINDER_ENV = {
    **FAULT_TIMEOUTS,
    "REMINDER_PLAN_EVERY_SECONDS": "10",
    "REMINDER_DIGEST_EVERY_SECONDS": "5",
    "TRIAGE_REFRESH_EVERY_SECONDS": "10",
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
            "DJANGO_SETTINGS_MODULE": "config.settings",
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
            [str(BIN / "gunicorn"), "config.wsgi:application", "--bind", f"127.0.0.1:{port}"]
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
            [str(BIN / "celery"), "-A", "config", "worker", "--pool=prefork", "--concurrency=2"]
            + ["--without-heartbeat", "--without-gossip", "--without-mingle"]
            + [f"--hostname=worker-{index}@%h", "--loglevel=INFO"],
        )

    def start_beat(self, index: int) -> None:
        beat = [str(BIN / "celery"), "-A", "config", "beat", "--loglevel=INFO"]
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
