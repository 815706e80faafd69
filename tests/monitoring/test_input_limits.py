"""Input that cannot lie, on the web pages (docs/domain.md section 4): notes and reasons say their
limit and a longer text is a form error, the text kept, never cut; a lab value far outside what
labs report asks "save anyway" and is saved, unchanged, once ticked; IU/L is stored as U/L; an
RMA number has iPLEDGE's shape. Each at its edge."""

import re
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from clinic.notes import NOTE_MAX_LENGTH, REASON_MAX_LENGTH
from monitoring import services
from monitoring.models import LabResult, MoodReview, Visit
from rules.labs import LAB_TYPES
from tests import builders as states


def visit_post(patient, notes: str) -> dict:
    return {
        "visited_on": patient.clinic.today().isoformat(),
        "missed_dose_days": "0",
        "phq2": "0",
        "notes": notes,
    }


def checklist(patient) -> str:
    return reverse("monitoring:visit_create", args=[patient.pk])


# Notes and reasons --------------------------------------------------------------------------


def test_a_note_one_over_the_limit_is_refused_naming_the_limit_and_kept(client_for, staff, patient):
    note = "n" * (NOTE_MAX_LENGTH + 1)
    response = client_for(staff).post(checklist(patient), visit_post(patient, note))
    assert response.status_code == 200
    assert not Visit.objects.exists()
    [error] = response.context["form"].errors["notes"]
    assert "At most 4,000 characters: this has 4,001" in error
    html = response.content.decode()
    assert f'data-error-for="notes">{error}' in html
    assert note in html  # re-shown whole, for the writer to shorten
    at_limit = note[:-1]
    assert (
        client_for(staff).post(checklist(patient), visit_post(patient, at_limit)).status_code == 302
    )
    assert Visit.objects.get().notes == at_limit


def test_ten_thousand_characters_are_refused_not_cut_to_four_thousand(client_for, staff, patient):
    response = client_for(staff).post(checklist(patient), visit_post(patient, "x" * 10_000))
    assert "this has 10,000" in response.context["form"].errors["notes"][0]
    assert not Visit.objects.exists()


def test_a_line_break_counts_as_one_character_as_the_page_counts_it(client_for, staff, patient):
    # The browser sends the line break as CR LF: 4,001 characters sent, 4,000 on the page.
    note = "n" * (NOTE_MAX_LENGTH - 2) + "\r\n" + "n"
    response = client_for(staff).post(checklist(patient), visit_post(patient, note))
    assert response.status_code == 302
    assert Visit.objects.get().notes == note.replace("\r\n", "\n")


def test_the_notes_say_their_limit_and_carry_no_cutting_maxlength(client_for, staff, patient):
    html = client_for(staff).get(checklist(patient)).content.decode()
    [textarea] = re.findall(r"<textarea[^>]*name=\"notes\"[^>]*>", html)
    assert 'data-limit="4000"' in textarea
    assert "maxlength" not in textarea  # a browser cuts a longer paste to it without a word
    assert "Up to 4,000 characters." in html
    assert "clinic/charcount" in html


def test_a_mood_review_note_one_over_is_refused(client_for, clinician, builder, patient):
    visit = builder.visit(patient, -1, phq2=4, phq9=12, item9=1)
    url = reverse("monitoring:mood_review", args=[visit.pk])
    day = patient.clinic.today().isoformat()
    client = client_for(clinician)
    html = client.get(url).content.decode()
    assert 'data-limit="4000"' in html and "charcount" in html
    over = client.post(url, {"reviewed_on": day, "note": "r" * (NOTE_MAX_LENGTH + 1)})
    assert "At most 4,000 characters" in over.context["form"].errors["note"][0]
    assert not MoodReview.objects.exists()
    at = client.post(url, {"reviewed_on": day, "note": "r" * NOTE_MAX_LENGTH})
    assert at.status_code == 302
    assert len(MoodReview.objects.get().note) == NOTE_MAX_LENGTH


def test_a_supersede_reason_one_over_is_refused_and_at_the_limit_saved(
    client_for, clinician, builder, patient
):
    test = builder.test(patient, "screening", -2, result="positive")
    url = reverse("patients:test_supersede", args=[test.pk])
    client = client_for(clinician)
    over = client.post(url, {"reason": "r" * (REASON_MAX_LENGTH + 1)})
    assert "At most 300 characters: this has 301" in over.context["form"].errors["reason"][0]
    test.refresh_from_db()
    assert test.superseded_on is None
    assert client.post(url, {"reason": "r" * REASON_MAX_LENGTH}).status_code == 302
    test.refresh_from_db()
    assert test.superseded_reason == "r" * REASON_MAX_LENGTH


def test_a_risk_category_reason_one_over_is_refused(client_for, clinician, patient):
    url = reverse("patients:risk_category", args=[patient.pk])
    response = client_for(clinician).post(
        url,
        {
            "risk_category": "cannot_get_pregnant",
            "changed_on": patient.clinic.today().isoformat(),
            "reason": "r" * (REASON_MAX_LENGTH + 1),
        },
    )
    assert "At most 300 characters" in response.context["form"].errors["reason"][0]
    patient.refresh_from_db()
    assert patient.risk_category == "can_get_pregnant"


def test_the_services_refuse_an_over_long_note_whatever_the_door(staff, patient):
    with pytest.raises(ValidationError) as refused:
        services.record_visit(
            patient,
            by=staff,
            data={
                "visited_on": patient.clinic.today(),
                "phq2": 0,
                "notes": "n" * (NOTE_MAX_LENGTH + 1),
            },
            may_confirm_counseling=False,
        )
    assert "At most 4,000 characters" in refused.value.message_dict["notes"][0]
    assert not Visit.objects.exists()


# Lab values and units -------------------------------------------------------------------------


def lab_post(patient, **changes) -> dict:
    return {
        "kind": "triglycerides",
        "collected_on": patient.clinic.today().isoformat(),
        "value": "150",
        "unit": "mg/dL",
        **changes,
    }


def lab_url(patient) -> str:
    return reverse("monitoring:lab_create", args=[patient.pk])


def test_triglycerides_of_2000_are_saved_at_once_and_2001_ask_to_check(client_for, staff, patient):
    client = client_for(staff)
    above = client.post(lab_url(patient), lab_post(patient, value="2001"))
    assert above.status_code == 200
    assert above.context["form"].warnings == {
        "value": "Triglycerides 2,001 mg/dL is far above what labs report (up to 2,000 mg/dL): "
        "check the figure and the unit."
    }
    assert not LabResult.objects.exists()
    assert client.post(lab_url(patient), lab_post(patient, value="2000")).status_code == 302
    assert LabResult.objects.get().value == Decimal(2000)


@pytest.mark.parametrize("value", ["2001", "2000.01", "5000"])
def test_triglycerides_above_2000_ask_to_check_then_save_anyway(client_for, staff, patient, value):
    client = client_for(staff)
    first = client.post(lab_url(patient), lab_post(patient, value=value))
    assert first.status_code == 200
    assert not LabResult.objects.exists()
    html = first.content.decode()
    assert 'id="form-warnings"' in html and 'data-warning-for="value"' in html
    assert "far above what labs report (up to 2,000 mg/dL)" in html
    assert 'type="checkbox" name="confirm_warnings"' in html
    assert f'name="value" value="{value}"' in html  # the value kept for the second submit
    again = client.post(lab_url(patient), lab_post(patient, value=value, confirm_warnings="on"))
    assert again.status_code == 302
    assert LabResult.objects.get().value == Decimal(value)


def test_a_value_in_the_other_unit_is_caught_too(client_for, staff, patient):
    # 1.7 is a triglyceride figure in mmol/L: in mg/dL it is far below anything labs report.
    response = client_for(staff).post(lab_url(patient), lab_post(patient, value="1.7"))
    assert "far below what labs report (from 20 mg/dL)" in response.content.decode()
    assert not LabResult.objects.exists()


@pytest.mark.parametrize("kind", ["alt", "ast"])
def test_iu_per_litre_is_accepted_for_alt_and_ast_and_stored_as_u_per_litre(
    client_for, staff, patient, kind
):
    response = client_for(staff).post(
        lab_url(patient), lab_post(patient, kind=kind, value="31", unit="IU/L")
    )
    assert response.status_code == 302
    assert LabResult.objects.get().unit == "U/L"


def test_iu_per_litre_is_refused_for_a_lipid(client_for, staff, patient):
    response = client_for(staff).post(lab_url(patient), lab_post(patient, unit="IU/L"))
    assert (
        "Triglycerides is recorded in mg/dL or mmol/L"
        in (response.context["form"].errors["unit"][0])
    )
    assert not LabResult.objects.exists()


def test_the_service_needs_a_confirmation_for_an_unusual_value(staff, patient):
    record = {
        "kind": "alt",
        "collected_on": patient.clinic.today(),
        "value": Decimal("2001"),
        "unit": "IU/L",
    }
    with pytest.raises(ValidationError) as refused:
        services.record_lab(patient, by=staff, **record)
    assert "ALT 2,001 U/L is far above" in refused.value.message_dict["value"][0]
    assert not LabResult.objects.exists()
    saved = services.record_lab(patient, by=staff, confirm_unusual=True, **record)
    assert (saved.value, saved.unit) == (Decimal(2001), "U/L")


def test_every_kind_has_a_range_for_each_of_its_units_low_below_high():
    # The registry's coverage (every kind, every column) is tests/monitoring/test_lab_types.py.
    for lab in LAB_TYPES.values():
        assert len(lab.measures) == 2, lab.kind
        for measure in lab.measures:
            assert 0 < measure.low < measure.high


# RMA numbers --------------------------------------------------------------------------------


@pytest.fixture
def prescription(builder, patient):
    states.ready_first_prescription(builder, patient)
    return builder.prescribe(patient, 0)


def dispense(client, prescription, rma: str):
    return client.post(
        reverse("monitoring:dispense", args=[prescription.pk]),
        {"dispensed_on": prescription.written_on.isoformat(), "rma_number": rma},
    )


@pytest.mark.parametrize(
    ("typed", "stored"),
    [("123-456", "123456"), ("123-456-789", "123456789"), (" 1234 5678 9012 ", "123456789012")],
)
def test_an_rma_number_of_digits_is_kept_without_its_spaces_and_dashes(
    client_for, staff, prescription, typed, stored
):
    assert dispense(client_for(staff), prescription, typed).status_code == 302
    prescription.refresh_from_db()
    assert prescription.rma_number == stored


@pytest.mark.parametrize(
    "typed",
    ["12345", "1234567890123", "RMA-123456", "12345O", "１２３４５６", "123456²", "12/05/2026"],
)
def test_an_rma_number_of_another_shape_is_refused_naming_the_field(
    client_for, staff, prescription, typed
):
    response = dispense(client_for(staff), prescription, typed)
    assert response.status_code == 200
    assert "6 to 12 digits" in response.context["form"].errors["rma_number"][0]
    prescription.refresh_from_db()
    assert (prescription.dispensed_on, prescription.rma_number) == (None, "")


def test_the_dispense_service_refuses_another_shape_whatever_the_door(staff, prescription):
    with pytest.raises(ValidationError) as refused:
        services.dispense(
            prescription, by=staff, dispensed_on=prescription.written_on, rma_number="RMA1"
        )
    assert "rma_number" in refused.value.message_dict
