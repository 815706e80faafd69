"""A prescription cannot slip past the gate by its date, by repetition or by a late pick-up."""

import datetime
from decimal import Decimal

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.utils import timezone

import rules
from monitoring import services
from monitoring.history import load_history
from monitoring.models import Prescription
from tests.builders import locked_out, ready_first_prescription


def prescribe(builder, patient, offset, **kwargs):
    return services.write_prescription(
        patient,
        by=builder.clinician,
        written_on=builder.day(offset),
        daily_dose_mg=Decimal("40"),
        days_supply=30,
        **kwargs,
    )


@pytest.fixture
def ready(build):
    return build(lambda b, p: ready_first_prescription(b, p, confirmation_on=-3))


def test_a_prescription_dated_before_a_positive_test_is_refused(builder, ready):
    builder.test(ready, "monthly", 0, result="positive")
    with pytest.raises(services.PrescriptionRefused) as refused:
        prescribe(builder, ready, -1)
    assert [b.code for b in refused.value.blockers] == ["pregnancy_test_positive"]
    assert not Prescription.objects.exists()


def test_a_prescription_entered_late_is_judged_by_its_day(builder, ready):
    prescription = prescribe(builder, ready, -1)
    assert prescription.written_on == builder.day(-1)


def test_a_second_prescription_the_same_day_is_refused(builder, ready):
    prescribe(builder, ready, 0)
    with pytest.raises(ValidationError) as error:
        prescribe(builder, ready, 0)
    assert "already written" in error.value.message_dict["written_on"][0]
    assert Prescription.objects.count() == 1


def test_a_prescription_dated_before_an_existing_one_is_refused(builder, ready):
    prescribe(builder, ready, 0)
    with pytest.raises(ValidationError):
        prescribe(builder, ready, -1)
    assert Prescription.objects.count() == 1


@pytest.mark.parametrize(("dispensed", "accepted"), [(3, True), (4, False)])
def test_a_dispense_must_fall_inside_the_pick_up_window(builder, ready, dispensed, accepted):
    # The confirmation test was collected on day -3: the window closes on day +3.
    prescription = prescribe(builder, ready, -1)
    dispensed_on = builder.day(dispensed)
    later = timezone.now() + datetime.timedelta(days=dispensed)
    with time_machine.travel(later, tick=False):
        if accepted:
            services.dispense(
                prescription, by=builder.staff, dispensed_on=dispensed_on, rma_number="100000001"
            )
        else:
            with pytest.raises(ValidationError) as error:
                services.dispense(
                    prescription,
                    by=builder.staff,
                    dispensed_on=dispensed_on,
                    rma_number="100000001",
                )
            assert "pick-up window closed" in error.value.message_dict["dispensed_on"][0]
    prescription.refresh_from_db()
    assert prescription.dispensed_on == (dispensed_on if accepted else None)


def test_no_prescription_is_written_during_the_rs2021_lockout(build, builder, clinic):
    clinic.rs2026_effective_on = clinic.today() + datetime.timedelta(days=365)
    clinic.save()
    patient = build(locked_out)
    # The window of the confirmation test collected on day -12 closed on day -6.
    with pytest.raises(services.PrescriptionRefused):
        prescribe(builder, patient, 0)
    status = rules.status(load_history(patient)[1], clinic.today())
    assert [b.code for b in status.blockers if b.code == "lockout_active"] == ["lockout_active"]
