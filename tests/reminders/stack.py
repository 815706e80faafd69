"""Real components for the fault tests: Redis, a Celery worker and beat, an SMTP sink.

Everything started here is stopped by its own process id in `Stack.close()`.
"""

import asyncio
import email
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import redis
from aiosmtpd.controller import Controller

ROOT = Path(__file__).resolve().parents[2]
logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every SMTP line
CELERY = str(Path(sys.executable).parent / "celery")


# Each pytest-xdist worker (gw0, gw1, ...) looks for ports in a range of its own, so two workers
# never both find one port free before either binds it (the suite runs with -n, see Makefile).
_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
PORT_OFFSET = 15000 * int(_WORKER[2:] or 0) if _WORKER.startswith("gw") else 0


def free_port(start: int) -> int:
    start += PORT_OFFSET
    for port in range(start, start + 200):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port")


def wait_for(condition, timeout: float, step: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return condition()


# Timeouts shrunk from minutes to seconds, so a killed worker's or a lost message's rows come back
# while a test (or `make rehearse`, ops/rehearse_stage.py) waits.
FAULT_TIMEOUTS = {
    "REMINDER_DISPATCH_EVERY_SECONDS": "1",
    "REMINDER_RETRY_BASE_SECONDS": "1",
    "REMINDER_CLAIM_TIMEOUT_SECONDS": "8",
    "REMINDER_SEND_TIME_LIMIT_SECONDS": "6",
    "REMINDER_ATTEMPT_TIMEOUT_SECONDS": "10",
}

# One line per fault test: sent, duplicates and lost at the sink (see tests/conftest.py).
FAULT_REPORTS: list[str] = []


class Sink:
    """An aiosmtpd handler counting accepted messages by Message-ID, with scripted faults."""

    def __init__(self, delay: float = 0.0):
        self.lock = threading.Lock()
        self.accepted: Counter = Counter()
        self.answers: Counter = Counter()
        self.delay = delay
        self.tempfail_until = 0.0
        # Seconds of 451 counted from the first message (F4): a window set by the clock could
        # close before a worker slowed by a loaded machine sends anything.
        self.tempfail_for = 0.0
        self.reject: set[str] = set()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.reject:
            with self.lock:
                self.answers[550] += 1
            return "550 5.1.1 Mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.tempfail_for and not self.tempfail_until:
            self.tempfail_until = time.monotonic() + self.tempfail_for
        if time.monotonic() < self.tempfail_until:
            with self.lock:
                self.answers[451] += 1
            return "451 4.3.0 Try again later"
        if self.delay:
            await asyncio.sleep(self.delay)
        message_id = email.message_from_bytes(envelope.content)["Message-ID"]
        with self.lock:
            self.accepted[message_id] += 1
            self.answers[250] += 1
        return "250 Message accepted for delivery"

    def counts(self, expected_ids: set[str]) -> dict:
        with self.lock:
            got = dict(self.accepted)
        return {
            "sent": sum(1 for mid in got if mid in expected_ids),
            "duplicates": sum(n - 1 for n in got.values()),
            "lost": len(expected_ids - set(got)),
            "unexpected": len(set(got) - expected_ids),
        }


class Stack:
    def __init__(self, tmp: Path, database_url: str, sink: Sink, **env):
        self.tmp, self.sink = tmp, sink
        self.redis_port = free_port(6390)
        self.smtp = Controller(sink, hostname="127.0.0.1", port=free_port(8125))
        self.smtp.start()
        self.redis_proc: subprocess.Popen | None = None
        self.procs: dict[str, subprocess.Popen] = {}
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings_test",
            "DATABASE_URL": database_url,
            "DATABASE_CONN_MAX_AGE": "0",
            "REDIS_URL": f"redis://127.0.0.1:{self.redis_port}/0",
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(self.smtp.port),
            "EMAIL_TIMEOUT": "5",
            "REMINDER_PLAN_EVERY_SECONDS": "3600",
            "REMINDER_DIGEST_EVERY_SECONDS": "86400",
            **FAULT_TIMEOUTS,
            **{key: str(value) for key, value in env.items()},
        }
        self.start_redis()

    # Redis -----------------------------------------------------------------------------
    def start_redis(self) -> None:
        log = open(self.tmp / "redis.log", "ab")  # closed with the process
        self.redis_proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.redis_port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        client = redis.Redis(port=self.redis_port)
        assert wait_for(lambda: self._ping(client), 10), "redis did not start"

    @staticmethod
    def _ping(client) -> bool:
        try:
            return client.ping()
        except redis.exceptions.ConnectionError:
            return False

    def stop_redis(self) -> None:
        if self.redis_proc is not None:
            self.redis_proc.terminate()
            self.redis_proc.wait(10)
            self.redis_proc = None

    # Celery ----------------------------------------------------------------------------
    def start(self, name: str, *args: str, **env) -> subprocess.Popen:
        log = open(self.tmp / f"{name}.log", "ab")  # closed with the process
        proc = subprocess.Popen(
            [CELERY, "-A", "config", *args, "--loglevel=INFO"],
            cwd=ROOT,
            env={**self.env, **{k: str(v) for k, v in env.items()}},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the pool children die with it
        )
        self.procs[name] = proc
        return proc

    def start_worker(self, name: str = "worker", concurrency: int = 2) -> None:
        offset = self.log_size(name)
        self.start(
            name,
            "worker",
            "--pool=prefork",
            f"--concurrency={concurrency}",
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
        )
        assert wait_for(lambda: "ready." in self.log(name)[offset:], 30), self.log(name)[-3000:]

    def start_beat(self, name: str = "beat", **env) -> None:
        self.start(name, "beat", f"--schedule={self.tmp / (name + '.schedule')}", **env)

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        proc = self.procs.pop(name, None)
        if proc is None or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, sig)  # the process group this stack started, by its id
        except ProcessLookupError:
            return
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)

    def log(self, name: str) -> str:
        path = self.tmp / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def log_size(self, name: str) -> int:
        return len(self.log(name))

    def close(self) -> None:
        for name in list(self.procs):
            self.kill(name, signal.SIGTERM)
        self.stop_redis()
        self.smtp.stop()
