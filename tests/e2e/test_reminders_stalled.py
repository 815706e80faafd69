"""The clinic admin opens Reminders while sending has stalled (beat stopped 40 minutes ago) and
reads the red banner: what it means for the clinic and what to do (docs/operations-health.md).
With SCREENSHOTS=1 (`make screenshots`) it writes docs/screenshots/reminders-stalled.png."""

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from monitoring.models import Reminder
from monitoring.models import ReminderKind as Kind
from monitoring.models import ReminderStatus as Status
from monitoring.reminders.stall import record_heartbeat
from tests.factories import ClinicFactory, enroll, member

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_the_clinic_admin_sees_that_reminders_have_stopped_and_what_to_do(
    page, live_server, log_in, look
):
    # No quiet hours, so the late rows count whatever the hour the suite runs at.
    clinic = ClinicFactory(name="Riverside Dermatology", quiet_hours_start=0, quiet_hours_end=0)
    admin = member(clinic, "clinic_admin", username="lee.admin", first_name="Lee", last_name="Park")
    now = timezone.now()
    record_heartbeat(now - dt.timedelta(minutes=40))
    for mrn, (given, family), kind, minutes, status in (
        (40107, ("Harper", "Lockhart"), Kind.MONTHLY_TEST, 38, Status.PENDING),
        (40114, ("Casey", "Dunmore"), Kind.CONTRACEPTION_CONFIRM, 31, Status.PENDING),
        (40121, ("Devon", "Ashdown"), Kind.COMPREHENSION, 22, Status.PENDING),
        (40128, ("Emery", "Hollis"), Kind.VISIT, 5, Status.PENDING),
        (40135, ("Rowan", "Brightwater"), Kind.MONTHLY_TEST, 95, Status.SENT),
        (40142, ("Kai", "Northcott"), Kind.FOLLOWUP_LABS, 120, Status.FAILED),
    ):
        patient = enroll(
            clinic,
            mrn=f"RD-{mrn}",
            given_name=given,
            family_name=family,
            email=f"{given.lower()}.{family.lower()}@example.org",
        )
        send_at = now - dt.timedelta(minutes=minutes)
        Reminder.objects.create(
            patient=patient,
            kind=kind,
            due_on=timezone.localdate(now, clinic.zone) + dt.timedelta(days=2),
            send_at=send_at,
            status=status,
            sent_at=send_at if status == Status.SENT else None,
            attempts=0 if status == Status.PENDING else 1,
            last_error="550 Mailbox unavailable" if status == Status.FAILED else "",
        )

    log_in(admin)
    page.goto(f"{live_server.url}/reminders/")
    banner = page.locator("#sending-stalled")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("Reminder emails have stopped going out")
    expect(banner).to_contain_text("3 reminders should have gone out more than 15 minutes ago")
    expect(banner).to_contain_text("The reminder scheduler last checked in at")
    expect(banner).to_contain_text("tell your IT contact now")
    look(page, "reminders-stalled")
