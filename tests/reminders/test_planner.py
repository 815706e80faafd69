"""The planner turns the engine's answer into reminder rows, once, at the right instants."""

import datetime as dt

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from monitoring.models import Reminder, ReminderStatus
from monitoring.reminders.planner import plan_clinic
from monitoring.services import end_treatment
from patients.models import Patient
from tests.builders import ready_first_prescription
from tests.factories import enroll

UTC = dt.UTC


def rows(patient):
    return {
        r.kind: (r.due_on, r.send_at)
        for r in Reminder.objects.filter(patient=patient).order_by("kind")
    }


def nine_local(clinic, day):
    return dt.datetime.combine(day, dt.time(9), tzinfo=clinic.zone).astimezone(UTC)


@time_machine.travel(dt.datetime(2027, 5, 3, 12, 0, tzinfo=UTC), tick=False)
def test_it_plans_monthly_test_visit_and_followup_labs_before_their_due_dates(clinic, in_treatment):
    patient = in_treatment(dispensed=-9)
    today = clinic.today()
    plan_clinic(clinic)
    due = today + dt.timedelta(days=-9 + 27)
    start = today + dt.timedelta(days=-9)
    assert rows(patient) == {
        "monthly_test": (due, nine_local(clinic, due - dt.timedelta(days=2))),
        "visit": (due, nine_local(clinic, due - dt.timedelta(days=2))),
        "followup_labs": (
            start + dt.timedelta(weeks=8),
            nine_local(clinic, start + dt.timedelta(weeks=8, days=-3)),
        ),
    }


@time_machine.travel(dt.datetime(2027, 5, 3, 12, 0, tzinfo=UTC), tick=False)
def test_a_window_closing_reminder_goes_at_scd_plus_four(clinic, builder, staff):
    patient = enroll(clinic, by=staff)
    ready_first_prescription(builder(), patient, confirmation_on=-1)
    plan_clinic(clinic)
    scd = clinic.today() - dt.timedelta(days=1)
    assert rows(patient) == {
        "window_closing": (scd + dt.timedelta(days=6), nine_local(clinic, scd + dt.timedelta(4)))
    }


@time_machine.travel(dt.datetime(2027, 5, 3, 16, 0, tzinfo=UTC), tick=False)
def test_a_missing_contraception_confirmation_is_asked_for_at_once(
    clinic, waiting_for_contraception
):
    patient = waiting_for_contraception()
    plan_clinic(clinic)
    closes_on = clinic.today() + dt.timedelta(days=5)
    found = rows(patient)
    # 12:00 in New York is past the send hour and outside quiet hours: it goes now.
    assert found["contraception_confirm"] == (closes_on, dt.datetime(2027, 5, 3, 16, tzinfo=UTC))
    assert found["window_closing"][0] == closes_on


@pytest.mark.parametrize(
    ("dispensed", "send_at"),
    [
        # due in 2 days: the send day is today, at 09:00 New York (13:00 UTC)
        (-25, dt.datetime(2027, 5, 3, 13, tzinfo=UTC)),
        # Due tomorrow, first seen today: the send day (yesterday) is past. This used to plan
        # nothing, so a date first seen within the lead time got no reminder; it now goes at
        # the next allowed instant, today's send hour still ahead at 08:00 New York.
        (-26, dt.datetime(2027, 5, 3, 13, tzinfo=UTC)),
        # Due today: still today's send hour, on the due date itself.
        (-27, dt.datetime(2027, 5, 3, 13, tzinfo=UTC)),
        # Due yesterday: nothing.
        (-28, None),
    ],
)
def test_a_send_day_already_past_goes_at_the_next_allowed_instant_until_the_due_date(
    clinic, in_treatment, dispensed, send_at
):
    with time_machine.travel(dt.datetime(2027, 5, 3, 12, 0, tzinfo=UTC), tick=False):
        patient = in_treatment(dispensed=dispensed)
        plan_clinic(clinic)
    found = rows(patient).get("monthly_test")
    assert (found[1] if found else None) == send_at


@pytest.mark.parametrize(
    ("now", "send_at"),
    [
        # 14:00 New York: the send hour has passed and it is not quiet: at once.
        (dt.datetime(2027, 5, 3, 18, 0, tzinfo=UTC), dt.datetime(2027, 5, 3, 18, 0, tzinfo=UTC)),
        # 22:00 New York: quiet until 08:00 tomorrow, which is the due date: then.
        (dt.datetime(2027, 5, 4, 2, 0, tzinfo=UTC), dt.datetime(2027, 5, 4, 12, 0, tzinfo=UTC)),
    ],
)
def test_a_visit_booked_for_tomorrow_is_reminded_at_once_or_when_quiet_hours_end(
    clinic, in_treatment, now, send_at
):
    with time_machine.travel(now, tick=False):
        patient = in_treatment(dispensed=-26)  # monthly test and visit due tomorrow
        plan_clinic(clinic)
    due_on = clinic.today(now) + dt.timedelta(days=1)
    assert rows(patient)["visit"] == (due_on, send_at)


@pytest.mark.parametrize(
    ("now", "send_day", "utc_hour"),
    [
        (dt.datetime(2027, 3, 10, 12, tzinfo=UTC), dt.date(2027, 3, 14), 13),
        (dt.datetime(2027, 11, 3, 12, tzinfo=UTC), dt.date(2027, 11, 7), 14),
    ],
)
def test_reminders_on_daylight_saving_days_go_once_at_nine_local(
    clinic, in_treatment, now, send_day, utc_hour
):
    with time_machine.travel(now, tick=False):
        patient = in_treatment(dispensed=-21)  # monthly test due today + 6, sent at today + 4
        plan_clinic(clinic)
        plan_clinic(clinic)  # a second beat changes nothing
    reminder = Reminder.objects.get(patient=patient, kind="monthly_test")
    assert reminder.send_at == dt.datetime.combine(send_day, dt.time(utc_hour), tzinfo=UTC)
    assert Reminder.objects.filter(patient=patient, kind="monthly_test").count() == 1


@time_machine.travel(dt.datetime(2027, 5, 3, 12, 0, tzinfo=UTC), tick=False)
def test_opted_out_patients_and_long_ended_courses_get_nothing(clinic, clinician, in_treatment):
    opted_out = in_treatment()
    Patient.objects.filter(pk=opted_out.pk).update(email_opt_out=True)
    ended = enroll(clinic, enrolled_on=clinic.today() - dt.timedelta(days=100))
    end_treatment(ended, by=clinician, last_dose_on=clinic.today() - dt.timedelta(days=61))
    result = plan_clinic(clinic)
    assert result.patients == 0
    assert not Reminder.objects.exists()


@time_machine.travel(dt.datetime(2027, 5, 3, 12, 0, tzinfo=UTC), tick=False)
def test_planning_twice_creates_nothing_new(clinic, in_treatment):
    in_treatment()
    first = plan_clinic(clinic)
    second = plan_clinic(clinic)
    assert (first.created, second.created) == (3, 0)
    assert Reminder.objects.count() == 3


def test_the_planner_reads_a_clinic_in_a_fixed_number_of_queries(clinic, in_treatment):
    counts = []
    with time_machine.travel(dt.datetime(2027, 5, 3, 12, 0, tzinfo=UTC), tick=False):
        # 3 patients, then 20: 60 rows stay in one INSERT on SQLite too, which splits a bulk
        # insert at 999 parameters (83 rows of 12 columns); batch_size is 500 elsewhere.
        for batch in (3, 17):
            for _ in range(batch):
                in_treatment()
            Reminder.objects.all().delete()
            with CaptureQueriesContext(connection) as queries:
                result = plan_clinic(clinic)
            counts.append(len(queries))
            assert result.created == 3 * Reminder.objects.values("patient").distinct().count()
    assert counts[0] == counts[1], counts


def test_cancelled_reminders_needed_again_go_back_to_pending_at_a_fresh_instant(
    clinic, in_treatment
):
    with time_machine.travel(dt.datetime(2027, 5, 3, 12, 0, tzinfo=UTC), tick=False):
        patient = in_treatment(dispensed=-9)  # monthly test and visit due May 21
        plan_clinic(clinic)
    planned = rows(patient)
    # The patient opted out (pending rows cancelled) after a retry or two, then opted back in.
    Reminder.objects.filter(patient=patient).update(
        status=ReminderStatus.CANCELLED, last_error="the patient opted out", attempts=2
    )
    later = dt.datetime(2027, 5, 20, 14, 0, tzinfo=UTC)  # 10:00 in New York, the day before
    with time_machine.travel(later, tick=False):
        result = plan_clinic(clinic)
    assert (result.created, result.reactivated) == (0, 3)
    found = {
        r.kind: (r.status, r.send_at, r.attempts, r.last_error)
        for r in Reminder.objects.filter(patient=patient)
    }
    again = "needed again after: the patient opted out"
    assert found == {
        # The send day (May 19) is past: at once, like a new row first seen today.
        "monthly_test": (ReminderStatus.PENDING, later, 2, again),
        "visit": (ReminderStatus.PENDING, later, 2, again),
        "followup_labs": (ReminderStatus.PENDING, planned["followup_labs"][1], 2, again),
    }
    with time_machine.travel(later, tick=False):
        assert plan_clinic(clinic).reactivated == 0


@pytest.mark.parametrize(
    "status",
    [
        ReminderStatus.SENT,
        ReminderStatus.FAILED,
        ReminderStatus.EXPIRED,
        ReminderStatus.SENDING,
        ReminderStatus.PENDING,
    ],
)
def test_planning_never_touches_rows_that_are_not_cancelled(clinic, in_treatment, status):
    marker = dt.datetime(2027, 1, 1, tzinfo=UTC)
    with time_machine.travel(dt.datetime(2027, 5, 3, 12, 0, tzinfo=UTC), tick=False):
        patient = in_treatment(dispensed=-9)
        plan_clinic(clinic)
        Reminder.objects.filter(patient=patient).update(
            status=status, send_at=marker, last_error="kept"
        )
        result = plan_clinic(clinic)
    assert (result.created, result.reactivated) == (0, 0)
    assert set(
        Reminder.objects.filter(patient=patient).values_list("status", "send_at", "last_error")
    ) == {(status, marker, "kept")}


def test_reactivating_cancelled_rows_costs_one_update_whatever_their_number(clinic, in_treatment):
    counts = []
    with time_machine.travel(dt.datetime(2027, 5, 3, 12, 0, tzinfo=UTC), tick=False):
        patients = [in_treatment() for _ in range(4)]
        plan_clinic(clinic)
        one_row = Reminder.objects.filter(pk=Reminder.objects.first().pk)
        for cancelled in (one_row, Reminder.objects.all()):  # 1 row, then 12
            cancelled.update(status=ReminderStatus.CANCELLED)
            with CaptureQueriesContext(connection) as queries:
                result = plan_clinic(clinic)
            updates = [q["sql"] for q in queries if q["sql"].startswith("UPDATE")]
            counts.append((len(queries), len(updates), result.reactivated))
    assert counts == [(counts[0][0], 1, 1), (counts[0][0], 1, 3 * len(patients))]
