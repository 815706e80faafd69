"""A fresh checkout has no var/: worker and beat make what they need (docs/reminders.md)."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from config.celery import make_folders

ROOT = Path(__file__).resolve().parents[2]
CELERY = str(Path(sys.executable).parent / "celery")


def test_the_broker_and_beat_folders_are_made_when_missing(tmp_path, settings):
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(tmp_path / "broker" / "out"),
        "data_folder_out": str(tmp_path / "broker" / "out"),
        "processed_folder": str(tmp_path / "broker" / "processed"),
    }
    settings.CELERY_BEAT_SCHEDULE_FILENAME = str(tmp_path / "var" / "beat" / "schedule")
    make_folders(settings)
    assert (tmp_path / "broker" / "out").is_dir()
    assert (tmp_path / "broker" / "processed").is_dir()
    assert (tmp_path / "var" / "beat").is_dir()


@pytest.mark.slow
def test_beat_starts_in_a_checkout_without_var(tmp_path):
    """Beat used to die at start when var/ did not exist, leaving reminders pending unseen."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "REDIS_URL"))}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DJANGO_DEBUG="true",
        CELERY_BROKER_DIR=str(tmp_path / "var" / "broker"),
        CELERY_BEAT_SCHEDULE_FILENAME=str(tmp_path / "var" / "celerybeat-schedule"),
        REMINDER_DISPATCH_EVERY_SECONDS="2",
        PYTHONPATH=str(ROOT),
    )
    log = tmp_path / "beat.log"
    with log.open("w") as out:
        beat = subprocess.Popen(  # noqa: S603 - our own celery, fixed arguments
            [CELERY, "-A", "config", "beat", "--loglevel=INFO"],
            cwd=tmp_path,  # a checkout of its own: nothing made under the repository
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and "Sending due task" not in log.read_text():
            assert beat.poll() is None, log.read_text()[-3000:]
            time.sleep(0.5)
        text = log.read_text()
        assert "Sending due task" in text, text[-3000:]
        assert beat.poll() is None
        assert list((tmp_path / "var" / "broker" / "out").iterdir())  # messages were queued
    finally:
        os.killpg(beat.pid, signal.SIGTERM)
        beat.wait(10)
