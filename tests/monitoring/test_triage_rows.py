"""Triage kept as rows never drifts from the engine, and no request computes the clinic
(docs/clinic-day.md, "Kept rows")."""

import datetime
from collections import Counter

import pytest
import time_machine
from django.core.management import call_command
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from clinic.models import Clinic
from demo import seeding as demo
from monitoring import kept, tasks
from monitoring.models import TriageCount, TriageRow, TriageSlot
from patients.models import Patient
from tests import builders as states
from tests.triage import kept_row

ONE_DAY = datetime.timedelta(days=1)


def fresh(clinic, on) -> dict:
    """A fresh computation for every patient, not read from the kept rows."""
    patients = Patient.objects.filter(clinic=clinic)
    return {patient.pk: by_date[on] for patient, by_date in kept.triaged(patients, (on,))}


def rows(clinic, on) -> dict:
    return {
        row["patient_id"]: {k: row[k] for k in kept.KEPT_FIELDS}
        for row in TriageRow.objects.filter(clinic=clinic, slot=kept.slot_of(on)).values(
            "patient_id", *kept.KEPT_FIELDS
        )
    }


def counts(clinic, on) -> Counter:
    return Counter(
        {
            (c.group, c.risk_category): c.n
            for c in TriageCount.objects.filter(clinic=clinic, slot=kept.slot_of(on))
            if c.n
        }
    )


def counted(clinic, on) -> Counter:
    """The counts the kept counts must equal, counted from the rows."""
    return Counter(
        (v["group"], v["risk_category"]) for v in rows(clinic, on).values() if v["group"]
    )


def test_the_kept_rows_equal_a_fresh_computation_for_every_demo_patient(db, monkeypatch):
    """Day after day, as beat runs the periodic task: today's and tomorrow's rows equal a fresh
    computation, the counts equal the rows, and a second run the same day writes nothing."""
    monkeypatch.setenv("DEMO_PASSWORD", "demo-pass-123")
    call_command("seed_demo", patients=len(demo.SCENARIOS))
    for days_later in (0, 1, 6, 13, 29, 45):
        later = timezone.now() + datetime.timedelta(days=days_later)
        with time_machine.travel(later, tick=False):
            for clinic in Clinic.objects.all():
                kept.refresh_clinic(clinic)
                everyone = set(Patient.objects.filter(clinic=clinic).values_list("pk", flat=True))
                for on in (clinic.today(), clinic.today() + ONE_DAY):
                    assert rows(clinic, on) == fresh(clinic, on), (days_later, on)
                    assert set(rows(clinic, on)) == everyone
                    assert counts(clinic, on) == counted(clinic, on)
                assert kept.read(clinic).current
                assert kept.refresh_clinic(clinic) == 0


def test_every_write_updates_its_patients_rows_in_the_same_transaction(
    build, builder, staff, entered
):
    patient = build(states.no_contraception)
    clinic, today = patient.clinic, patient.clinic.today()
    row = kept_row(patient)
    assert (row.group, row.step) == ("window_closing", "contraception_unconfirmed")
    builder.contraception(patient, 0, started=-60)
    row.refresh_from_db()
    assert (row.group, row.step) == ("to_enter", "enter_in_ipledge")
    entered(patient)
    row.refresh_from_db()
    assert (row.group, row.step) == ("window_closing", "write_prescription")
    # Tomorrow's row moved with it, and both slots' counts follow their rows.
    for on in (today, today + ONE_DAY):
        assert rows(clinic, on)[patient.pk] == fresh(clinic, on)[patient.pk]
        assert counts(clinic, on) == counted(clinic, on)


def test_a_refused_write_leaves_the_row_as_it_was(build, staff):
    from django.core.exceptions import ValidationError

    from patients import services

    patient = build(states.ready)
    before = TriageRow.objects.filter(patient=patient).values(*kept.KEPT_FIELDS).order_by("slot")
    before = list(before)
    with pytest.raises(ValidationError):
        services.record_consent(patient, by=staff, kind="nonsense", signed_on=None)
    after = TriageRow.objects.filter(patient=patient).values(*kept.KEPT_FIELDS).order_by("slot")
    assert list(after) == before


def test_a_change_of_the_clinics_horizon_is_refreshed_by_the_worker_not_the_request(
    build, staff, clinic, client_for
):
    from clinic.services import update_clinic_settings

    patient = build(lambda b, p: states.in_treatment(b, p), enrolled=-80)
    assert kept_row(patient).group == "on_track"
    update_clinic_settings(clinic, by=staff, data={"triage_horizon_days": 30})
    # The request changed two slot rows and no triage row.
    assert kept_row(patient).group == "on_track"
    reading = kept.read(clinic)
    assert not reading.current and reading.slot == kept.slot_of(clinic.today())
    assert tasks.refresh_clinic_triage(clinic.pk) >= 1  # the worker's run
    assert kept_row(patient).group != "on_track"  # needed within the new horizon
    assert rows(clinic, clinic.today()) == fresh(clinic, clinic.today())
    assert kept.read(clinic).current


def test_tomorrows_rows_are_ready_before_midnight(build, client_for, staff):
    """Beat's runs during the day prepare tomorrow's rows, and writes keep them current: at
    midnight Today reads them at once, current, with nothing recomputed."""
    patient = build(states.window_closing)  # window closes tomorrow
    clinic = patient.clinic
    assert kept_row(patient).group == "to_enter"
    tomorrow = clinic.today() + ONE_DAY
    local_midnight = datetime.datetime.combine(tomorrow, datetime.time(0, 1), clinic.zone)
    with time_machine.travel(local_midnight, tick=False):
        assert clinic.today() == tomorrow
        reading = kept.read(clinic)
        assert reading.current and reading.on == tomorrow
        assert rows(clinic, tomorrow) == fresh(clinic, tomorrow)


def test_rows_two_days_old_are_served_as_of_their_time_and_a_refresh_is_asked_for(
    build, client_for, staff, django_capture_on_commit_callbacks, monkeypatch
):
    """Beat stopped for two days: Today is served yesterday's rows, says how old they are, and
    asks a worker for the refresh; the request itself computes nothing."""
    patient = build(states.window_closing)
    clinic = patient.clinic
    asked = []
    monkeypatch.setattr(
        tasks.refresh_clinic_triage, "apply_async", lambda args, **kw: asked.append(args)
    )
    with time_machine.travel(timezone.now() + 2 * ONE_DAY, tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            response = client_for(staff).get(reverse("monitoring:worklist"))
        assert response.status_code == 200
        page = response.content.decode()
        assert "These lists are as of" in page and "being brought up to date" in page
        assert asked == [(clinic.pk,)]
        # Asked once a minute at most, whatever the number of readers.
        with django_capture_on_commit_callbacks(execute=True):
            client_for(staff).get(reverse("monitoring:worklist"))
        assert asked == [(clinic.pk,)]
        tasks.refresh_clinic_triage(clinic.pk)
        assert kept.read(clinic).current
        assert "being brought up to date" not in (
            client_for(staff).get(reverse("monitoring:worklist")).content.decode()
        )


def test_the_periodic_task_writes_only_what_changed(build):
    patient = build(states.window_closing)
    clinic = patient.clinic
    assert tasks.refresh_triage() == 0  # a new clinic's rows are kept by every write
    TriageSlot.objects.filter(clinic=clinic).update(wanted=99)  # as after a settings change
    assert tasks.refresh_triage() == 0  # recomputed, nothing changed: nothing written
    with time_machine.travel(timezone.now() + ONE_DAY, tick=False):
        # The day after tomorrow is prepared in the slot that held yesterday; the window
        # that closed yesterday changes this patient's answer: one row written.
        assert tasks.refresh_triage() == 1
        assert tasks.refresh_triage() == 0


def test_a_refresh_of_an_unchanged_clinic_updates_zero_rows(db, monkeypatch):
    """Not one row is rewritten: on PostgreSQL each row's xmin (the transaction that last wrote
    it) is unchanged, so the refresh left no dead row behind."""
    monkeypatch.setenv("DEMO_PASSWORD", "demo-pass-123")
    call_command("seed_demo", patients=len(demo.SCENARIOS))
    clinic = Clinic.objects.order_by("pk").first()
    today = clinic.today()

    def versions():
        if connection.vendor != "postgresql":
            return None
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT id, xmin::text FROM monitoring_triagerow WHERE clinic_id = %s",
                [clinic.pk],
            )
            return dict(cursor.fetchall())

    before = versions()
    assert kept.prepare(clinic, today) == 0
    assert kept.prepare(clinic, today + ONE_DAY) == 0
    assert versions() == before


def test_rows_written_by_another_release_are_recomputed(build):
    """A release that words triage differently must not show the old wording until tomorrow:
    its slots are behind, and the next refresh rewrites what changed."""
    patient = build(states.window_closing)
    clinic = patient.clinic
    TriageRow.objects.filter(patient=patient).update(what="old wording")
    TriageSlot.objects.filter(clinic=clinic).update(format=0)
    assert not kept.read(clinic).current
    assert kept.refresh_clinic(clinic) == 2  # today's row and tomorrow's
    assert kept_row(patient).what != "old wording"
    assert kept.read(clinic).current


def test_counts_survive_any_order_of_writes(build, builder, staff, clinician, entered):
    """Every write moves the kept counts with the rows; a refresh's recount finds nothing
    wrong."""
    from monitoring import enrollment

    made = [
        build(states.no_contraception),
        build(states.ready),
        build(states.window_closing),
        builder.enroll(),
    ]
    builder.contraception(made[0], 0, started=-60)
    entered(made[0])
    enrollment.update_patient(
        made[1], by=staff, data={"family_name": "Renamed"}, may_allow_home_tests=False
    )
    made[3].delete()  # enrolled by mistake, nothing recorded yet
    clinic = made[0].clinic
    for on in (clinic.today(), clinic.today() + ONE_DAY):
        assert counts(clinic, on) == counted(clinic, on)
        assert kept.recount(clinic, kept.slot_of(on)) == 0


# No request computes the clinic ------------------------------------------------------------


def pages(patient, api_token):
    """(path, headers) of every page and API answer that reads the clinic's day or a patient."""
    today = reverse("monitoring:worklist")
    api = {"HTTP_AUTHORIZATION": f"Token {api_token}"}
    return [
        (today, {}),
        (today + "?group=needs_prescription&page=2", {}),
        (today + "?category=can_get_pregnant", {}),
        (today + "?format=csv", {}),
        (reverse("patients:list"), {}),
        (patient.get_absolute_url(), {}),
        ("/api/v1/worklist/", api),
        ("/api/v1/worklist/?group=window_closing&page=2&page_size=1", api),
        (f"/api/v1/patients/{patient.pk}/status/", api),
    ]


def test_no_request_path_calls_the_whole_clinic_refresh(build, client_for, staff, monkeypatch):
    """With every slot behind (a settings change, then two days without beat), every page that
    reads the clinic's day answers from the rows there are: the whole-clinic refresh is never
    called in a request."""
    from api.auth import issue_token
    from clinic.services import update_clinic_settings

    patient = build(states.window_closing)
    build(states.ready)
    update_clinic_settings(patient.clinic, by=staff, data={"triage_horizon_days": 10})
    calls = []

    def forbidden(name):
        def call(*args, **kwargs):
            calls.append(name)
            raise AssertionError(f"{name} called in a request")

        return call

    for name in ("prepare", "refresh_clinic", "recount", "triaged"):
        monkeypatch.setattr(kept, name, forbidden(name))
    with time_machine.travel(timezone.now() + 2 * ONE_DAY, tick=False):
        token = issue_token(staff, with_second_factor=False)
        client = client_for(staff)
        for path, headers in pages(patient, token):
            response = client.get(path, **headers)
            assert response.status_code == 200, (path, response.status_code)
            if hasattr(response, "streaming_content"):
                b"".join(response.streaming_content)
    assert calls == []
