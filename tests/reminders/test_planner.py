"""The planner turns the engine's answer into reminder rows, once, at the right instants."""

import datetime as dt

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from monitoring.models import Reminder
from monitoring.reminders.planner import plan_clinic
from monitoring.services import end_treatment
from patients.models import Patient
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
    from clinic.demo import ready_first_prescription

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
    ("dispensed", "planned"),
    [
        (-25, True),  # due in 2 days: the send day is today
        (-26, False),  # due tomorrow: the send day was yesterday, so no reminder
    ],
)
def test_it_does_not_create_reminders_whose_send_day_is_past(
    clinic, in_treatment, dispensed, planned
):
    with time_machine.travel(dt.datetime(2027, 5, 3, 12, 0, tzinfo=UTC), tick=False):
        patient = in_treatment(dispensed=dispensed)
        plan_clinic(clinic)
    assert ("monthly_test" in rows(patient)) is planned


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
        for batch in (3, 27):  # 3 patients, then 30
            for _ in range(batch):
                in_treatment()
            Reminder.objects.all().delete()
            with CaptureQueriesContext(connection) as queries:
                result = plan_clinic(clinic)
            counts.append(len(queries))
            assert result.created == 3 * Reminder.objects.values("patient").distinct().count()
    assert counts[0] == counts[1], counts
