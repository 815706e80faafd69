"""Re-treatment: a new course no earlier than 56 days after the last dose."""

import datetime

import pytest
from django.urls import reverse

from monitoring import enrollment, services
from monitoring.history import load_history
from tests import builders as states
from tests.auth import verified_login


@pytest.fixture
def ended_yesterday(build, builder, clinician):
    """A course whose last dose was yesterday; the tests travel forward to judge a new one."""
    patient = build(states.in_treatment, enrolled=-80)
    services.end_treatment(patient, by=clinician, last_dose_on=builder.day(-1))
    return patient


@pytest.mark.parametrize(("days_after_last_dose", "accepted"), [(55, False), (56, True)])
def test_a_new_course_starts_56_days_after_the_last_dose(
    client, clinician, ended_yesterday, builder, days_after_last_dose, accepted
):
    import time_machine
    from django.utils import timezone

    patient = ended_yesterday
    opened_on = builder.day(-1) + datetime.timedelta(days=days_after_last_dose)
    later = timezone.now() + datetime.timedelta(days=days_after_last_dose)
    with time_machine.travel(later, tick=False):
        verified_login(client, clinician)
        response = client.post(
            reverse("monitoring:course_create", args=[patient.pk]),
            {"opened_on": opened_on.isoformat()},
        )
    if accepted:
        assert response["Location"] == patient.get_absolute_url()
        course, history = load_history(patient)
        assert (course.opened_on, history.last_dose_on, history.prescriptions) == (
            opened_on,
            None,
            (),
        )
    else:
        assert "at the earliest" in response.context["form"].errors["opened_on"][0]
        assert patient.courses.count() == 1


def test_a_course_that_has_not_ended_cannot_be_replaced(client, clinician, patient):
    verified_login(client, clinician)
    response = client.post(
        reverse("monitoring:course_create", args=[patient.pk]),
        {"opened_on": patient.clinic.today().isoformat()},
    )
    assert "has not ended" in response.context["form"].errors["opened_on"][0]
    assert patient.courses.count() == 1


def test_a_new_course_is_a_new_enrollment_for_the_records(ended_yesterday, builder, clinician):
    import time_machine
    from django.core.exceptions import ValidationError
    from django.utils import timezone

    from patients import services as patient_services

    patient = ended_yesterday
    opened_on = builder.day(-1) + datetime.timedelta(days=56)
    with time_machine.travel(timezone.now() + datetime.timedelta(days=60), tick=False):
        with pytest.raises(ValidationError) as error:
            enrollment.start_new_course(
                patient, by=clinician, opened_on=opened_on, target_mg_per_kg=0
            )
        assert "target_mg_per_kg" in error.value.message_dict
        enrollment.start_new_course(patient, by=clinician, opened_on=opened_on)
        patient.refresh_from_db()
        assert patient.enrolled_on == opened_on
        with pytest.raises(ValidationError) as error:
            patient_services.record_consent(
                patient,
                by=clinician,
                kind="patient_information",
                signed_on=opened_on - datetime.timedelta(days=1),
            )
        assert "before the patient's enrollment" in error.value.message_dict["signed_on"][0]
