"""The record pages: each write through its service, refusals name the field and save nothing,
and the prescription page shows and enforces the gate."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from monitoring.models import LabResult, MoodReview, Prescription, Visit
from patients.models import Consent, ContraceptionConfirmation, PregnancyTest
from tests.auth import verified_login
from tests.builders import Builder, ready_first_prescription


@pytest.fixture
def builder(clinic, clinician, staff):
    return Builder(clinic, clinician, staff, clinic.today())


def iso(day: datetime.date) -> str:
    return day.isoformat()


def test_staff_record_a_consent(client, staff, patient):
    verified_login(client, staff)
    response = client.post(
        reverse("patients:consent_create", args=[patient.pk]),
        {"kind": "birth_defects", "signed_on": iso(patient.enrolled_on)},
    )
    assert response.status_code == 302
    assert Consent.objects.get(patient=patient).kind == "birth_defects"


def test_a_record_dated_before_enrollment_is_refused_naming_the_field(client, staff, patient):
    verified_login(client, staff)
    day_before = patient.enrolled_on - datetime.timedelta(days=1)
    response = client.post(
        reverse("patients:consent_create", args=[patient.pk]),
        {"kind": "birth_defects", "signed_on": iso(day_before)},
    )
    assert "before the patient's enrollment" in " ".join(
        response.context["form"].errors["signed_on"]
    )
    assert not Consent.objects.exists()


def test_a_test_collected_in_the_future_is_refused(client, staff, patient):
    verified_login(client, staff)
    tomorrow = patient.clinic.today() + datetime.timedelta(days=1)
    response = client.post(
        reverse("patients:test_create", args=[patient.pk]),
        {
            "kind": "screening",
            "collected_on": iso(tomorrow),
            "result": "negative",
            "setting": "medical",
            "clia_lab": "on",
            "method": "serum",
        },
    )
    assert "This date is in the future." in response.context["form"].errors["collected_on"]
    assert not PregnancyTest.objects.exists()


def test_a_home_test_needs_evidence_and_keeps_its_verifier(client, staff, patient):
    verified_login(client, staff)
    url = reverse("patients:test_create", args=[patient.pk])
    data = {
        "kind": "monthly",
        "collected_on": iso(patient.clinic.today()),
        "result": "negative",
        "setting": "home",
        "method": "urine",
    }
    response = client.post(url, data)
    assert "evidence" in response.context["form"].errors
    assert not PregnancyTest.objects.exists()
    # A text file named like a photo is told by its bytes, on the page as in the API.
    fake = SimpleUploadedFile("readout.png", b"not a picture", content_type="image/png")
    response = client.post(url, {**data, "evidence": fake})
    assert response.status_code == 200
    assert "photo (JPEG, PNG" in str(response.context["form"].errors["evidence"])
    assert not PregnancyTest.objects.exists()
    photo = SimpleUploadedFile(
        "readout.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 64, content_type="image/png"
    )
    response = client.post(url, {**data, "evidence": photo})
    assert response.status_code == 302
    test = PregnancyTest.objects.get()
    assert test.verified_by == staff
    assert test.is_verified
    assert test.evidence.name.endswith(".png") and "readout" not in test.evidence.name


def test_contraception_needs_methods_or_abstinence(client, staff, patient):
    verified_login(client, staff)
    response = client.post(
        reverse("patients:contraception_create", args=[patient.pk]),
        {"confirmed_on": iso(patient.clinic.today())},
    )
    assert "Choose the methods, or tick abstinence." in response.context["form"].errors["methods"]
    assert not ContraceptionConfirmation.objects.exists()


def test_staff_confirmations_are_stored_as_staff_sourced(client, staff, patient):
    verified_login(client, staff)
    client.post(
        reverse("patients:contraception_create", args=[patient.pk]),
        {
            "confirmed_on": iso(patient.clinic.today()),
            "methods": ["iud", "male_condom"],
            "started_on": iso(patient.enrolled_on),
        },
    )
    confirmation = ContraceptionConfirmation.objects.get()
    assert (confirmation.source, confirmation.methods) == ("staff", ["iud", "male_condom"])


def test_a_lab_gets_its_usual_unit(client, staff, patient):
    verified_login(client, staff)
    client.post(
        reverse("monitoring:lab_create", args=[patient.pk]),
        {"kind": "triglycerides", "collected_on": iso(patient.enrolled_on), "value": "140"},
    )
    assert LabResult.objects.get().unit == "mg/dL"


def test_the_prescription_page_lists_the_blockers_of_today(client, clinician, patient):
    verified_login(client, clinician)
    response = client.get(reverse("monitoring:prescription_create", args=[patient.pk]))
    codes = {b.code for b in response.context["blockers"]}
    assert {"consent_missing", "baseline_labs_missing", "screening_test_missing"} <= codes
    assert b'data-code="screening_test_missing"' in response.content


def test_a_refused_prescription_saves_nothing_and_says_why(client, clinician, patient):
    verified_login(client, clinician)
    response = client.post(
        reverse("monitoring:prescription_create", args=[patient.pk]),
        {"written_on": iso(patient.clinic.today()), "daily_dose_mg": "40", "days_supply": "30"},
    )
    assert response.status_code == 200
    # The reasons are the blocker list above the form (tests/monitoring/test_prescription_page.py)
    assert response.context["refused"] is True
    assert "screening_test_missing" in {b.code for b in response.context["blockers"]}
    assert not Prescription.objects.exists()


def test_a_ready_patient_gets_a_prescription_then_a_dispense(
    client, clinician, staff, patient, builder
):
    ready_first_prescription(builder, patient, confirmation_on=-1)
    verified_login(client, clinician)
    today = patient.clinic.today()
    response = client.post(
        reverse("monitoring:prescription_create", args=[patient.pk]),
        {"written_on": iso(today), "daily_dose_mg": "40", "days_supply": "30"},
    )
    assert response.status_code == 302
    prescription = Prescription.objects.get()
    assert prescription.daily_dose_mg == Decimal("40")
    verified_login(client, staff)
    client.post(
        reverse("monitoring:dispense", args=[prescription.pk]),
        {"dispensed_on": iso(today), "rma_number": "123-456-789"},
    )
    prescription.refresh_from_db()
    assert (prescription.dispensed_on, prescription.rma_number) == (today, "123456789")


def test_a_dose_above_2_mg_per_kg_is_invalid_input_not_a_blocker(
    client, clinician, patient, builder
):
    ready_first_prescription(builder, patient, confirmation_on=-1)
    verified_login(client, clinician)
    response = client.post(
        reverse("monitoring:prescription_create", args=[patient.pk]),
        {"written_on": iso(patient.clinic.today()), "daily_dose_mg": "120.1", "days_supply": "30"},
    )
    assert "daily_dose_mg" in response.context["form"].errors
    assert not Prescription.objects.exists()


def test_staff_may_not_prescribe(client, staff, patient):
    verified_login(client, staff)
    url = reverse("monitoring:prescription_create", args=[patient.pk])
    assert client.get(url).status_code == 403


def test_a_clinician_supersedes_a_positive_test_with_a_reason(client, clinician, patient, builder):
    test = builder.test(patient, "screening", -1, result="positive")
    verified_login(client, clinician)
    url = reverse("patients:test_supersede", args=[test.pk])
    response = client.post(url, {"reason": ""})
    assert "reason" in response.context["form"].errors
    client.post(url, {"reason": "Lab error confirmed by repeat serum test"})
    test.refresh_from_db()
    assert test.superseded_on == patient.clinic.today()
    assert test.superseded_by == clinician


def test_a_mood_review_clears_the_mood_blocker(client, clinician, patient, builder):
    visit = builder.visit(patient, -1, phq2=4, phq9=10, item9=1)
    verified_login(client, clinician)
    client.post(
        reverse("monitoring:mood_review", args=[visit.pk]),
        {"reviewed_on": iso(patient.clinic.today()), "note": "Seen; safety plan agreed"},
    )
    assert MoodReview.objects.get().visit == visit
    response = client.get(patient.get_absolute_url())
    assert "mood_review_required" not in {b.code for b in response.context["status"].blockers}


def test_ending_treatment_twice_is_refused(client, clinician, patient):
    verified_login(client, clinician)
    url = reverse("monitoring:end_treatment", args=[patient.pk])
    today = iso(patient.clinic.today())
    assert client.post(url, {"last_dose_on": today}).status_code == 302
    response = client.post(url, {"last_dose_on": today})
    assert "already ended" in str(response.context["form"].errors["last_dose_on"])


def test_staff_record_a_visit_but_cannot_confirm_counseling(client, staff, patient):
    from monitoring import services

    with pytest.raises(PermissionDenied):
        services.record_visit(
            patient,
            by=staff,
            may_confirm_counseling=False,
            data={"visited_on": patient.clinic.today(), "phq2": 0, "counseling_confirmed": True},
        )
    assert not Visit.objects.exists()


@pytest.mark.parametrize(("days_ahead", "refused"), [(180, False), (181, True)])
def test_the_next_visit_is_within_180_days(staff, patient, days_ahead, refused):
    from django.core.exceptions import ValidationError

    from monitoring import services

    today = patient.clinic.today()
    data = {
        "visited_on": today,
        "phq2": 0,
        "next_visit_on": today + datetime.timedelta(days=days_ahead),
    }
    if refused:
        with pytest.raises(ValidationError) as error:
            services.record_visit(patient, by=staff, may_confirm_counseling=False, data=data)
        assert "within 180 days" in error.value.message_dict["next_visit_on"][0]
    else:
        services.record_visit(patient, by=staff, may_confirm_counseling=False, data=data)
    assert Visit.objects.exists() is not refused


def test_contraception_cannot_start_before_birth(staff, patient):
    from django.core.exceptions import ValidationError

    from patients import services

    with pytest.raises(ValidationError) as error:
        services.record_contraception(
            patient,
            by=staff,
            confirmed_on=patient.clinic.today(),
            source="staff",
            methods=["iud", "male_condom"],
            abstinence=False,
            started_on=patient.birth_date - datetime.timedelta(days=1),
        )
    assert "birth date" in error.value.message_dict["started_on"][0]
    assert not ContraceptionConfirmation.objects.exists()


def test_the_contraception_form_groups_methods_by_tier_and_warns_of_a_pill_that_never_counts(
    client, staff, patient
):
    verified_login(client, staff)
    url = reverse("patients:contraception_create", args=[patient.pk])
    page = client.get(url).content.decode()
    primary, secondary, unacceptable = (
        page.index("Primary"),
        page.index("Secondary"),
        page.index("Not acceptable"),
    )
    assert primary < page.index("Implant") < secondary < page.index("Male condom")
    assert unacceptable < page.index("Progestin-only pill")
    data = {
        "confirmed_on": iso(patient.clinic.today()),
        "methods": ["progestin_only_pill", "male_condom"],
    }
    # One method that counts: the form asks to confirm first (tests/patients/test_warnings.py).
    assert "methods" in client.post(url, data).context["form"].warnings
    response = client.post(url, {**data, "confirm_warnings": "on"}, follow=True)
    texts = [str(m) for m in response.context["messages"]]
    assert any("progestin" in t.lower() for t in texts), texts
    assert ContraceptionConfirmation.objects.get().methods == ["male_condom", "progestin_only_pill"]


@pytest.mark.parametrize(
    ("field", "value"),
    [("setting", "pharmacy"), ("kind", "weekly"), ("result", "maybe"), ("method", "saliva")],
)
def test_a_pregnancy_test_with_an_unknown_choice_is_refused_naming_the_field(
    clinic, staff, patient, field, value
):
    from django.core.exceptions import ValidationError

    from patients import services
    from patients.models import PregnancyTest

    data = {
        "kind": "screening",
        "collected_on": clinic.today(),
        "result": "negative",
        "setting": "medical",
        "clia_lab": True,
        "method": "urine",
        field: value,
    }
    with pytest.raises(ValidationError) as refused:
        services.record_pregnancy_test(patient, by=staff, data=data)
    assert list(refused.value.message_dict) == [field]
    assert not PregnancyTest.objects.exists()
