"""The reminders pages: failed first, then what goes out next (soonest first), then what went
out, newest first; every time is the clinic's wall clock with its zone named."""

import datetime

import pytest
from django.urls import reverse

from monitoring.models import Reminder, ReminderStatus

UTC = datetime.UTC


def _reminder(patient, kind, due_on, send_at, status, sent_at=None):
    return Reminder.objects.create(
        patient=patient, kind=kind, due_on=due_on, send_at=send_at, status=status, sent_at=sent_at
    )


@pytest.fixture
def reminders(patient):
    day = datetime.date(2026, 1, 20)
    at = datetime.datetime(2026, 1, 15, 14, 0, tzinfo=UTC)  # 09:00 EST
    hours = datetime.timedelta(hours=1)
    days = datetime.timedelta(days=1)
    return {
        "far_future": _reminder(patient, "visit", day, at + 20 * days, ReminderStatus.PENDING),
        "next": _reminder(patient, "monthly_test", day, at + 1 * days, ReminderStatus.PENDING),
        "sent_long_ago": _reminder(
            patient, "comprehension", day, at - 9 * days, ReminderStatus.SENT, at - 9 * days
        ),
        "sent_yesterday": _reminder(
            patient, "contraception_confirm", day, at - days, ReminderStatus.SENT, at - days + hours
        ),
        "failed": _reminder(patient, "followup_labs", day, at - 3 * days, ReminderStatus.FAILED),
    }


def _order(response, reminders):
    html = response.content.decode()
    position = {name: html.index(r.get_kind_display()) for name, r in reminders.items()}
    return sorted(position, key=position.get)


@pytest.mark.parametrize("page", ["list", "patient"])
def test_failed_then_upcoming_soonest_then_sent_newest(client_for, staff, patient, reminders, page):
    url = (
        reverse("reminders:list")
        if page == "list"
        else reverse("reminders:patient", args=[patient.pk])
    )
    response = client_for(staff).get(url)
    assert _order(response, reminders) == [
        "failed",
        "next",
        "far_future",
        "sent_yesterday",
        "sent_long_ago",
    ]


def test_send_times_are_local_with_the_zone_named(client_for, staff, patient, reminders):
    html = client_for(staff).get(reverse("reminders:list")).content.decode()
    assert "(America/New_York)" in html
    assert "Jan 16, 2026, 9:00 AM EST" in html  # the next send, 14:00 UTC
    assert "sent Jan 14, 2026, 10:00 AM EST" in html
    assert "14:00" not in html


def test_a_summer_time_is_named_as_such(client_for, staff, patient):
    _reminder(
        patient,
        "visit",
        datetime.date(2026, 7, 2),
        datetime.datetime(2026, 7, 1, 13, 0, tzinfo=UTC),
        ReminderStatus.PENDING,
    )
    html = client_for(staff).get(reverse("reminders:list")).content.decode()
    assert "Jul 1, 2026, 9:00 AM EDT" in html
