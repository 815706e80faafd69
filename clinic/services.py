"""Writes to the clinic's own settings: validated and audited in one place, whichever door
(the Clinic settings page, a command) the change came in by."""

import datetime
import zoneinfo

from auditlog.models import LogEntry
from django.core.exceptions import ValidationError
from django.db import transaction

from rules.constants import TARGET_RANGE_MESSAGE
from rules.rulesets import RS_2021

from . import dates
from .audit import acting_as
from .models import Clinic, in_quiet_hours, setting_range

# docs/reminders.md (send hour, quiet hours) and docs/clinic-day.md (triage horizon): the
# settings a clinic admin may change from the app.
SETTINGS_FIELDS = (
    "time_zone",
    "contact_phone",
    "contact_email",
    "rs2026_effective_on",
    "default_target_mg_per_kg",
    "reminder_send_hour",
    "quiet_hours_start",
    "quiet_hours_end",
    "home_tests_under_discretion",
    "followup_lab_weeks",
    "triage_horizon_days",
)


# What each numeric setting holds, in the words a clinic admin reads; the numbers are its
# range, which the model's validators hold (models.setting_range).
HOUR_FIELDS = ("reminder_send_hour", "quiet_hours_start", "quiet_hours_end")
RANGE_WORDS = {
    **{name: "An hour from {low} to {high}." for name in HOUR_FIELDS},
    "default_target_mg_per_kg": TARGET_RANGE_MESSAGE,  # the rules' words for the same range
    "followup_lab_weeks": "Follow-up labs: {low} to {high} weeks after the course starts.",
    "triage_horizon_days": "The triage horizon is {low} to {high} days.",
}


def _out_of_range(name: str, value) -> str | None:
    low, high = setting_range(name)
    if value is not None and not low <= value <= high:
        return RANGE_WORDS[name].format(low=low, high=high)
    return None


def validate_clinic_settings(data: dict) -> None:
    """Cross-field checks, in the words a clinic admin reads. Raises ValidationError."""
    errors = {}
    zone = data.get("time_zone")
    if zone is not None and zone not in zoneinfo.available_timezones():
        errors["time_zone"] = f"“{zone}” is not a known time zone, e.g. America/New_York."
    hours = {name: data.get(name) for name in HOUR_FIELDS}
    for name, hour in hours.items():
        if problem := _out_of_range(name, hour):
            errors[name] = problem
    if not errors and None not in hours.values():
        send = datetime.time(hours["reminder_send_hour"])
        if in_quiet_hours(send, hours["quiet_hours_start"], hours["quiet_hours_end"]):
            errors["reminder_send_hour"] = (
                "The send hour falls in the quiet hours: reminders would wait until they end."
            )
    for name in (name for name in RANGE_WORDS if name not in HOUR_FIELDS):
        if problem := _out_of_range(name, data.get(name)):
            errors[name] = problem
    rs2026 = data.get("rs2026_effective_on")
    first = RS_2021.in_force_from
    if rs2026 is not None and rs2026 < first:
        errors["rs2026_effective_on"] = f"RS-2026 cannot start before RS-2021 ({dates.day(first)})."
    if errors:
        raise ValidationError(errors)


# Work that follows a change of the clinic's settings in the same transaction: monitoring marks
# the kept triage rows stale (the horizon and the rule dates change every answer). Registered
# by that app in its AppConfig.ready.
AFTER_SETTINGS_CHANGE: list = []


def update_clinic_settings(clinic: Clinic, *, by, data: dict) -> Clinic:
    """Save the settings that changed, with one audit event listing each old and new value."""
    with transaction.atomic(), acting_as(by):
        stored = Clinic.objects.select_for_update().get(pk=clinic.pk)
        merged = {name: data.get(name, getattr(stored, name)) for name in SETTINGS_FIELDS}
        validate_clinic_settings(merged)
        changes = {
            name: [str(getattr(stored, name)), str(value)]
            for name, value in merged.items()
            if getattr(stored, name) != value
        }
        if not changes:
            return stored
        for name, value in merged.items():
            setattr(stored, name, value)
        stored.full_clean(exclude=["name"])
        stored.save(update_fields=list(changes))
        LogEntry.objects.log_create(
            stored,
            action=LogEntry.Action.UPDATE,
            changes=changes,
            additional_data={"clinic_id": stored.pk},
        )
        for after in AFTER_SETTINGS_CHANGE:
            after(stored)
    return stored
