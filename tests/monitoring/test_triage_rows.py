"""Triage kept as rows never drifts from the engine (docs/clinic-day.md)."""

import datetime

import pytest
import time_machine
from django.core.management import call_command
from django.utils import timezone

from clinic.core.models import Clinic
from clinic.demo import seeding as demo
from monitoring import worklist
from monitoring.models import PatientTriage
from patients.models import Patient
from tests import builders as states


def fresh(clinic, on) -> dict:
    """A fresh computation for every patient, not read from the kept rows."""
    patients = Patient.objects.filter(clinic=clinic)
    return {patient.pk: fields for patient, fields in worklist.triaged(patients, on)}


def kept(clinic) -> dict:
    return {
        row["patient_id"]: {k: row[k] for k in worklist.KEPT_FIELDS}
        for row in PatientTriage.objects.filter(clinic=clinic).values(
            "patient_id", *worklist.KEPT_FIELDS
        )
    }


def test_the_kept_rows_equal_a_fresh_computation_for_every_demo_patient(db, monkeypatch):
    monkeypatch.setenv("DEMO_PASSWORD", "demo-pass-123")
    call_command("seed_demo", patients=len(demo.SCENARIOS))
    for days_later in (0, 1, 6, 13, 29, 45):
        later = timezone.now() + datetime.timedelta(days=days_later)
        with time_machine.travel(later, tick=False):
            for clinic in Clinic.objects.all():
                worklist.refresh_clinic(clinic)
                on = clinic.today()
                assert kept(clinic) == fresh(clinic, on), days_later
                everyone = Patient.objects.filter(clinic=clinic).values_list("pk", flat=True)
                assert set(kept(clinic)) == set(everyone)
                # A second pass the same day finds nothing to do.
                assert worklist.refresh_clinic(clinic) == 0


def test_every_write_updates_its_patients_row_in_the_same_transaction(
    build, builder, staff, entered
):
    patient = build(states.no_contraception)
    row = PatientTriage.objects.get(patient=patient)
    assert (row.group, row.step) == ("window_closing", "contraception_unconfirmed")
    builder.contraception(patient, 0, started=-60)
    row.refresh_from_db()
    assert (row.group, row.step) == ("to_enter", "enter_in_ipledge")
    entered(patient)
    row.refresh_from_db()
    assert (row.group, row.step) == ("window_closing", "write_prescription")
    assert row.computed_on == patient.clinic.today()


def test_a_refused_write_leaves_the_row_as_it_was(build, staff):
    from django.core.exceptions import ValidationError

    from patients import services

    patient = build(states.ready)
    before = PatientTriage.objects.filter(patient=patient).values(*worklist.KEPT_FIELDS).get()
    with pytest.raises(ValidationError):
        services.record_consent(patient, by=staff, kind="nonsense", signed_on=None)
    after = PatientTriage.objects.filter(patient=patient).values(*worklist.KEPT_FIELDS).get()
    assert after == before


def test_a_change_of_the_clinics_horizon_recomputes_every_row(build, builder, staff, clinic):
    from clinic.core.services import update_clinic_settings

    patient = build(lambda b, p: states.in_treatment(b, p), enrolled=-80)
    worklist.refresh_clinic(clinic)
    stored = PatientTriage.objects.get(patient=patient)
    update_clinic_settings(clinic, by=staff, data={"triage_horizon_days": 30})
    assert PatientTriage.objects.get(patient=patient).computed_on is None
    worklist.refresh_clinic(clinic)
    changed = PatientTriage.objects.get(patient=patient)
    assert changed.computed_on == clinic.today()
    assert fresh(clinic, clinic.today())[patient.pk] == kept(clinic)[patient.pk]
    assert stored.group == "on_track"
    assert changed.group != "on_track"  # the next prescription is now within the horizon


def test_the_next_day_the_rows_are_refreshed_before_today_is_read(build, client_for, staff):
    """Rows answer for one date: the first read of a new day brings them up to date."""
    patient = build(states.window_closing)  # window closes tomorrow
    assert PatientTriage.objects.get(patient=patient).group == "to_enter"
    with time_machine.travel(timezone.now() + datetime.timedelta(days=2), tick=False):
        day = worklist.clinic_day(patient.clinic)
        assert patient.pk in [i.patient.pk for i in day.groups["needs_prescription"]]
        assert PatientTriage.objects.get(patient=patient).computed_on == patient.clinic.today()


def test_the_periodic_task_refreshes_every_clinic_once_a_day(build):
    from monitoring import tasks

    patient = build(states.window_closing)
    PatientTriage.objects.filter(patient=patient).update(computed_on=None)
    assert tasks.refresh_triage() == 1
    assert tasks.refresh_triage() == 0
    with time_machine.travel(timezone.now() + datetime.timedelta(days=1), tick=False):
        assert tasks.refresh_triage() == 1


def test_rows_written_by_another_release_are_recomputed(build, monkeypatch):
    """A release that words triage differently must not show the old wording until tomorrow."""
    patient = build(states.window_closing)
    PatientTriage.objects.filter(patient=patient).update(what="old wording", format=0)
    day = worklist.clinic_day(patient.clinic)
    (item,) = [i for items in day.groups.values() for i in items if i.patient.pk == patient.pk]
    assert item.what != "old wording"
    assert PatientTriage.objects.get(patient=patient).format == worklist.KEPT_FORMAT
