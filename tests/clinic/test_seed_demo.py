from django.contrib.auth import get_user_model
from django.core.management import call_command

from clinic.models import Clinic, Membership
from monitoring.models import Prescription, Visit
from patients.models import Patient


def snapshot():
    return (
        sorted(Patient.objects.values_list("mrn", "given_name", "family_name", "risk_category")),
        Visit.objects.count(),
        Prescription.objects.count(),
        sorted(Membership.objects.values_list("user__username", "role")),
    )


def test_seed_demo_twice_gives_the_same_data(db, monkeypatch):
    monkeypatch.setenv("DEMO_PASSWORD", "demo-pass-123")
    call_command("seed_demo", patients=14)
    first = snapshot()
    call_command("seed_demo", patients=14)
    assert snapshot() == first
    assert Clinic.objects.count() == 1
    assert len(first[0]) == 14
    assert first[3] == [
        ("clinic_admin", "clinic_admin"),
        ("clinician", "clinician"),
        ("staff", "staff"),
    ]
    assert get_user_model().objects.get(username="staff").check_password("demo-pass-123")
