import pytest

from tests.builders import Builder


@pytest.fixture
def builder(clinic, clinician, staff):
    """Puts patients in given states through the services, dates relative to the clinic's today."""
    return Builder(clinic, clinician, staff, clinic.today())


@pytest.fixture
def build(builder):
    """build(state, can=True, enrolled=-45) -> a patient put in that state (a function of
    tests/builders.py, or any function of a builder and a patient)."""

    def make(state, *, can: bool = True, enrolled: int = -45):
        patient = builder.enroll(can=can, enrolled=enrolled)
        state(builder, patient)
        return patient

    return make


@pytest.fixture
def entered(staff):
    """entered(patient): staff tick every item of the patient's iPLEDGE sheet that is ready, as
    after typing them into iPLEDGE; the patient then moves past the `to_enter` group."""
    from monitoring import services
    from monitoring.history import load_history, load_ipledge_ticks
    from rules import ipledge

    def tick_all(patient):
        _, history = load_history(patient)
        sheet = ipledge.build(history, patient.clinic.today(), load_ipledge_ticks(patient))
        for item in sheet.pending:
            services.record_ipledge_entry(patient, by=staff, item=item.item)
        return patient

    return tick_all
