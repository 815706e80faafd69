"""The project's Celery app plus a no-op task, for the P3 baseline (bench/run.py).

The worker started with `-A bench.celery_app` runs the reminder tasks and this no-op on the
same processes and broker, so the two rates compare like for like.
"""

import redis
from django.conf import settings

from config.celery import app


@app.task(name="bench.noop", ignore_result=True)
def noop(n: int) -> int:
    return n


@app.task(name="bench.done", ignore_result=True)
def done(key: str) -> None:
    """Marks the end of a batch of no-ops (tasks run in order, one at a time per process)."""
    redis.Redis.from_url(settings.REDIS_URL).rpush(key, "done")
