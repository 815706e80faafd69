"""The dispatcher runs from a queue of its own, so a backlog of sends cannot delay it, and a
worker started as `make run` starts it (no -Q) consumes both queues (docs/reminders.md)."""

from clinic.celery import app
from monitoring import tasks


def _queue_of(task) -> str:
    return app.amqp.router.route({}, task.name)["queue"].name


def test_the_dispatcher_has_its_own_queue_and_sends_keep_the_default():
    assert _queue_of(tasks.dispatch_reminders) == "dispatch"
    assert _queue_of(tasks.send_reminder) == "celery"
    assert _queue_of(tasks.plan_reminders) == "celery"


def test_a_worker_without_a_queue_list_consumes_both():
    assert {"celery", "dispatch"} <= set(app.amqp.queues)
