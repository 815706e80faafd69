"""The monthly visit checklist: server-side rules, roles, and all-or-nothing saving."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from monitoring import services
from monitoring.models import Visit
from patients.models import ContraceptionConfirmation
from tests import builders as states
from tests.auth import verified_login
from tests.factories import enroll, member


def checklist(patient):
    return reverse("monitoring:visit_create", args=[patient.pk])


def visit_post(patient, **overrides):
    data = {
        "visited_on": patient.clinic.today().isoformat(),
        "weight_kg": "61.5",
        "missed_dose_days": "0",
        "phq2": "1",
        "comprehension_completed": "on",
        "next_visit_on": (patient.clinic.today() + datetime.timedelta(days=28)).isoformat(),
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


@pytest.fixture
def can_patient(clinic, staff):
    return enroll(clinic, by=staff)


@pytest.fixture
def cannot_patient(clinic, staff):
    return enroll(clinic, by=staff, risk_category="cannot_get_pregnant")


def test_the_checklist_shows_the_steps_in_visit_order(client_for, clinician, builder, build):
    patient = build(states.in_treatment, enrolled=-80)
    body = client_for(clinician).get(checklist(patient)).content.decode()
    steps = [
        "Visit and weight",
        "Dose and adherence",
        "Side effects",
        "Mood screen",
        "Counseling and comprehension",
        "Contraception",
        "Labs and next visit",
        "The gate today",
    ]
    positions = [body.index(step) for step in steps]
    assert positions == sorted(positions)
    assert "40.0 mg/day" in body  # the latest prescription's daily dose
    assert 'name="se_dry_lips"' in body
    assert 'name="counseling_confirmed"' in body
    assert "clinic/checklist.js" in body


def test_a_valid_checklist_saves_the_visit_with_its_side_effects(
    client_for, clinician, cannot_patient
):
    response = client_for(clinician).post(
        checklist(cannot_patient),
        visit_post(
            cannot_patient,
            se_dry_lips="mild",
            se_headache="severe",
            counseling_confirmed="on",
            missed_dose_days="2",
        ),
    )
    visit = Visit.objects.get(patient=cannot_patient)
    assert response.status_code == 302
    assert response["Location"] == reverse("monitoring:visit_detail", args=[visit.pk])
    assert visit.side_effects == {"dry_lips": "mild", "headache": "severe"}
    assert visit.counseling_confirmed and visit.comprehension_completed
    assert visit.missed_dose_days == 2 and str(visit.weight_kg) == "61.5"


def test_phq9_is_required_when_phq2_is_3_or_more(client_for, clinician, cannot_patient):
    response = client_for(clinician).post(
        checklist(cannot_patient), visit_post(cannot_patient, phq2="3")
    )
    assert response.status_code == 200
    assert "phq9" in response.context["form"].errors
    assert not Visit.objects.exists()


def test_phq9_item9_is_required_with_the_phq9_total(client_for, clinician, cannot_patient):
    response = client_for(clinician).post(
        checklist(cannot_patient), visit_post(cannot_patient, phq2="4", phq9="11")
    )
    assert "phq9_item9" in response.context["form"].errors
    assert not Visit.objects.exists()


def test_item9_above_zero_alerts_and_blocks_until_a_mood_review(
    client_for, clinician, cannot_patient
):
    client = client_for(clinician)
    response = client.post(
        checklist(cannot_patient),
        visit_post(cannot_patient, phq2="4", phq9="12", phq9_item9="1"),
        follow=True,
    )
    visit = Visit.objects.get(patient=cannot_patient)
    body = response.content.decode()
    assert 'id="self-harm-alert"' in body
    assert reverse("monitoring:mood_review", args=[visit.pk]) in body
    codes = [b.code for b in response.context["status"].blockers]
    assert "mood_review_required" in codes
    page = client.get(cannot_patient.get_absolute_url()).content.decode()
    assert 'id="self-harm-alert"' in page

    services.record_mood_review(
        visit, by=clinician, reviewed_on=visit.visited_on, note="Seen; safety plan agreed."
    )
    response = client.get(reverse("monitoring:visit_detail", args=[visit.pk]))
    assert "mood_review_required" not in [b.code for b in response.context["status"].blockers]
    assert 'id="self-harm-alert"' not in response.content.decode()


def test_staff_neither_see_nor_confirm_counseling(client_for, staff, cannot_patient):
    client = client_for(staff)
    assert (
        'name="counseling_confirmed"' not in client.get(checklist(cannot_patient)).content.decode()
    )
    client.post(checklist(cannot_patient), visit_post(cannot_patient, counseling_confirmed="on"))
    assert Visit.objects.get(patient=cannot_patient).counseling_confirmed is False


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"se_dry_lips": "extreme"}, "se_dry_lips"),
        ({"se_unicorn_horns": "mild"}, "__all__"),
        ({"weight_kg": "500"}, "weight_kg"),
        ({"weight_kg": "12"}, "weight_kg"),
        ({"weight_kg": "sixty"}, "weight_kg"),
        ({"next_visit_on": "2000-01-01"}, "next_visit_on"),
        ({"phq2": "7"}, "phq2"),
        ({"phq2": None}, "phq2"),
        ({"phq9": "30", "phq2": "4", "phq9_item9": "0"}, "phq9"),
        ({"phq9": "5", "phq2": "4", "phq9_item9": "9"}, "phq9_item9"),
        ({"phq9": "2", "phq2": "4", "phq9_item9": "3"}, "phq9_item9"),
        ({"missed_dose_days": "31"}, "missed_dose_days"),
        ({"visited_on": "2999-01-01"}, "visited_on"),
        ({"visited_on": "1999-01-01"}, "visited_on"),
        ({"visited_on": "not a date"}, "visited_on"),
        ({"notes": "bad\x00byte"}, "notes"),
    ],
)
def test_bad_input_names_the_field_and_saves_nothing(
    client_for, clinician, can_patient, overrides, field
):
    data = visit_post(
        can_patient, reconfirm_contraception="on", methods=["iud", "male_condom"], **overrides
    )
    response = client_for(clinician).post(checklist(can_patient), data)
    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert not Visit.objects.exists()
    assert not ContraceptionConfirmation.objects.exists()


def test_contraception_is_reconfirmed_with_the_visit(client_for, staff, can_patient):
    started = can_patient.clinic.today() - datetime.timedelta(days=60)
    client_for(staff).post(
        checklist(can_patient),
        visit_post(
            can_patient,
            reconfirm_contraception="on",
            methods=["iud", "male_condom"],
            started_on=started.isoformat(),
        ),
    )
    visit = Visit.objects.get(patient=can_patient)
    confirmation = ContraceptionConfirmation.objects.get(patient=can_patient)
    assert confirmation.source == "staff"
    assert confirmation.confirmed_on == visit.visited_on
    assert confirmation.methods == ["iud", "male_condom"]
    assert confirmation.started_on == started
    page = client_for(staff).get(reverse("monitoring:visit_detail", args=[visit.pk]))
    who = staff.get_full_name() or staff.get_username()  # named, not "by staff"
    assert f"re-confirmed by {who}: Intrauterine device (IUD), Male condom" in page.content.decode()


def test_reconfirming_needs_methods_or_abstinence(client_for, staff, can_patient):
    response = client_for(staff).post(
        checklist(can_patient), visit_post(can_patient, reconfirm_contraception="on")
    )
    assert "methods" in response.context["form"].errors
    assert not Visit.objects.exists()


def test_a_refused_contraception_confirmation_leaves_no_visit(
    client_for, staff, can_patient, monkeypatch
):
    def refuse(*args, **kwargs):
        raise ValidationError({"methods": "Refused by the service."})

    monkeypatch.setattr("monitoring.services.record_contraception", refuse)
    response = client_for(staff).post(
        checklist(can_patient),
        visit_post(can_patient, reconfirm_contraception="on", methods=["iud", "male_condom"]),
    )
    assert response.context["form"].errors["methods"] == ["Refused by the service."]
    assert not Visit.objects.exists()


def test_the_contraception_part_is_only_for_patients_who_can_get_pregnant(
    client_for, staff, cannot_patient, can_patient
):
    client = client_for(staff)
    assert 'name="methods"' not in client.get(checklist(cannot_patient)).content.decode()
    body = client.get(checklist(can_patient)).content.decode()
    assert 'value="progestin_only_pill"' in body and 'id="progestin-warning"' in body
    for tier in ("Primary", "Secondary", "Not acceptable"):
        assert tier in body


def test_the_checklist_prefills_the_last_staff_confirmation(client_for, staff, build):
    patient = build(states.ready)
    form = client_for(staff).get(checklist(patient)).context["form"]
    assert sorted(form.initial["methods"]) == ["iud", "male_condom"]


def test_the_saved_visit_offers_the_prescription_form_to_a_clinician_only(
    client_for, clinician, staff, build
):
    patient = build(states.ready)
    visit = Visit.objects.filter(patient=patient).latest("visited_on")
    url = reverse("monitoring:visit_detail", args=[visit.pk])
    response = client_for(clinician).get(url)
    assert response.context["status"].can_prescribe
    body = response.content.decode()
    assert reverse("monitoring:prescription_create", args=[patient.pk]) in body
    assert 'name="daily_dose_mg"' in body
    staff_body = client_for(staff).get(url).content.decode()
    assert 'name="daily_dose_mg"' not in staff_body


def test_the_print_page_has_the_visit_and_the_gate(client_for, staff, build):
    patient = build(states.mood_review)
    visit = Visit.objects.filter(patient=patient).latest("visited_on")
    response = client_for(staff).get(reverse("monitoring:visit_print", args=[visit.pk]))
    body = response.content.decode()
    assert response.status_code == 200
    assert "Monthly visit checklist" in body and patient.full_name in body
    assert 'id="status-panel"' in body
    assert "REQUIRED" in body  # item 9 was 1 and nobody has reviewed it
    assert response.context["today"] == visit.visited_on
    on = visit.visited_on
    assert f"cannot be written on {on:%b} {on.day}, {on.year}" in body


def test_another_clinics_visit_is_404(client, clinician, other_clinic, cannot_patient):
    visit = services.record_visit(
        cannot_patient,
        by=clinician,
        may_confirm_counseling=True,
        data={"visited_on": cannot_patient.clinic.today(), "phq2": 0},
    )
    verified_login(client, member(other_clinic, "clinician"))
    for name in ("visit_detail", "visit_print", "mood_review"):
        assert client.get(reverse(f"monitoring:{name}", args=[visit.pk])).status_code == 404
    assert client.get(checklist(cannot_patient)).status_code == 404
    assert client.post(checklist(cannot_patient), visit_post(cannot_patient)).status_code == 404
    assert not Visit.objects.exclude(pk=visit.pk).exists()


def test_a_clinic_admin_cannot_record_a_visit(client_for, clinic_admin, cannot_patient):
    assert client_for(clinic_admin).get(checklist(cannot_patient)).status_code == 403
