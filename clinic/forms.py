import zoneinfo

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Fieldset, Layout, Submit
from django import forms
from django.core.exceptions import ValidationError

from .models import Clinic, setting_range
from .services import SETTINGS_FIELDS


def hours(name: str) -> list[tuple[int, str]]:
    """The hours a setting takes (its model field's range), as a clock shows them."""
    low, high = setting_range(name)
    return [(hour, f"{hour:02d}:00") for hour in range(low, high + 1)]


def in_words(name: str) -> str:
    """ "1 to 30": a setting's range (its model field's) for a help text."""
    return "{} to {}".format(*setting_range(name))


class ClinicSettingsForm(forms.ModelForm):
    """The settings a clinic admin changes in the app (docs/reminders.md, docs/rules.md)."""

    time_zone = forms.ChoiceField(
        choices=[(zone, zone) for zone in sorted(zoneinfo.available_timezones())],
        help_text="Every date and send time of the clinic is read in this zone.",
    )
    reminder_send_hour = forms.TypedChoiceField(
        label="Reminders go out at", choices=hours("reminder_send_hour"), coerce=int
    )
    quiet_hours_start = forms.TypedChoiceField(
        label="Quiet hours from", choices=hours("quiet_hours_start"), coerce=int
    )
    quiet_hours_end = forms.TypedChoiceField(
        label="Quiet hours until",
        choices=hours("quiet_hours_end"),
        coerce=int,
        help_text="No email goes out in quiet hours; the same hour twice means none.",
    )

    class Meta:
        model = Clinic
        fields = list(SETTINGS_FIELDS)
        labels = {
            "contact_phone": "Phone patients call",
            "contact_email": "Email patients write to",
            "rs2026_effective_on": "RS-2026 rules in force from",
            "default_target_mg_per_kg": "Default cumulative dose target (mg/kg)",
            "home_tests_under_discretion": "Accept home pregnancy tests under FDA enforcement "
            "discretion (RS-2021 only)",
            "followup_lab_weeks": "Follow-up labs due (weeks after the course starts)",
            "triage_horizon_days": "Today looks ahead (days)",
        }
        help_texts = {
            "contact_phone": "Shown on the patient's page when the clinic needs to talk with them.",
            "rs2026_effective_on": "Decisions dated from this day follow RS-2026.",
            "default_target_mg_per_kg": (
                f"For new enrollments; {in_words('default_target_mg_per_kg')}."
            ),
            "triage_horizon_days": "Patients whose next prescription or task falls within "
            f"this many days appear on Today; {in_words('triage_horizon_days')}.",
        }
        widgets = {
            "rs2026_effective_on": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.layout = Layout(
            Fieldset("Clinic", "time_zone", "contact_phone", "contact_email"),
            Fieldset(
                "Rules",
                "rs2026_effective_on",
                "default_target_mg_per_kg",
                "home_tests_under_discretion",
                "followup_lab_weeks",
            ),
            Fieldset("Reminders", "reminder_send_hour", "quiet_hours_start", "quiet_hours_end"),
            Fieldset("Today", "triage_horizon_days"),
        )
        self.helper.add_input(Submit("submit", "Save settings"))


def apply_service_errors(form: forms.BaseForm, error: ValidationError) -> None:
    """Show a service's ValidationError on the form, next to the field it names."""
    if hasattr(error, "error_dict"):
        for field, messages in error.message_dict.items():
            form.add_error(field if field in form.fields else None, messages)
    else:
        form.add_error(None, error.messages)
