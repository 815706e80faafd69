import datetime as dt
import io
import random

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

import rules
from clinic.models import Clinic, Membership
from demo.seeding import LEGACY_SCENARIOS, SCENARIOS, BulkBuilder, build_patient, bulk_seed
from demo.states import HOME_READOUT, Builder
from monitoring.history import load_histories
from monitoring.models import Course, LabResult, Prescription, Visit
from patients.models import Consent, ContraceptionConfirmation, Patient, PregnancyTest
from tests.factories import ClinicFactory, member


def snapshot():
    return (
        sorted(Patient.objects.values_list("mrn", "given_name", "family_name", "risk_category")),
        Visit.objects.count(),
        Prescription.objects.count(),
        sorted(Membership.objects.values_list("clinic__name", "user__username", "role")),
    )


def test_seed_demo_twice_gives_the_same_data(db, monkeypatch):
    monkeypatch.setenv("DEMO_PASSWORD", "demo-pass-123")
    call_command("seed_demo", patients=14)
    first = snapshot()
    call_command("seed_demo", patients=14)
    assert snapshot() == first
    assert Clinic.objects.count() == 2
    assert len([mrn for mrn, *_ in first[0] if mrn.startswith("DEMO-")]) == 14
    assert [(user, role) for clinic, user, role in first[3] if clinic == "Demo Dermatology"] == [
        ("clinic_admin", "clinic_admin"),
        ("clinician", "clinician"),
        ("staff", "staff"),
    ]
    assert [(user, role) for clinic, user, role in first[3] if clinic != "Demo Dermatology"] == [
        ("legacy_admin", "clinic_admin"),
        ("legacy_clinician", "clinician"),
        ("legacy_staff", "staff"),
    ]
    assert get_user_model().objects.get(username="staff").check_password("demo-pass-123")


def test_an_older_seeding_s_cross_clinic_memberships_are_removed(db, monkeypatch):
    monkeypatch.setenv("DEMO_PASSWORD", "demo-pass-123")
    call_command("seed_demo", patients=2)
    legacy = Clinic.objects.exclude(name="Demo Dermatology").get()
    staff = get_user_model().objects.get(username="staff")
    Membership.objects.create(user=staff, clinic=legacy, role="staff")
    call_command("seed_demo", patients=2)
    assert [m.clinic.name for m in staff.memberships.all()] == ["Demo Dermatology"]


def test_the_demo_shows_every_state_the_gate_knows(db, monkeypatch):
    monkeypatch.setenv("DEMO_PASSWORD", "demo-pass-123")
    call_command("seed_demo", patients=len(SCENARIOS))
    patients = list(Patient.objects.select_related("clinic"))
    statuses = [
        rules.status(history, patient.clinic.today())
        for patient, (_, history) in zip(
            patients, (load_histories(patients)[p.pk] for p in patients), strict=True
        )
    ]
    shown = {blocker.code for status in statuses for blocker in status.blockers}
    assert shown == set(rules.BLOCKER_CODES)
    assert any(status.can_prescribe and status.window for status in statuses)
    assert {"RS-2021", "RS-2026"} == {status.rule_set for status in statuses}


def statuses_by_mrn(clinic, days=(0, 10, 30, 60)) -> dict:
    """MRN (without its prefix) -> the rules' answer on several days from today."""
    patients = list(Patient.objects.filter(clinic=clinic).select_related("clinic"))
    histories = load_histories(patients)
    today = clinic.today()
    return {
        patient.mrn.split("-", 1)[1]: [
            rules.status(histories[patient.pk][1], today + dt.timedelta(days=n)) for n in days
        ]
        for patient in patients
    }


@pytest.mark.parametrize("legacy", [False, True], ids=["RS-2026", "RS-2021"])
def test_a_bulk_seeded_patient_of_each_scenario_is_in_the_state_the_services_give(db, legacy):
    scenarios = LEGACY_SCENARIOS if legacy else SCENARIOS
    extra = {"rs2026_effective_on": dt.date.today() + dt.timedelta(days=365)} if legacy else {}
    by_services, bulk = ClinicFactory(**extra), ClinicFactory(**extra)
    for clinic, make in ((by_services, Builder), (bulk, BulkBuilder)):
        builder = make(
            clinic, member(clinic, "clinician"), member(clinic, "staff"), clinic.today(), "S"
        )
        indices = range(1, len(scenarios) + 1)
        rngs = [random.Random(index) for index in indices]
        if make is BulkBuilder:
            assert bulk_seed(builder, indices, rngs, scenarios, chunk=7) == len(scenarios)
        else:
            for index, rng in zip(indices, rngs, strict=True):
                build_patient(builder, index, rng, scenarios)
    expected, got = statuses_by_mrn(by_services), statuses_by_mrn(bulk)
    assert len(got) == len(scenarios)
    for mrn, (name, *_) in zip(sorted(expected), scenarios, strict=True):
        assert got[mrn] == expected[mrn], name

    def records(clinic):
        return [
            sorted(
                model.objects.filter(
                    **{"clinic" if model is Patient else "patient__clinic": clinic}
                ).values_list(*fields)
            )
            for model, fields in RECORD_FIELDS
        ]

    assert records(bulk) == records(by_services)
    home = PregnancyTest.objects.filter(patient__clinic=bulk, setting="home")
    assert [test.evidence.read() for test in home] == [HOME_READOUT] * (0 if legacy else 1)


RECORD_FIELDS = (
    (Patient, ("mrn", "given_name", "birth_date", "weight_kg", "risk_category_set_on")),
    (Course, ("patient__mrn", "opened_on", "target_mg_per_kg", "last_dose_on")),
    (Consent, ("patient__mrn", "kind", "signed_on")),
    (LabResult, ("patient__mrn", "kind", "collected_on", "value", "unit")),
    (PregnancyTest, ("patient__mrn", "kind", "collected_on", "result", "setting", "clia_lab")),
    (ContraceptionConfirmation, ("patient__mrn", "confirmed_on", "source", "started_on")),
    (Visit, ("patient__mrn", "visited_on", "phq2", "phq9", "next_visit_on")),
    (Prescription, ("patient__mrn", "written_on", "daily_dose_mg", "dispensed_on")),
)


def test_seeding_many_patients_bulk_inserts_them_once_and_prints_the_pace(db, monkeypatch):
    monkeypatch.setenv("DEMO_PASSWORD", "demo-pass-123")
    out = io.StringIO()
    call_command("seed_demo", patients=45, bulk=True, stdout=out)
    assert "45 patients in" in out.getvalue() and "per 1,000" in out.getvalue()
    first = snapshot()
    assert len([mrn for mrn, *_ in first[0] if mrn.startswith("DEMO-")]) == 45
    call_command("seed_demo", patients=45, bulk=True, stdout=io.StringIO())
    assert snapshot() == first
    # Growing the clinic adds only the missing patients, with the data they would have had.
    call_command("seed_demo", patients=50, bulk=True, stdout=io.StringIO())
    grown = snapshot()
    assert set(first[0]) < set(grown[0]) and len(grown[0]) == len(first[0]) + 5


def test_demo_clinicians_and_admins_set_up_a_printed_key_at_first_login(db, monkeypatch, capsys):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    monkeypatch.setenv("DEMO_PASSWORD", "demo-pass-123")
    monkeypatch.setenv("DEMO_TOTP_SECRET", "JBSWY3DPEHPK3PXP")
    call_command("seed_demo", patients=2)
    assert "JBSWY3DPEHPK3PXP" in capsys.readouterr().out
    devices = TOTPDevice.objects.filter(confirmed=False)
    assert sorted(d.user.username for d in devices) == [
        "clinic_admin",
        "clinician",
        "legacy_admin",
        "legacy_clinician",
    ]
    assert {d.key for d in devices} == {"48656c6c6f21deadbeef"}
    call_command("seed_demo", patients=2)
    assert TOTPDevice.objects.count() == 4
