"""The Celery application. Tasks are discovered in each installed app's tasks.py.

Every process makes the folders it needs before it runs (the filesystem broker's folders and
beat's schedule file's folder): a fresh checkout without `var/` must not stop reminders.
"""

import os
from pathlib import Path

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clinic.settings")

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


@app.on_after_configure.connect
def _make_folders(sender, **kwargs):
    from django.conf import settings

    make_folders(settings)
