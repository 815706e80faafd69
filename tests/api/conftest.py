import datetime

import pytest
from auditlog.models import LogEntry
from rest_framework.test import APIClient

from monitoring.models import Course, LabResult, MoodReview, Prescription, Reminder, Visit
from patients.models import Consent, ContraceptionConfirmation, Patient, PregnancyTest
from tests.builders import Builder
from tests.factories import member

RECORD_MODELS = (
    Patient,
    Course,
    Consent,
    ContraceptionConfirmation,
    PregnancyTest,
    LabResult,
    Visit,
    MoodReview,
    Prescription,
    Reminder,
)


def database_state() -> dict:
    """Every row of every clinical table, and the number of audit entries: equal before and
    after a refused request when nothing was half-saved."""
    state = {model.__name__: list(model.objects.order_by("pk").values()) for model in RECORD_MODELS}
    state["audit entries"] = LogEntry.objects.count()
    return state


@pytest.fixture
def api():
    """A client for a user: api(user) is authenticated, api() is anonymous."""

    def client_for(user=None, **environ):
        client = APIClient()
        client.credentials(**environ)  # e.g. HTTP_AUTHORIZATION="Token …", HTTP_X_CLINIC_ID="2"
        if user is not None:
            client.force_authenticate(user)
        return client

    return client_for


@pytest.fixture
def clinic_b_clinician(other_clinic):
    return member(other_clinic, "clinician")


@pytest.fixture
def today(clinic):
    return clinic.today()


@pytest.fixture
def builder(clinic, clinician, staff, today):
    return Builder(clinic, clinician, staff, today)


def day(today: datetime.date, offset: int) -> str:
    return (today + datetime.timedelta(days=offset)).isoformat()
