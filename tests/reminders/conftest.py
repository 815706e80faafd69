import datetime as dt

import pytest
import time_machine

from monitoring import tasks
from monitoring.reminders import dispatch
from monitoring.reminders.planner import plan_clinic
from tests.builders import Builder, ready_first_prescription
from tests.factories import enroll
from tests.reminders.helpers import NOW

UTC = dt.UTC


@pytest.fixture
def builder(clinic, clinician, staff):
    """Put patients in states through the services, dated relative to the clinic's today."""

    def make() -> Builder:
        return Builder(clinic, clinician, staff, clinic.today())

    return make


@pytest.fixture
def in_treatment(builder, clinic, staff):
    """A patient who can get pregnant, first supply dispensed `dispensed` days from today:
    supply end = dispensed + 29, monthly test and visit due at dispensed + 27."""

    def make(dispensed: int = -9, **overrides):
        b = builder()
        patient = enroll(clinic, by=staff, enrolled_on=b.day(dispensed - 60), **overrides)
        ready_first_prescription(b, patient, confirmation_on=dispensed - 1)
        b.prescribe(patient, dispensed - 1, dispensed=dispensed)
        return patient

    return make


@pytest.fixture
def waiting_for_contraception(builder, clinic, staff):
    """A qualifying test was recorded yesterday; contraception is not confirmed by staff."""

    def make(**overrides):
        b = builder()
        patient = enroll(clinic, by=staff, **overrides)
        b.baseline(patient, on=-10, can=True)
        b.test(patient, "screening", -30)
        b.test(patient, "confirmation", -1)
        b.visit(patient, -1)
        return patient

    return make


@pytest.fixture
def enqueued(monkeypatch):
    """The batches given to the broker, instead of a broker."""
    batches: list[list[int]] = []
    monkeypatch.setattr(tasks.send_reminders, "delay", batches.append)
    return batches


@pytest.fixture
def claimed(clinic, waiting_for_contraception, enqueued, django_capture_on_commit_callbacks):
    """`count` contraception reminders planned and claimed at NOW; their ids in claim order.
    The batches the dispatcher enqueued for them are dropped."""

    def make(count: int) -> list[int]:
        with time_machine.travel(NOW, tick=False):
            for index in range(count):
                waiting_for_contraception(email=f"patient{index}@example.org")
            plan_clinic(clinic)
            with django_capture_on_commit_callbacks(execute=True):
                ids = dispatch.dispatch_due()
        enqueued.clear()
        assert len(ids) == count
        return ids

    return make
