"""The send-time check reads the reminder and its patient's history in one query, and that
history is the one every other reader sees (monitoring/reminders/history_row.py)."""

import datetime as dt
import decimal

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from demo.seeding import LEGACY_SCENARIOS, SCENARIOS
from monitoring.history import load_histories
from monitoring.models import Course, MoodReview, Reminder, ReminderStatus, Visit
from monitoring.reminders import sender
from monitoring.reminders.history_row import (
    PatientHistoryJSON,
    claimed_reminder,
    history_of,
    with_history,
)
from monitoring.reminders.planner import plan_clinic
from patients.models import Patient, RiskCategoryChange

NOW = dt.datetime(2027, 5, 3, 16, 0, tzinfo=dt.UTC)  # 12:00 in New York


def test_the_one_query_history_equals_load_histories_for_every_demo_scenario(db, monkeypatch):
    monkeypatch.setenv("DEMO_PASSWORD", "demo-pass-123")
    call_command("seed_demo", patients=max(len(SCENARIOS), len(LEGACY_SCENARIOS)))
    patients = Patient.objects.filter(courses__isnull=False).distinct().select_related("clinic")
    some = patients.first()
    staff = get_user_model().objects.get(username="staff")
    # An older course and a few dated risk-category changes: the latest course and every
    # change, in the model's order, must come through.
    Course.objects.create(patient=some, opened_on=dt.date(2020, 1, 1), last_dose_on=None)
    for day, previous, new in ((3, "a", "b"), (1, "b", "c"), (3, "c", "d")):
        RiskCategoryChange.objects.create(
            patient=some,
            changed_on=dt.date(2024, 1, day),
            previous=previous,
            new=new,
            changed_by=staff,
        )
    visit = Visit.objects.filter(patient__in=patients).order_by("-visited_on").first()
    for days in (2, 1):  # entered out of order: read by date
        MoodReview.objects.create(
            patient=visit.patient,
            visit=visit,
            reviewed_on=visit.visited_on + dt.timedelta(days=days),
            recorded_by=staff,
        )
    listed = list(patients.annotate(history_json=PatientHistoryJSON("pk")))
    assert len(listed) >= len(SCENARIOS)
    expected = load_histories(listed)
    for patient in listed:
        assert history_of(patient, patient.history_json) == expected[patient.pk][1], patient.mrn
    histories = [history_of(p, p.history_json) for p in listed]
    reviewed = [v.mood_reviews for h in histories for v in h.visits if v.mood_reviews]
    assert reviewed == [(visit.visited_on + dt.timedelta(1), visit.visited_on + dt.timedelta(2))]
    assert any(h.contraception and h.contraception[0].methods for h in histories)
    assert any(t.verified for h in histories for t in h.pregnancy_tests)
    assert all(isinstance(h.target_mg_per_kg, decimal.Decimal) for h in histories)
    mine = history_of(some, next(p for p in listed if p.pk == some.pk).history_json)
    assert [c.new for c in mine.risk_category_changes if c.changed_on.year == 2024] == [
        "d",
        "b",
        "c",
    ]


@pytest.fixture
def claimed(clinic, in_treatment, waiting_for_contraception):
    """Claimed reminders of the clinic's planned rows, as the dispatcher leaves them."""

    def make(count: int) -> list[int]:
        with time_machine.travel(NOW, tick=False):
            for _ in range(count):
                in_treatment(dispensed=-25)
                waiting_for_contraception()
            plan_clinic(clinic)
        ids = list(Reminder.objects.order_by("pk").values_list("pk", flat=True)[:count])
        Reminder.objects.filter(pk__in=ids).update(
            status=ReminderStatus.SENDING, claimed_at=timezone.now()
        )
        return ids

    return make


def test_a_send_reads_the_reminder_patient_clinic_and_history_in_one_query(db, claimed, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    ids = claimed(3)
    with time_machine.travel(NOW, tick=False):
        for pk in ids:
            with CaptureQueriesContext(connection) as queries:
                assert sender.deliver(pk) == "sent"
            # Read (1), start the attempt by compare-and-swap on the claim (1), mark sent (1).
            assert len(queries) == 3, [q["sql"][:120] for q in queries]
    assert set(Reminder.objects.values_list("status", flat=True).filter(pk__in=ids)) == {"sent"}


def test_the_send_time_check_still_stops_a_reminder_no_longer_needed(db, claimed, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    (pk,) = claimed(1)
    reminder = Reminder.objects.get(pk=pk)
    Reminder.objects.filter(pk=pk).update(due_on=reminder.due_on + dt.timedelta(days=1))
    with time_machine.travel(NOW, tick=False):
        row = with_history(Reminder.objects.select_related("patient__clinic").filter(pk=pk))[0]
        today = row.patient.clinic.today()
        assert sender.recheck(row, today) == (ReminderStatus.CANCELLED, "no longer needed")
        assert sender.deliver(pk) == ReminderStatus.CANCELLED


def test_the_send_time_read_gives_the_instances_the_orm_gives(db, claimed):
    ids = claimed(2)
    Reminder.objects.filter(pk=ids[0]).update(last_error="x", possible_duplicate=True)
    for pk in ids:
        ours = claimed_reminder(pk)
        orm = with_history(Reminder.objects.select_related("patient__clinic")).get(pk=pk)
        for mine, theirs in (
            (ours, orm),
            (ours.patient, orm.patient),
            (ours.patient.clinic, orm.patient.clinic),
        ):
            fields = type(theirs)._meta.concrete_fields
            assert [getattr(mine, f.attname) for f in fields] == [
                getattr(theirs, f.attname) for f in fields
            ]
            assert not mine._state.adding
        assert ours.history_json == orm.history_json
    assert claimed_reminder(max(ids) + 1000) is None
