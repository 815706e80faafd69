"""The Clinic settings page: clinic admins change the clinic's settings in the app, audited;
staff and clinicians are refused."""

import datetime

import pytest
from auditlog.models import LogEntry
from django.urls import reverse

from clinic.models import Clinic

URL = reverse("clinic_settings")


def _form(clinic: Clinic, **changes) -> dict:
    data = {
        "time_zone": clinic.time_zone,
        "contact_phone": clinic.contact_phone,
        "contact_email": clinic.contact_email,
        "rs2026_effective_on": clinic.rs2026_effective_on.isoformat(),
        "default_target_mg_per_kg": clinic.default_target_mg_per_kg,
        "reminder_send_hour": clinic.reminder_send_hour,
        "quiet_hours_start": clinic.quiet_hours_start,
        "quiet_hours_end": clinic.quiet_hours_end,
        "followup_lab_weeks": clinic.followup_lab_weeks,
        "triage_horizon_days": clinic.triage_horizon_days,
    }
    if clinic.home_tests_under_discretion:
        data["home_tests_under_discretion"] = "on"
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


@pytest.mark.django_db
def test_a_clinic_admin_changes_every_setting_and_each_change_is_audited(
    client_for, clinic, clinic_admin
):
    client = client_for(clinic_admin)
    page = client.get(URL)
    assert page.status_code == 200
    assert 'href="/config/settings/"' in page.content.decode()  # in the navigation
    response = client.post(
        URL,
        _form(
            clinic,
            time_zone="America/Chicago",
            contact_phone="555-0100",
            rs2026_effective_on="2026-09-01",
            default_target_mg_per_kg=150,
            reminder_send_hour=10,
            quiet_hours_start=21,
            quiet_hours_end=7,
            home_tests_under_discretion="on",
            followup_lab_weeks=6,
            triage_horizon_days=10,
        ),
    )
    assert response.status_code == 302
    clinic.refresh_from_db()
    assert clinic.time_zone == "America/Chicago"
    assert clinic.contact_phone == "555-0100"
    assert clinic.rs2026_effective_on == datetime.date(2026, 9, 1)
    assert clinic.default_target_mg_per_kg == 150
    assert (clinic.reminder_send_hour, clinic.quiet_hours_start, clinic.quiet_hours_end) == (
        10,
        21,
        7,
    )
    assert clinic.home_tests_under_discretion is True
    assert clinic.followup_lab_weeks == 6
    assert clinic.triage_horizon_days == 10
    entry = LogEntry.objects.get(
        additional_data__clinic_id=clinic.pk, object_pk=str(clinic.pk), content_type__model="clinic"
    )
    assert entry.actor == clinic_admin
    assert entry.changes_dict["triage_horizon_days"] == ["7", "10"]
    assert entry.changes_dict["time_zone"] == ["America/New_York", "America/Chicago"]
    assert "name" not in entry.changes_dict


@pytest.mark.django_db
def test_saving_without_a_change_writes_no_audit_event(client_for, clinic, clinic_admin):
    client_for(clinic_admin).post(URL, _form(clinic))
    assert not LogEntry.objects.filter(
        object_pk=str(clinic.pk), action=1, content_type__model="clinic"
    ).exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("triage_horizon_days", 0, "1"),
        ("triage_horizon_days", 31, "30"),
        ("default_target_mg_per_kg", 49, "50"),
        ("followup_lab_weeks", 53, "52"),
        ("time_zone", "Mars/Olympus", "Mars/Olympus"),
        ("reminder_send_hour", 22, "quiet hours"),
        ("reminder_send_hour", 24, "24"),
        ("rs2026_effective_on", "2020-01-01", "RS-2021"),
        ("rs2026_effective_on", "2026-02-30", "valid date"),
    ],
)
def test_bad_settings_are_refused_naming_the_field(
    client_for, clinic, clinic_admin, field, value, words
):
    response = client_for(clinic_admin).post(URL, _form(clinic, **{field: value}))
    assert response.status_code == 200
    errors = " ".join(response.context["form"].errors[field])
    assert words in errors
    clinic.refresh_from_db()
    assert clinic.triage_horizon_days == 7
    assert clinic.time_zone == "America/New_York"
    assert clinic.reminder_send_hour == 9


@pytest.mark.django_db
def test_send_hour_at_the_end_of_quiet_hours_is_accepted(client_for, clinic, clinic_admin):
    response = client_for(clinic_admin).post(URL, _form(clinic, reminder_send_hour=8))
    assert response.status_code == 302


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["staff", "clinician"])
def test_staff_and_clinicians_may_not_change_the_settings(client_for, clinic, role, request):
    user = request.getfixturevalue(role)
    client = client_for(user)
    assert client.get(URL).status_code == 403
    assert client.post(URL, _form(clinic, triage_horizon_days=3)).status_code == 403
    clinic.refresh_from_db()
    assert clinic.triage_horizon_days == 7
    assert 'href="/config/settings/"' not in client.get(reverse("patients:list")).content.decode()


@pytest.mark.django_db
def test_an_admin_changes_only_their_own_clinic(client_for, clinic, other_clinic, clinic_admin):
    client_for(clinic_admin).post(URL, _form(clinic, triage_horizon_days=12))
    other_clinic.refresh_from_db()
    assert other_clinic.triage_horizon_days == 7


# The ranges live once, in the model's validators -------------------------------------------------


def test_each_range_is_the_model_s_and_the_form_and_the_service_read_it():
    from clinic.forms import ClinicSettingsForm
    from clinic.models import setting_range
    from clinic.services import RANGE_WORDS

    assert {name: setting_range(name) for name in RANGE_WORDS} == {
        "reminder_send_hour": (0, 23),
        "quiet_hours_start": (0, 23),
        "quiet_hours_end": (0, 23),
        "default_target_mg_per_kg": (50, 300),
        "followup_lab_weeks": (1, 52),
        "triage_horizon_days": (1, 30),
    }
    fields = ClinicSettingsForm.base_fields
    for name in ("reminder_send_hour", "quiet_hours_start", "quiet_hours_end"):
        assert [hour for hour, _ in fields[name].choices] == list(range(24))
    assert fields["triage_horizon_days"].help_text.endswith("1 to 30.")
    assert fields["default_target_mg_per_kg"].help_text.endswith("50 to 300.")


@pytest.mark.parametrize(
    "name",
    ["default_target_mg_per_kg", "followup_lab_weeks", "triage_horizon_days", "quiet_hours_end"],
)
def test_the_service_takes_each_end_of_a_range_and_refuses_one_past_it(name):
    from django.core.exceptions import ValidationError

    from clinic.models import setting_range
    from clinic.services import SETTINGS_FIELDS, validate_clinic_settings

    valid = {field: getattr(Clinic(), field) for field in SETTINGS_FIELDS}  # the defaults
    low, high = setting_range(name)
    for value in (low, high):
        validate_clinic_settings({**valid, name: value})
    for value in (low - 1, high + 1):
        with pytest.raises(ValidationError) as refused:
            validate_clinic_settings({**valid, name: value})
        assert f"{low} to {high}" in refused.value.message_dict[name][0]


def test_the_rs2026_day_defaults_to_the_rule_set_s_and_may_not_precede_the_first_rule_set():
    from django.core.exceptions import ValidationError

    from clinic.services import SETTINGS_FIELDS, validate_clinic_settings
    from rules.rulesets import RS_2021, RS_2026

    assert Clinic().rs2026_effective_on == RS_2026.in_force_from
    valid = {field: getattr(Clinic(), field) for field in SETTINGS_FIELDS}
    validate_clinic_settings({**valid, "rs2026_effective_on": RS_2021.in_force_from})
    with pytest.raises(ValidationError) as refused:
        validate_clinic_settings(
            {**valid, "rs2026_effective_on": RS_2021.in_force_from - datetime.timedelta(days=1)}
        )
    assert refused.value.message_dict["rs2026_effective_on"] == [
        "RS-2026 cannot start before RS-2021 (Dec 13, 2021)."
    ]
