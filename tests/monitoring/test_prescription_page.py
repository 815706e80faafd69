"""The standalone prescription form: a refusal lists the blockers above the form, each with its
next step (the patient page's list), and the form shows the dosing weight, the dose in
mg/kg/day and the pick-up window."""

import datetime
import re
from decimal import Decimal

import pytest
from django.urls import reverse

from monitoring import services
from monitoring.models import Prescription
from tests.builders import Builder, ready_first_prescription


@pytest.fixture
def builder(clinic, clinician, staff):
    return Builder(clinic, clinician, staff, clinic.today())


def _url(patient):
    return reverse("monitoring:prescription_create", args=[patient.pk])


def _post(client, patient, **data):
    values = {
        "written_on": patient.clinic.today().isoformat(),
        "daily_dose_mg": "40",
        "days_supply": "30",
    }
    values.update(data)
    return client.post(_url(patient), values)


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_a_refusal_lists_each_blocker_with_its_next_step_above_the_form(
    client_for, clinician, patient
):
    response = _post(client_for(clinician), patient)
    html = response.content.decode()
    assert response.status_code == 200
    assert not Prescription.objects.exists()
    blockers = html.index('id="prescription-blockers"')
    form_starts = html.index('id="id_written_on"')
    assert blockers < form_starts  # above the form, not under *Written on*
    section = html[blockers:form_starts]
    assert section.count("<li ") >= 3
    assert 'data-code="screening_test_missing"' in section
    assert section.count("Next step:") == section.count("<li ")
    assert "Refused:" not in html
    written_on_errors = response.context["form"].errors.get("written_on", [])
    assert written_on_errors == []


def test_the_patient_page_shows_the_same_list_with_next_steps(client_for, clinician, patient):
    html = client_for(clinician).get(patient.get_absolute_url()).content.decode()
    panel = html[html.index('id="status-panel"') :]
    assert 'class="blocker-list"' in panel
    assert "Next step:" in panel


def test_staff_read_steps_for_staff(client_for, staff, clinician, patient):
    clinician_html = client_for(clinician).get(patient.get_absolute_url()).content.decode()
    staff_html = client_for(staff).get(patient.get_absolute_url()).content.decode()
    assert "Next step:" in staff_html
    assert "write the prescription" not in _text(staff_html).lower() or (
        "ask the prescriber" in _text(staff_html).lower()
    )
    assert "Next step:" in clinician_html


def test_the_form_shows_weight_dose_per_kg_and_pickup_window(
    client_for, clinician, patient, builder
):
    ready_first_prescription(builder, patient, confirmation_on=-1)
    today = patient.clinic.today()
    response = client_for(clinician).get(_url(patient))
    context = response.context
    assert context["dosing_weight"] == Decimal("60.0")
    assert context["pickup_deadline"] == today - datetime.timedelta(days=1) + datetime.timedelta(
        days=6
    )  # the confirmation test's SCD + 6
    text = _text(response.content.decode())
    assert "60.0 kg" in text
    assert f"{context['pickup_deadline']:%a, %b} {context['pickup_deadline'].day}" in text
    assert "Must be picked up by" in text


def test_the_dose_is_shown_in_mg_per_kg_per_day_after_validation(client_for, clinician, patient):
    # 90 mg at 60 kg = 1.5 mg/kg/day; the gate refuses (nothing recorded) but the figure shows.
    response = _post(client_for(clinician), patient, daily_dose_mg="90")
    assert response.context["mg_per_kg_per_day"] == Decimal("1.50")
    text = _text(response.content.decode())
    assert "1.50 mg/kg/day" in text
    assert "90 mg a day = 1.50 mg/kg/day" in text  # the hint under the dose


def test_a_dose_above_2_mg_per_kg_names_the_dose_field_and_the_figure(
    client_for, clinician, patient
):
    response = _post(client_for(clinician), patient, daily_dose_mg="121")
    assert "above 2 mg/kg/day" in " ".join(response.context["form"].errors["daily_dose_mg"])
    assert response.context["mg_per_kg_per_day"] == Decimal("2.02")


def test_the_dosing_weight_is_the_latest_visit_weight(client_for, clinician, patient, builder):
    ready_first_prescription(builder, patient, confirmation_on=-1)
    services.record_visit(
        patient,
        by=clinician,
        data={"visited_on": patient.clinic.today(), "weight_kg": Decimal("64.5"), "phq2": 0},
        may_confirm_counseling=True,
    )
    response = client_for(clinician).get(_url(patient))
    assert response.context["dosing_weight"] == Decimal("64.5")
    assert response.context["weighed_on"] == patient.clinic.today()


def test_a_ready_patient_gets_the_prescription(client_for, clinician, patient, builder):
    ready_first_prescription(builder, patient, confirmation_on=-1)
    response = _post(client_for(clinician), patient)
    assert response.status_code == 302
    assert Prescription.objects.filter(patient=patient).count() == 1
