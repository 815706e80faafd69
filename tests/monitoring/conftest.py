import random

import pytest

from clinic.demo import Builder


@pytest.fixture
def builder(clinic, clinician, staff):
    """Puts patients in given states through the services, dates relative to the clinic's today."""
    return Builder(clinic, clinician, staff, clinic.today())


@pytest.fixture
def build(builder):
    """build(scenario, can=True, enrolled=-45) -> a patient in that state."""
    counter = iter(range(1, 10_000))

    def make(scenario, *, can: bool = True, enrolled: int = -45):
        index = next(counter)
        patient = builder.enroll(index + 5000, random.Random(index), can=can, enrolled=enrolled)
        scenario(builder, patient)
        return patient

    return make
