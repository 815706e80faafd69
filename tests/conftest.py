import os

import pytest

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

from tests.auth import verified_login  # noqa: E402
from tests.factories import ClinicFactory, enroll, member  # noqa: E402


@pytest.fixture
def clinic(db):
    return ClinicFactory(name="Clinic A")


@pytest.fixture
def other_clinic(db):
    return ClinicFactory(name="Clinic B")


@pytest.fixture
def clinician(clinic):
    return member(clinic, "clinician")


@pytest.fixture
def staff(clinic):
    return member(clinic, "staff")


@pytest.fixture
def clinic_admin(clinic):
    return member(clinic, "clinic_admin")


@pytest.fixture
def patient(clinic, staff):
    return enroll(clinic, by=staff)


@pytest.fixture
def client_for(client):
    """client_for(user): the test client logged in as the user, past the second factor."""

    def login(user):
        return verified_login(client, user)

    return login


def pytest_terminal_summary(terminalreporter):
    """Repeat the figures the fault tests measured at the SMTP sink, so CI's log shows them."""
    from tests.reminders.stack import FAULT_REPORTS

    if FAULT_REPORTS:
        terminalreporter.section("reminder fault tests: counts at the SMTP sink")
        for line in FAULT_REPORTS:
            terminalreporter.write_line(line)
