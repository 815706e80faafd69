"""Every place that sorts patients reads the same triage: Today, its CSV, the staff digest,
the API worklist and the patient page's banner agree (docs/clinic-day.md)."""

import csv
import datetime
import io
from collections import Counter

import pytest
from django.core.management import call_command
from django.urls import reverse
from rest_framework.test import APIClient

import rules
from clinic.models import Clinic, Membership
from monitoring import codes
from monitoring.history import load_histories
from monitoring.reminders import digest
from monitoring.worklist import clinic_day
from patients.models import Patient
from tests import builders as states
from tests.monitoring.test_worklist import overdue_by

TODAY = reverse("monitoring:worklist")


@pytest.fixture
def demo_clinic(db, monkeypatch):
    monkeypatch.setenv("DEMO_PASSWORD", "demo-pass-123")
    call_command("seed_demo", patients=40)
    return Clinic.objects.get(name="Demo Dermatology")


def demo_user(clinic, role):
    return Membership.objects.get(clinic=clinic, role=role).user


def test_today_its_csv_the_digest_and_the_api_give_the_same_counts(demo_clinic, client_for, capsys):
    staff = demo_user(demo_clinic, "staff")
    day = clinic_day(demo_clinic)
    expected = {key: len(items) for key, items in day.listed().items()}
    assert sum(expected.values()) > 0

    page = client_for(staff).get(TODAY)
    shown = {key: n for key, _title, n in page.context["summary"]}
    assert {key: shown[key] for key in expected} == expected

    response = client_for(staff).get(TODAY, {"format": "csv"})
    table = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))[1:]
    in_csv = Counter(line[0] for line in table)
    assert {key: in_csv.get(codes.label(key), 0) for key in expected} == expected

    summary = digest.summarize(demo_clinic, demo_clinic.today())
    assert summary.counts() == expected

    api = APIClient()
    api.force_authenticate(staff)
    body = api.get("/api/v1/worklist/").json()
    from_api = {g["group"]: g["count"] for g in body["groups"] if g["listed_on_today"]}
    assert from_api == expected
    assert all(len(g["patients"]) == g["count"] for g in body["groups"])
    # Each patient once, in exactly one group.
    ids = [p["id"] for g in body["groups"] for p in g["patients"]]
    assert sorted(ids) == sorted(
        Patient.objects.filter(clinic=demo_clinic).values_list("pk", flat=True)
    )

    with capsys.disabled():
        print(f"\ndemo clinic triage on {day.on}: {day.counts()}")


def test_nobody_mid_supply_with_nothing_due_is_on_today(demo_clinic):
    day = clinic_day(demo_clinic)
    horizon = demo_clinic.triage_horizon_days
    listed = [item.patient for items in day.listed().values() for item in items]
    histories = load_histories(listed)
    for patient in listed:
        status = rules.status(histories[patient.pk][1], day.on)
        needed = status.next_prescription_needed_on
        mid_supply = (
            status.course_open
            and needed is not None
            and (needed - day.on).days > horizon
            and status.window is None
        )
        tasks_soon = [
            d
            for d in status.due
            if d.code in rules.TASK_DUE_CODES and (d.due_on - day.on).days <= horizon
        ]
        safety = {b.code for b in status.blockers} & {
            "mood_review_required",
            "pregnancy_test_positive",
        }
        assert not (mid_supply and not tasks_soon and not safety), patient


def test_the_api_worklist_words_next_steps_for_the_callers_role(client_for, staff, build, entered):
    entered(build(states.ready))
    api = APIClient()
    api.force_authenticate(staff)
    body = api.get("/api/v1/worklist/").json()
    (closing,) = [g for g in body["groups"] if g["group"] == "window_closing"]
    assert closing["patients"][0]["next_step"] == "Ask the prescriber to write the prescription."
    assert closing["patients"][0]["next_step_code"] == "write_prescription"
    assert [g["group"] for g in body["groups"]] == list(rules.TRIAGE_GROUPS)


@pytest.mark.parametrize("on", ["2021-12-12", "not-a-date", "2026-02-30"])
def test_the_api_worklist_refuses_a_bad_date_naming_on(staff, on):
    api = APIClient()
    api.force_authenticate(staff)
    response = api.get("/api/v1/worklist/", {"on": on})
    assert response.status_code == 400
    assert list(response.json()) == ["on"]


def test_the_api_worklist_needs_a_login(db):
    assert APIClient().get("/api/v1/worklist/").status_code == 401


def test_the_api_worklist_answers_for_a_date(staff, build, builder):
    patient = build(overdue_by(-27), enrolled=-80)  # dispensed today: on track
    api = APIClient()
    api.force_authenticate(staff)

    def group_of(n):
        on = builder.today + datetime.timedelta(days=n)
        groups = api.get("/api/v1/worklist/", {"on": on.isoformat()}).json()["groups"]
        return next(g["group"] for g in groups for p in g["patients"] if p["id"] == patient.pk)

    # A 30-day supply from today: the monthly test and visit are due on day 27, the next
    # prescription on day 30; with H = 7 the tasks are due soon from day 20, the prescription
    # from day 23.
    assert group_of(0) == "on_track"
    assert group_of(19) == "on_track"
    assert group_of(20) == "due_soon"
    assert group_of(22) == "due_soon"
    assert group_of(23) == "needs_prescription"


def test_the_patient_page_says_on_track_in_green_mid_supply(client_for, staff, build):
    patient = build(overdue_by(-27), enrolled=-80)  # dispensed today
    page = client_for(staff).get(patient.get_absolute_url()).content.decode()
    assert "On track until" in page
    assert "A prescription cannot be written" not in page
    assert 'data-group="on_track"' in page


def test_the_patient_page_names_the_group_and_next_step_when_listed(client_for, staff, build):
    patient = build(states.no_contraception)
    page = client_for(staff).get(patient.get_absolute_url()).content.decode()
    assert "Today: Pick-up window open" in page
    assert "Confirm two forms of contraception" in page


def test_the_patient_list_shows_each_patients_group(client_for, staff, build):
    ready = build(states.window_closing)
    mid_supply = build(overdue_by(-27), enrolled=-80)
    page = client_for(staff).get(reverse("patients:list")).content.decode()
    assert page.count(">To enter in iPLEDGE<") == 1
    assert page.count(">On track<") == 1
    assert ready.mrn in page and mid_supply.mrn in page
