from django.contrib.auth import get_user_model
from django.core.management import call_command

from clinic.demo import SCENARIOS
from clinic.models import Clinic, Membership
from monitoring import rules
from monitoring.history import load_histories
from monitoring.models import Prescription, Visit
from patients.models import Patient


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
