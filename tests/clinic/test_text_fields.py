"""Text that cannot forge lines or reverse itself (issue 20 item 5; docs/domain.md section 4,
"Text fields"; docs/security.md, "Text and identities"): one validator module, on every text
field a person types into, in the web forms as in the API; names stored in NFC; rows stored
before the check found by `manage.py report_unsafe_text`."""

import datetime

import pytest
from django import forms
from django.apps import apps
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import models
from django.urls import reverse

from clinic.text import TextValidator, mrn_key, multi_line, one_line
from monitoring import forms as monitoring_forms
from monitoring.models import Visit
from patients import forms as patient_forms
from patients.models import Patient
from tests.auth import verified_login
from tests.factories import enroll
from tests.patients.test_enrollment import form_data

REFUSED_EVERYWHERE = [
    "\x00",  # NUL
    "\x1b",  # escape
    "\x0b",  # vertical tab
    "\x7f",  # DEL
    "\x85",  # C1: next line
    "\x9b",  # C1: control sequence introducer
    "\u200b",  # zero-width space
    "\u200c",  # zero-width non-joiner
    "\u200d",  # zero-width joiner
    "\u2060",  # word joiner
    "\ufeff",  # byte-order mark
    "\u200e",  # left-to-right mark
    "\u200f",  # right-to-left mark
    "\u202a",  # left-to-right embedding
    "\u202e",  # right-to-left override
    "\u2066",  # left-to-right isolate
    "\u2069",  # pop directional isolate
]
LINE_BREAKS = ["\n", "\r", "\t", "\u2028", "\u2029"]


@pytest.mark.parametrize("char", REFUSED_EVERYWHERE + LINE_BREAKS)
def test_a_one_line_field_refuses_the_character_naming_what_it_is(char):
    with pytest.raises(ValidationError) as refused:
        one_line(f"Ana{char}Bea")
    assert "Ana" not in refused.value.messages[0]  # the value is never echoed


@pytest.mark.parametrize("char", REFUSED_EVERYWHERE)
def test_notes_refuse_the_same_characters(char):
    with pytest.raises(ValidationError):
        multi_line(f"Seen today.{char}Fine.")


def test_notes_keep_line_breaks_and_tabs_and_ordinary_text_passes():
    multi_line("Seen today.\r\nFine.\n\tNext month.")
    one_line("Zoë Ñúñez-O'Brien 李 مريم")  # letters of any script are ordinary text


def test_mrn_key_sets_aside_case_width_spaces_and_invisible_characters():
    assert mrn_key(" ＭＲＮ-ZW\u200b ") == mrn_key("mrn-zw") == "mrn-zw"
    assert mrn_key("MRN-1") != mrn_key("MRN-2")


# Every field a person types into carries the validator ----------------------------------------

# Written by the application, never typed: the triage row's copies and words, the reminder's
# last SMTP answer, the iPLEDGE entry's value (built from records), token hashes, the MRN and
# search keys, the second-factor failure counts (keyed by the client's address), stored files
# (names the application makes, types it sniffs) and beat's heartbeat; and the clinic's time
# zone, which must be one of the known zone names.
NOT_TYPED = {
    ("clinic", "Clinic", "time_zone"),
    ("monitoring", "PatientTriage"),
    ("monitoring", "TriageRow"),
    ("monitoring", "TriageCount"),
    ("monitoring", "TriageSlot"),
    ("monitoring", "Reminder"),
    ("monitoring", "IpledgeEntry"),
    ("clinic", "ApiToken"),
    ("patients", "Patient", "mrn_key"),
    ("patients", "Patient", "search_key"),
    ("clinic", "SecondFactorFailures"),
    ("clinic", "StoredFile"),
    ("monitoring", "BeatHeartbeat"),
}


def typed_text_fields():
    for app_label in ("clinic", "patients", "monitoring"):
        for model in apps.get_app_config(app_label).get_models():
            if (app_label, model.__name__) in NOT_TYPED:
                continue
            for field in model._meta.concrete_fields:
                if not isinstance(field, models.CharField | models.TextField) or field.choices:
                    continue
                if (app_label, model.__name__, field.name) in NOT_TYPED:
                    continue
                yield f"{app_label}.{model.__name__}.{field.name}", field


@pytest.mark.parametrize(("name", "field"), list(typed_text_fields()))
def test_every_typed_text_field_of_the_apps_refuses_unsafe_characters(name, field):
    assert any(isinstance(v, TextValidator) for v in field.validators), name


HAND_DECLARED_FORMS = [
    patient_forms.RiskCategoryForm,
    patient_forms.SupersedeForm,
    monitoring_forms.MoodReviewForm,
    monitoring_forms.DispenseForm,
]


@pytest.mark.parametrize("form_class", HAND_DECLARED_FORMS)
def test_forms_that_declare_a_text_field_by_hand_add_the_validator(form_class):
    text_fields = {
        n: f for n, f in form_class.base_fields.items() if isinstance(f, forms.CharField)
    }
    assert text_fields
    for name, field in text_fields.items():
        assert any(isinstance(v, TextValidator) for v in field.validators), name


# Through the pages --------------------------------------------------------------------------


@pytest.fixture
def staff_client(client, staff):
    verified_login(client, staff)
    return client


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("given_name", "Ana\u202eX"),
        ("family_name", "Quay\u200ble"),
        ("mrn", "MRN\u200e-1"),
        ("phone", "555\u20600101"),
        ("ipledge_id", "1234\x1b567890"),
        ("risk_category_reason", "Assessed\u202e today"),
    ],
)
def test_the_enrollment_form_refuses_unsafe_text_naming_the_field(
    staff_client, clinic, field, value
):
    response = staff_client.post(reverse("patients:create"), form_data(clinic, **{field: value}))
    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert not Patient.objects.exists()


def test_the_enrollment_form_stores_names_in_nfc(staff_client, clinic):
    data = form_data(clinic, given_name="Zoe\u0301", family_name="Nun\u0303ez")
    assert staff_client.post(reverse("patients:create"), data).status_code == 302
    patient = Patient.objects.get()
    assert (patient.given_name, patient.family_name) == ("Zo\xe9", "Nu\xf1ez")


def test_a_risk_category_reason_keeps_its_line_breaks_and_refuses_a_direction_control(
    client, clinician, patient
):
    verified_login(client, clinician)
    url = reverse("patients:risk_category", args=[patient.pk])
    day = patient.clinic.today().isoformat()
    refused = {"risk_category": "cannot_get_pregnant", "changed_on": day, "reason": "Hyst\u202e"}
    response = client.post(url, refused)
    assert "reason" in response.context["form"].errors
    patient.refresh_from_db()
    assert patient.risk_category == "can_get_pregnant"
    kept = {**refused, "reason": "Hysterectomy.\r\nConfirmed by letter."}
    assert client.post(url, kept).status_code == 302
    assert (
        patient.risk_changes.get().reason == "Hysterectomy.\nConfirmed by letter."
    )  # CR LF stored as LF


def test_the_clinic_settings_refuse_a_phone_that_forges_a_line(client_for, clinic, clinic_admin):
    from tests.clinic.test_clinic_settings import URL, _form

    response = client_for(clinic_admin).post(URL, _form(clinic, contact_phone="555\n0100"))
    assert "contact_phone" in response.context["form"].errors
    clinic.refresh_from_db()
    assert clinic.contact_phone == ""


def test_a_clinic_name_with_a_direction_control_does_not_validate(clinic):
    clinic.name = "Derm\u202e Clinic"
    with pytest.raises(ValidationError) as refused:
        clinic.full_clean()
    assert list(refused.value.message_dict) == ["name"]


# Rows stored before the check -----------------------------------------------------------------


def test_report_unsafe_text_lists_model_id_and_field_never_the_value_and_exits_1(
    clinic, staff, capsys
):
    clean = enroll(clinic, by=staff)
    forged = enroll(clinic, by=staff)
    Patient.objects.filter(pk=forged.pk).update(given_name="Ana\u202eX", phone="555\r\n0101")
    visit = Visit.objects.create(
        patient=clean, visited_on=clinic.today() - datetime.timedelta(days=1), phq2=0
    )
    Visit.objects.filter(pk=visit.pk).update(notes="Fine.\nNext month\u200b.")
    with pytest.raises(CommandError) as failed:
        call_command("report_unsafe_text")
    assert failed.value.returncode == 1
    output = capsys.readouterr().out
    assert sorted(output.splitlines()) == [
        f"monitoring.Visit id={visit.pk} field=notes",
        f"patients.Patient id={forged.pk} field=given_name",
        f"patients.Patient id={forged.pk} field=phone",
    ]
    assert "Ana" not in output and "Fine" not in output
    assert "3 stored values" in str(failed.value)


def test_report_unsafe_text_exits_0_when_every_row_is_clean(clinic, staff, capsys):
    enroll(clinic, by=staff, family_name="Nuñez")
    Visit.objects.create(
        patient=Patient.objects.get(),
        visited_on=clinic.today(),
        phq2=0,
        notes="Line one.\r\nLine two.",
    )
    call_command("report_unsafe_text")
    assert "No stored text holds" in capsys.readouterr().out


def test_the_services_refuse_unsafe_text_whichever_door_it_came_in_by(
    clinic, staff, clinician, patient
):
    from monitoring.enrollment import update_patient
    from patients.services import change_risk_category

    with pytest.raises(ValidationError) as refused:
        change_risk_category(
            patient,
            by=clinician,
            new="cannot_get_pregnant",
            changed_on=clinic.today(),
            reason="Hyster\u202eectomy",
        )
    assert list(refused.value.message_dict) == ["reason"]
    with pytest.raises(ValidationError) as refused:
        update_patient(patient, by=staff, data={"phone": "555\r\n0101"}, may_allow_home_tests=False)
    assert list(refused.value.message_dict) == ["phone"]
    patient.refresh_from_db()
    assert (patient.risk_category, patient.phone) == ("can_get_pregnant", "")
