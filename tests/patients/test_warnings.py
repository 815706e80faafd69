"""Accepted without a word no more: an unlikely entry a clinician may still be right about is
shown as a warning on the form with a "save anyway" box (the same on every form); a lab unit
outside the list for its kind is refused, naming the field."""

import datetime
from decimal import Decimal

import pytest
from django.urls import reverse

from monitoring import services as monitoring_services
from monitoring.models import LabResult, Visit
from patients.models import ContraceptionConfirmation, Patient
from tests.factories import enroll


def _enrollment(clinic, birth_date: datetime.date, **extra) -> dict:
    data = {
        "mrn": "W-1",
        "given_name": "Robin",
        "family_name": "Young",
        "birth_date": birth_date.isoformat(),
        "email": "robin@example.org",
        "weight_kg": "12",
        "risk_category": "can_get_pregnant",
        "risk_category_reason": "Assessed",
        "enrolled_on": clinic.today().isoformat(),
        "target_mg_per_kg": "120",
    }
    data.update(extra)
    return data


def _years_ago(clinic, years: int) -> datetime.date:
    today = clinic.today()
    return today.replace(year=today.year - years) - datetime.timedelta(days=1)


# --- enrollment: a very young patient -------------------------------------------------------


def test_a_one_year_old_enrolled_as_can_get_pregnant_asks_to_check(client_for, clinic, staff):
    client = client_for(staff)
    data = _enrollment(clinic, _years_ago(clinic, 1), weight_kg="20")
    response = client.post(reverse("patients:create"), data)
    assert response.status_code == 200
    form = response.context["form"]
    assert "1 year old" in form.warnings["risk_category"]
    html = response.content.decode()
    assert 'id="form-warnings"' in html and 'type="checkbox" name="confirm_warnings"' in html
    assert not Patient.objects.exists()

    saved = client.post(reverse("patients:create"), {**data, "confirm_warnings": "on"})
    assert saved.status_code == 302
    assert Patient.objects.get().risk_category == "can_get_pregnant"


@pytest.mark.parametrize(
    ("age", "category", "warned"),
    [
        (7, "can_get_pregnant", "risk_category"),
        (8, "can_get_pregnant", "birth_date"),  # not the category any more, still the age
        (12, "can_get_pregnant", None),
        (11, "cannot_get_pregnant", "birth_date"),
        (12, "cannot_get_pregnant", None),
        (16, "can_get_pregnant", None),
    ],
)
def test_young_ages_at_the_edges(client_for, clinic, staff, age, category, warned):
    data = _enrollment(clinic, _years_ago(clinic, age), risk_category=category, weight_kg="30")
    response = client_for(staff).post(reverse("patients:create"), data)
    if warned:
        assert warned in response.context["form"].warnings
        assert not Patient.objects.exists()
    else:
        assert response.status_code == 302


def test_a_normal_enrollment_shows_no_box(client_for, staff):
    html = client_for(staff).get(reverse("patients:create")).content.decode()
    assert 'type="checkbox" name="confirm_warnings"' not in html
    assert 'id="form-warnings"' not in html


# --- labs: units from a list per kind -------------------------------------------------------


def _lab(client, patient, **data):
    values = {"kind": "alt", "collected_on": patient.enrolled_on.isoformat(), "value": "22"}
    values.update(data)
    return client.post(reverse("monitoring:lab_create", args=[patient.pk]), values)


def test_a_lab_unit_of_bananas_is_refused_naming_the_unit(client_for, staff, patient):
    response = _lab(client_for(staff), patient, unit="bananas")
    assert response.status_code == 200
    assert "Choose a unit from the list" in " ".join(response.context["form"].errors["unit"])
    assert not LabResult.objects.exists()


def test_a_unit_of_another_kind_is_refused_naming_the_allowed_ones(client_for, staff, patient):
    response = _lab(client_for(staff), patient, kind="alt", unit="mg/dL")
    assert "U/L or µkat/L" in " ".join(response.context["form"].errors["unit"])
    assert not LabResult.objects.exists()


def test_a_listed_unit_is_kept(client_for, staff, patient):
    assert _lab(client_for(staff), patient, kind="ldl", unit="mmol/L").status_code == 302
    assert LabResult.objects.get().unit == "mmol/L"


def test_the_service_refuses_an_unknown_unit_whatever_the_door(staff, patient):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as refused:
        monitoring_services.record_lab(
            patient,
            by=staff,
            kind="hdl",
            collected_on=patient.enrolled_on,
            value=Decimal(50),
            unit="bananas",
        )
    assert "unit" in refused.value.message_dict


# --- visits: a weight that falls by a third in a month -------------------------------------


def _visit(patient, **overrides):
    data = {
        "visited_on": patient.clinic.today().isoformat(),
        "weight_kg": "62",
        "missed_dose_days": "0",
        "phq2": "1",
        "comprehension_completed": "on",
    }
    data.update(overrides)
    return data


@pytest.fixture
def heavy_patient(clinic, staff):
    patient = enroll(clinic, by=staff, weight_kg=Decimal("93.0"))
    monitoring_services.record_visit(
        patient,
        by=staff,
        data={
            "visited_on": clinic.today() - datetime.timedelta(days=30),
            "weight_kg": Decimal("93.0"),
            "phq2": 0,
        },
        may_confirm_counseling=False,
    )
    return patient


def test_a_weight_falling_from_93_to_62_kg_in_a_month_asks_to_check(
    client_for, staff, heavy_patient
):
    client = client_for(staff)
    url = reverse("monitoring:visit_create", args=[heavy_patient.pk])
    response = client.post(url, _visit(heavy_patient))
    assert response.status_code == 200
    message = response.context["form"].warnings["weight_kg"]
    assert "fell from 93.0 kg" in message and "62" in message
    assert Visit.objects.filter(patient=heavy_patient).count() == 1
    html = response.content.decode()
    assert 'id="form-warnings"' in html and 'name="confirm_warnings"' in html

    saved = client.post(url, {**_visit(heavy_patient), "confirm_warnings": "on"})
    assert saved.status_code == 302
    assert Visit.objects.filter(patient=heavy_patient).count() == 2


@pytest.mark.parametrize(("weight", "warned"), [("80", False), ("79", True), ("107", True)])
def test_the_weight_warning_starts_at_a_15_percent_change(
    client_for, staff, heavy_patient, weight, warned
):
    url = reverse("monitoring:visit_create", args=[heavy_patient.pk])
    response = client_for(staff).post(url, _visit(heavy_patient, weight_kg=weight))
    assert (response.status_code == 200) is warned


def test_a_change_over_months_is_not_flagged(client_for, clinic, staff):
    patient = enroll(
        clinic,
        by=staff,
        weight_kg=Decimal("93.0"),
        enrolled_on=clinic.today() - datetime.timedelta(days=120),
    )
    url = reverse("monitoring:visit_create", args=[patient.pk])
    assert client_for(staff).post(url, _visit(patient)).status_code == 302


# --- contraception: one method --------------------------------------------------------------


def _confirm(client, patient, methods, **extra):
    data = {"confirmed_on": patient.clinic.today().isoformat(), "methods": methods, **extra}
    return client.post(reverse("patients:contraception_create", args=[patient.pk]), data)


def test_a_confirmation_with_one_method_asks_to_check(client_for, staff, patient):
    client = client_for(staff)
    response = _confirm(client, patient, ["iud"])
    assert "Only one method" in response.context["form"].warnings["methods"]
    assert not ContraceptionConfirmation.objects.exists()
    assert _confirm(client, patient, ["iud"], confirm_warnings="on").status_code == 302
    assert ContraceptionConfirmation.objects.get().methods == ["iud"]


def test_two_secondary_methods_ask_for_a_primary(client_for, staff, patient):
    response = _confirm(client_for(staff), patient, ["male_condom", "vaginal_sponge"])
    assert "No primary method" in response.context["form"].warnings["methods"]


@pytest.mark.parametrize(
    "extra", [{"methods": ["iud", "male_condom"]}, {"methods": [], "abstinence": "on"}]
)
def test_a_valid_confirmation_saves_without_a_box(client_for, staff, patient, extra):
    data = {"confirmed_on": patient.clinic.today().isoformat(), **extra}
    response = client_for(staff).post(
        reverse("patients:contraception_create", args=[patient.pk]), data
    )
    assert response.status_code == 302


def test_the_checklist_warns_of_one_method_the_same_way(client_for, clinic, staff, patient):
    url = reverse("monitoring:visit_create", args=[patient.pk])
    data = _visit(patient, weight_kg="60", reconfirm_contraception="on", methods=["implant"])
    response = client_for(staff).post(url, data)
    assert "Only one method" in response.context["form"].warnings["methods"]
    assert not Visit.objects.filter(patient=patient).exists()
