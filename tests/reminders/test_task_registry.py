"""The dispatcher enqueues a send by the task's name from Celery's registry (so the reminder code
never imports the task module). That name must resolve in every Django process, not only in a
worker: the web server and `manage.py plan_reminders --dispatch` enqueue too."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHECK = (
    "import django; django.setup(); "
    "from celery import current_app; "
    "from monitoring.reminders.dispatch import SEND_REMINDERS_TASK; "
    "print(SEND_REMINDERS_TASK in current_app.tasks)"
)


def test_a_fresh_django_process_knows_the_send_task_by_name():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "DJANGO_DEBUG": "true"}
    done = subprocess.run(
        [sys.executable, "-c", CHECK], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "True"
