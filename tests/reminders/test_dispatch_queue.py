"""The dispatcher runs from a queue of its own, so a backlog of sends cannot delay it, and a
worker started as `make run` starts it (no -Q) consumes both queues (docs/reminders.md)."""

from config.celery import app
from monitoring import tasks


def _queue_of(task):
    return app.amqp.router.route({}, task.name)["queue"]


def test_the_dispatcher_has_its_own_queue_and_sends_keep_the_default():
    assert _queue_of(tasks.dispatch_reminders).name == "dispatch"
    assert _queue_of(tasks.send_reminder).name == "celery"
    assert _queue_of(tasks.plan_reminders).name == "celery"


def test_each_message_reaches_one_queue_only():
    """Both queues hang off one direct exchange: a shared routing key would copy every message
    into both (every send and every dispatch twice)."""
    keys = {name: queue.routing_key for name, queue in app.amqp.queues.items()}
    assert len(set(keys.values())) == len(keys), keys
    assert _queue_of(tasks.dispatch_reminders).routing_key == "dispatch"
    assert _queue_of(tasks.send_reminder).routing_key == "celery"


def test_a_worker_without_a_queue_list_consumes_both():
    assert {"celery", "dispatch"} <= set(app.amqp.queues)
