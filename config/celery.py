"""The Celery application. Tasks are discovered in each installed app's tasks.py.

Every process makes the folders it needs before it runs (the filesystem broker's folders and
beat's schedule file's folder): a fresh checkout without `var/` must not stop reminders.
"""

import os
from pathlib import Path

from celery import Celery, signals, states

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("clinic")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def make_folders(settings) -> None:
    options = getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {})
    folders = [options.get(k) for k in ("data_folder_in", "data_folder_out", "processed_folder")]
    schedule = getattr(settings, "CELERY_BEAT_SCHEDULE_FILENAME", "")
    folders.append(str(Path(schedule).parent) if schedule else None)
    for folder in filter(None, folders):
        Path(folder).mkdir(parents=True, exist_ok=True)


def _tolerate_closing_a_collected_redis_channel() -> None:
    """Celery 5.7, on losing Redis, collects the connection and then closes it; closing a Redis
    channel that still holds unacknowledged messages tries to give them back through that
    collected connection and raises AttributeError, which the consumer does not expect: it
    crashes instead of reconnecting (seen in the fault test F1, docs/quality.md). Nothing can be
    given back through a connection that is gone (Redis restores unacknowledged messages itself
    after the visibility timeout, and a restarted Redis has lost them), so that close counts as
    done and the consumer reconnects."""
    from kombu.transport import redis as kombu_redis

    close = kombu_redis.Channel.close
    if getattr(close, "tolerates_collected_connection", False):
        return

    def tolerant_close(self):
        try:
            close(self)
        except AttributeError:
            if self.connection is not None and self.connection.client is not None:
                raise  # a real bug, not the collected connection
            self.closed = True

    tolerant_close.tolerates_collected_connection = True
    kombu_redis.Channel.close = tolerant_close


_tolerate_closing_a_collected_redis_channel()


@app.on_after_configure.connect
def _make_folders(sender, **kwargs):
    from django.conf import settings

    make_folders(settings)


@signals.task_prerun.connect
@signals.task_postrun.connect
def _frame_each_task_like_a_request(sender=None, state=None, **kwargs):
    """Around each task, what Django does around each request: close a database connection that
    had an error, is mid-transaction or is past its age, so the next task never inherits it
    (the connection is otherwise kept between tasks: CELERY_DB_REUSE_MAX in config/settings.py).
    After a task that did not succeed, every connection is closed outright."""
    from django import db

    if sender is None or getattr(sender.request, "is_eager", False):
        return  # run in the caller's process and transaction (tests), as Celery's own fixup does
    if state is not None and state != states.SUCCESS:
        db.connections.close_all()
    else:
        db.close_old_connections()


@signals.setup_logging.connect
def _log_like_django(**kwargs):
    """Workers and beat write Django's LOGGING format (config/observability.py), not Celery's own:
    with a receiver on this signal Celery leaves the root logger alone."""
    from logging.config import dictConfig

    from django.conf import settings

    dictConfig(settings.LOGGING)


@signals.task_prerun.connect
def _task_id_on_each_line(task_id=None, **kwargs):
    from config.observability import TASK_ID

    TASK_ID.set(task_id or "")


@signals.task_postrun.connect
def _no_task_id_after_the_task(**kwargs):
    from config.observability import TASK_ID

    TASK_ID.set("")
