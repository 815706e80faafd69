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
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from rehearse_seed import reminder_rows, seed, setup_django
from rehearse_stage import BIN, ROOT, Rehearsal, wait_for

PASSWORD = secrets.token_urlsafe(16)
FINAL = ("sent", "failed", "cancelled", "expired")
# A line of the proxy's access log (nginx_conf): msec, time, status, "upstreams" "their answers"
ACCESS_LINE = re.compile(r'^(\S+) \S+ \d+ "([^"]*)" "([^"]*)"$')


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
    setup = seed(stage.due_target, PASSWORD)
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
