"""The Reminders page warns the clinic admin in red when sending has stalled: one of the clinic's
reminders more than 15 minutes past its send time, or beat's heartbeat twice its interval old
(docs/operations-health.md)."""

import datetime as dt

import pytest
import time_machine
from django.test import override_settings
from django.urls import reverse

from monitoring.models import Reminder, ReminderStatus
from monitoring.reminders.stall import record_heartbeat
from tests.factories import ClinicFactory, enroll
from tests.reminders.helpers import NOW  # 12:00 in New York: outside the clinic's quiet hours

BANNER = 'id="sending-stalled"'
WHAT_TO_DO = "tell your IT contact now that the reminder worker or scheduler"


@pytest.fixture
def now(db):
    with time_machine.travel(NOW, tick=False):
        record_heartbeat(NOW - dt.timedelta(seconds=30))
        yield NOW


def page(client_for, admin) -> str:
    response = client_for(admin).get(reverse("reminders:list"))
    assert response.status_code == 200
    return response.content.decode()


def late_reminder(patient, minutes: float, status=ReminderStatus.PENDING):
    return Reminder.objects.create(
        patient=patient,
        kind="monthly_test",
        due_on=NOW.date(),
        send_at=NOW - dt.timedelta(minutes=minutes),
        status=status,
    )


def test_no_banner_while_reminders_go_out_on_time(client_for, clinic_admin, patient, now):
    late_reminder(patient, 14)
    assert BANNER not in page(client_for, clinic_admin)


@pytest.mark.parametrize("status", [ReminderStatus.PENDING, ReminderStatus.SENDING])
def test_a_reminder_16_minutes_late_shows_the_banner(
    client_for, clinic_admin, patient, now, status
):
    late_reminder(patient, 16, status)
    html = page(client_for, clinic_admin)
    assert BANNER in html
    assert "Reminder emails have stopped going out" in html
    assert "1 reminder should have gone out more than 15 minutes ago" in html
    assert "the oldest was due at May 3, 2027, 11:44 AM EDT." in html
    assert "patients are not emailed about their pregnancy tests" in html
    assert WHAT_TO_DO in html


def test_sent_and_failed_reminders_are_not_a_stall(client_for, clinic_admin, patient, now):
    late_reminder(patient, 60, ReminderStatus.SENT)
    Reminder.objects.create(
        patient=patient,
        kind="visit",
        due_on=NOW.date(),
        send_at=NOW - dt.timedelta(hours=2),
        status=ReminderStatus.FAILED,
    )
    assert BANNER not in page(client_for, clinic_admin)


def test_another_clinics_late_reminders_do_not_show_here(client_for, clinic_admin, now):
    late_reminder(enroll(ClinicFactory(name="Elsewhere")), 30)
    assert BANNER not in page(client_for, clinic_admin)


@pytest.mark.parametrize("age, shown", [(119, False), (121, True)])
def test_a_heartbeat_twice_the_interval_old_shows_the_banner(
    client_for, clinic_admin, now, age, shown
):
    record_heartbeat(NOW - dt.timedelta(seconds=age))
    html = page(client_for, clinic_admin)
    assert (BANNER in html) is shown
    if shown:
        assert "The reminder scheduler last checked in at May 3, 2027, 11:57 AM EDT." in html
        assert WHAT_TO_DO in html


def test_the_late_threshold_follows_the_setting(client_for, clinic_admin, patient, now):
    late_reminder(patient, 6)
    with override_settings(HEALTH_REMINDER_LATE_MINUTES=5):
        html = page(client_for, clinic_admin)
    assert "should have gone out more than 5 minutes ago" in html
