import datetime
from decimal import Decimal

import pytest
from django.urls import reverse

from patients.models import Patient
from tests.auth import verified_login
from tests.factories import enroll


def form_data(clinic, **overrides):
    data = {
        "mrn": "A-1001",
        "given_name": "Robin",
        "family_name": "Quayle",
        "birth_date": "2002-03-04",
        "email": "robin@example.org",
        "phone": "555-0101",
        "ipledge_id": "1234567890",
        "weight_kg": "64.5",
        "risk_category": "can_get_pregnant",
        "risk_category_reason": "Assessed at the first visit",
        "enrolled_on": clinic.today().isoformat(),
        "target_mg_per_kg": "",
    }
    data.update(overrides)
    return data


@pytest.fixture
def staff_client(client, staff):
    verified_login(client, staff)
    return client


def test_staff_enroll_a_patient_and_a_course_opens(staff_client, clinic):
    response = staff_client.post(reverse("patients:create"), form_data(clinic))
    patient = Patient.objects.get(mrn="A-1001")
    assert response.status_code == 302
    assert response["Location"] == patient.get_absolute_url()
    assert patient.clinic == clinic
    assert patient.weight_kg == Decimal("64.5")
    course = patient.courses.get()
    assert course.opened_on == clinic.today()
    assert course.target_mg_per_kg == clinic.default_target_mg_per_kg


def tomorrow(clinic):
    return (clinic.today() + datetime.timedelta(days=1)).isoformat()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("birth_date", "2002-02-30", "Enter a valid date"),
        ("birth_date", "tomorrow", "The birth date cannot be in the future"),
        ("enrolled_on", "tomorrow", "The enrollment date cannot be in the future"),
        ("weight_kg", "19.9", "Weight must be between 20 and 300 kg"),
        ("weight_kg", "300.1", "Weight must be between 20 and 300 kg"),
        ("weight_kg", "heavy", "Enter the weight in kilograms"),
        ("email", "robin@", "Enter a valid email address"),
        ("given_name", "", "This field is required"),
        ("given_name", "Rob\x00in", "Null characters are not allowed"),
        ("risk_category", "female", "Select a valid choice"),
        ("target_mg_per_kg", "49", "greater than or equal to 50"),
    ],
)
def test_enrollment_refuses_bad_input_naming_the_field_and_saves_nothing(
    staff_client, clinic, field, value, message
):
    if value == "tomorrow":
        value = tomorrow(clinic)
    response = staff_client.post(reverse("patients:create"), form_data(clinic, **{field: value}))
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert field in errors
    assert message in " ".join(errors[field])
    assert not Patient.objects.exists()


@pytest.mark.parametrize("weight", ["20", "300"])
def test_weights_at_the_limits_are_accepted(staff_client, clinic, weight):
    staff_client.post(reverse("patients:create"), form_data(clinic, weight_kg=weight))
    assert Patient.objects.get().weight_kg == Decimal(weight)


def test_a_duplicate_mrn_in_the_same_clinic_is_refused(staff_client, clinic, staff):
    enroll(clinic, by=staff, mrn="A-1001")
    response = staff_client.post(reverse("patients:create"), form_data(clinic))
    assert "Another patient in this clinic already has this MRN" in str(
        response.context["form"].errors["mrn"]
    )
    assert Patient.objects.count() == 1


def test_the_same_mrn_in_another_clinic_is_allowed(staff_client, clinic, other_clinic):
    enroll(other_clinic, mrn="A-1001")
    staff_client.post(reverse("patients:create"), form_data(clinic))
    assert Patient.objects.filter(mrn="A-1001").count() == 2


def test_a_clinician_changes_the_risk_category_keeping_date_and_reason(client, clinician, patient):
    verified_login(client, clinician)
    day = patient.clinic.today().isoformat()
    response = client.post(
        reverse("patients:risk_category", args=[patient.pk]),
        {"risk_category": "cannot_get_pregnant", "changed_on": day, "reason": "Hysterectomy"},
    )
    assert response.status_code == 302
    patient.refresh_from_db()
    assert patient.risk_category == "cannot_get_pregnant"
    change = patient.risk_changes.get()
    assert (change.previous, change.new, change.reason, change.changed_by) == (
        "can_get_pregnant",
        "cannot_get_pregnant",
        "Hysterectomy",
        clinician,
    )


def test_staff_cannot_change_the_risk_category(client, staff, patient):
    verified_login(client, staff)
    response = client.post(
        reverse("patients:risk_category", args=[patient.pk]),
        {"risk_category": "cannot_get_pregnant", "changed_on": "2026-01-01", "reason": "x"},
    )
    assert response.status_code == 403
    patient.refresh_from_db()
    assert patient.risk_category == "can_get_pregnant"


def edit_data(patient, **overrides):
    data = {
        f: getattr(patient, f)
        for f in (
            "mrn",
            "given_name",
            "family_name",
            "birth_date",
            "email",
            "phone",
            "ipledge_id",
            "weight_kg",
            "enrolled_on",
        )
    }
    data.update(overrides)
    return data


def test_staff_cannot_allow_home_tests_but_a_clinician_can(client, staff, clinician, patient):
    url = reverse("patients:edit", args=[patient.pk])
    verified_login(client, staff)
    assert "home_tests_allowed" not in client.get(url).context["form"].fields
    response = client.post(url, edit_data(patient, home_tests_allowed="on", phone="555-0142"))
    assert response.status_code == 302
    patient.refresh_from_db()
    assert (patient.phone, patient.home_tests_allowed) == ("555-0142", False)
    verified_login(client, clinician)
    client.post(url, edit_data(patient, home_tests_allowed="on"))
    patient.refresh_from_db()
    assert patient.home_tests_allowed is True


def test_correcting_the_enrollment_date_moves_the_course_with_it(client, staff, patient):
    verified_login(client, staff)
    earlier = patient.enrolled_on - datetime.timedelta(days=10)
    response = client.post(
        reverse("patients:edit", args=[patient.pk]), edit_data(patient, enrolled_on=earlier)
    )
    assert response.status_code == 302
    assert patient.courses.get().opened_on == earlier


def test_the_enrollment_date_cannot_move_past_a_record(client, staff, patient):
    from patients import services

    services.record_consent(
        patient, by=staff, kind="patient_information", signed_on=patient.enrolled_on
    )
    verified_login(client, staff)
    later = patient.enrolled_on + datetime.timedelta(days=1)
    response = client.post(
        reverse("patients:edit", args=[patient.pk]), edit_data(patient, enrolled_on=later)
    )
    assert "Records are dated from" in response.context["form"].errors["enrolled_on"][0]
    patient.refresh_from_db()
    assert patient.courses.get().opened_on == patient.enrolled_on != later


def test_a_dose_target_of_zero_is_refused_not_replaced(clinic, staff):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as error:
        enroll(clinic, by=staff, target_mg_per_kg=0)
    assert "target_mg_per_kg" in error.value.message_dict
    assert not Patient.objects.exists()


def test_staff_enroll_without_home_tests_while_a_clinician_may_allow_them(
    client, staff, clinician, clinic
):
    verified_login(client, staff)
    assert "home_tests_allowed" not in client.get(reverse("patients:create")).context["form"].fields
    client.post(reverse("patients:create"), form_data(clinic, home_tests_allowed="on"))
    assert Patient.objects.get(mrn="A-1001").home_tests_allowed is False
    verified_login(client, clinician)
    client.post(
        reverse("patients:create"), form_data(clinic, mrn="A-1002", home_tests_allowed="on")
    )
    assert Patient.objects.get(mrn="A-1002").home_tests_allowed is True


def test_a_later_course_keeps_its_enrollment_date(clinician, staff, patient):
    from django.core.exceptions import ValidationError

    from monitoring import enrollment as services
    from monitoring.models import Course

    Course.objects.create(
        patient=patient,
        opened_on=patient.enrolled_on + datetime.timedelta(days=1),
        target_mg_per_kg=120,
    )
    earlier = patient.enrolled_on - datetime.timedelta(days=30)
    with pytest.raises(ValidationError) as error:
        services.update_patient(
            patient, by=staff, data={"enrolled_on": earlier}, may_allow_home_tests=False
        )
    assert "later course" in error.value.message_dict["enrolled_on"][0]


def test_an_enrollment_before_the_first_rule_set_is_refused_naming_the_date(clinic, staff):
    """docs/rules.md: no date before 2021-12-13 is judged, so none is accepted."""
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as refused:
        enroll(clinic, by=staff, enrolled_on=datetime.date(2021, 12, 12))
    assert "enrolled_on" in refused.value.message_dict
    assert "Dec 13, 2021" in refused.value.message_dict["enrolled_on"][0]
    assert not Patient.objects.exists()
