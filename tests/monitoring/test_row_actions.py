"""Each next step is the action, and words and buttons match the gate (issue 21, items 1, 5)."""

import re

import pytest
from django.core import mail

from monitoring import services
from monitoring.models import IpledgeEntry, Reminder, ReminderKind
from monitoring.reminders import emails
from patients.models import PregnancyTest
from tests import builders as states
from tests.triage import kept_row

pytestmark = pytest.mark.django_db


def today_row(html: str, patient) -> str:
    found = re.search(rf'<tr data-patient="{patient.pk}".*?</tr>', html, re.S)
    assert found, f"patient {patient.pk} is not on Today"
    return found.group(0)


# Item 1: the row's button opens the form, prefilled, and the save comes back to Today ---------


def test_todays_row_opens_the_confirmation_test_form_prefilled_and_the_save_returns_to_today(
    build, client_for, staff, clinic
):
    patient = build(states.confirmation_missing)
    client = client_for(staff)
    row = today_row(client.get("/today/").content.decode(), patient)
    url = f"/patients/{patient.pk}/pregnancy-tests/new/?kind=confirmation&amp;next=%2Ftoday%2F"
    assert f'href="{url}"' in row
    assert "Record confirmation test" in row

    form = client.get(url.replace("&amp;", "&")).content.decode()
    assert '<option value="confirmation" selected>' in form
    assert f'value="{clinic.today().isoformat()}"' in form
    assert 'href="/today/"' in form  # "Back to Today"

    response = client.post(
        url.replace("&amp;", "&"),
        {
            "kind": "confirmation",
            "collected_on": clinic.today().isoformat(),
            "result": "negative",
            "setting": "medical",
            "clia_lab": "on",
            "method": "urine",
        },
    )
    assert response.status_code == 302 and response["Location"] == "/today/"
    row = today_row(client.get("/today/").content.decode(), patient)
    assert 'data-code="confirmation_test_missing"' not in row


@pytest.mark.parametrize(
    "next_url", ["https://evil.example/", "//evil.example/today/", "javascript:alert(1)"]
)
def test_a_next_to_another_site_is_ignored(build, client_for, staff, clinic, next_url):
    patient = build(states.no_contraception)
    response = client_for(staff).post(
        f"/patients/{patient.pk}/contraception/new/?next={next_url}",
        {
            "confirmed_on": clinic.today().isoformat(),
            "methods": ["iud", "male_condom"],
            "started_on": (clinic.today().replace(day=1)).isoformat(),
        },
    )
    assert response.status_code == 302
    assert response["Location"] == patient.get_absolute_url()


def test_staff_get_no_write_button_and_a_clinician_does(build, client_for, staff, clinician):
    patient = build(states.ready)
    services.record_ipledge_entries(patient, by=staff)
    staff_row = today_row(client_for(staff).get("/today/").content.decode(), patient)
    assert "Ask the prescriber" in staff_row and "prescriptions/new" not in staff_row
    row = today_row(client_for(clinician).get("/today/").content.decode(), patient)
    assert f"/patients/{patient.pk}/prescriptions/new/?next=%2Ftoday%2F" in row


def test_record_the_pickup_opens_the_waiting_prescriptions_dispense_form(
    build, builder, client_for, staff
):
    patient = build(states.ready)
    client = client_for(staff)
    assert "Record the pick-up" not in today_row(client.get("/today/").content.decode(), patient)
    response = client.get(f"/patients/{patient.pk}/dispense/?next=/today/")
    assert response.status_code == 302 and response["Location"] == "/today/"  # nothing waits
    builder.prescribe(patient, 0)
    services.record_ipledge_entries(patient, by=staff)
    row = today_row(client.get("/today/").content.decode(), patient)
    assert f"/patients/{patient.pk}/dispense/?next=%2Ftoday%2F" in row
    page = client.get(f"/patients/{patient.pk}/dispense/?next=/today/").content.decode()
    assert "Dispense of the prescription written" in page


def test_tick_all_ticks_every_waiting_item_and_returns_to_today(build, client_for, staff):
    patient = build(states.ready)
    response = client_for(staff).post(
        f"/patients/{patient.pk}/ipledge/", {"item": "all", "next": "/today/"}
    )
    assert response.status_code == 302 and response["Location"] == "/today/"
    assert IpledgeEntry.objects.filter(patient=patient).count() == 3
    assert kept_row(patient).step != "enter_in_ipledge"
    again = client_for(staff).post(f"/patients/{patient.pk}/ipledge/", {"item": "all"})
    assert again.status_code == 302 and IpledgeEntry.objects.filter(patient=patient).count() == 3


# Item 5: words and buttons that match the gate -----------------------------------------------


def test_write_prescription_appears_only_when_the_gate_allows_one(
    build, builder, client_for, clinician
):
    blocked = build(states.no_contraception)
    client = client_for(clinician)
    page = client.get(blocked.get_absolute_url()).content.decode()
    assert ">Write prescription</a>" not in page
    # Instead, the blocker and the button that resolves it.
    assert f"/patients/{blocked.pk}/contraception/new/" in page
    assert "Confirm contraception" in page

    ready = build(states.ready)
    page = client.get(ready.get_absolute_url()).content.decode()
    assert ">Write prescription</a>" in page
    assert "A prescription can be written today." in page

    builder.prescribe(ready, 0)
    page = client.get(ready.get_absolute_url()).content.decode()
    assert "can be written today" not in page
    assert ">Write prescription</a>" not in page
    assert "waiting for pick-up" in page


POSITIVE = {
    "kind": "monthly",
    "result": "positive",
    "setting": "medical",
    "clia_lab": "on",
    "method": "urine",
}


def test_a_positive_test_asks_before_it_is_saved_then_goes_first_in_safety(
    build, client_for, staff, clinic
):
    patient = build(states.monthly_due, enrolled=-80)
    client = client_for(staff)
    url = f"/patients/{patient.pk}/pregnancy-tests/new/?next=/today/"
    data = {**POSITIVE, "collected_on": clinic.today().isoformat()}
    first = client.post(url, data)
    assert first.status_code == 200
    page = first.content.decode()
    assert "This records a POSITIVE pregnancy test" in page
    assert re.search(
        r'type="submit"\s+name="confirm_positive"\s+value="Save positive result"', page
    )
    assert not PregnancyTest.objects.filter(patient=patient, result="positive").exists()

    second = client.post(url, {**data, "confirm_positive": "Save positive result"})
    assert second.status_code == 302 and second["Location"] == "/today/"
    assert PregnancyTest.objects.filter(patient=patient, result="positive").exists()
    # The kept row changed with the write, not at the next refresh.
    kept = kept_row(patient)
    assert (kept.group, kept.step) == ("safety", "pregnancy_test_positive")
    today = client.get("/today/").content.decode()
    first_section = re.search(r'<section class="card[^"]*" id="group-(\w+)"', today).group(1)
    assert first_section == "safety"
    assert f'data-patient="{patient.pk}"' in today.split('id="group-to_enter"')[0]


def test_a_negative_test_is_saved_at_once(build, client_for, staff, clinic):
    patient = build(states.monthly_due, enrolled=-80)
    data = {**POSITIVE, "result": "negative", "collected_on": clinic.today().isoformat()}
    response = client_for(staff).post(f"/patients/{patient.pk}/pregnancy-tests/new/", data)
    assert response.status_code == 302


def test_if_the_kept_row_cannot_be_written_the_positive_test_is_not_saved(
    build, staff, clinic, monkeypatch
):
    from patients import services as patient_services

    patient = build(states.monthly_due, enrolled=-80)

    def fails(_patient):
        raise RuntimeError("kept row not written")

    monkeypatch.setattr(patient_services, "AFTER_WRITE", [*patient_services.AFTER_WRITE, fails])
    with pytest.raises(RuntimeError):
        patient_services.record_pregnancy_test(
            patient, by=staff, data={**POSITIVE, "clia_lab": True, "collected_on": clinic.today()}
        )
    assert not PregnancyTest.objects.filter(patient=patient, result="positive").exists()


def test_the_window_email_promises_a_pick_up_only_once_a_prescription_exists(
    build, builder, settings
):
    settings.SITE_URL = "https://clinic.example"
    patient = build(states.ready)
    reminder = Reminder(patient=patient, kind=ReminderKind.WINDOW_CLOSING, due_on=builder.day(5))
    before = emails.reminder_email(reminder)
    assert "picked up" not in before.body
    assert "can be written only until" in before.body
    builder.prescribe(patient, 0)
    after = emails.reminder_email(reminder)
    assert "must be picked up by" in after.body
    assert not mail.outbox


def visit_data(clinic) -> dict:
    return {"visited_on": clinic.today().isoformat(), "missed_dose_days": 0, "phq2": 0}


def test_staffs_visit_from_today_returns_to_today_and_a_clinicians_goes_on_to_prescribe(
    build, client_for, staff, clinician, clinic
):
    patient = build(states.monthly_due, enrolled=-80)
    url = f"/patients/{patient.pk}/visits/new/?next=/today/"
    response = client_for(staff).post(url, visit_data(clinic))
    assert response.status_code == 302, response.content.decode()[-2000:]
    assert response["Location"] == "/today/"

    other = build(states.monthly_due, enrolled=-80)
    url = f"/patients/{other.pk}/visits/new/?next=/today/"
    response = client_for(clinician).post(url, visit_data(clinic))
    assert response.status_code == 302
    assert re.fullmatch(r"/visits/\d+/\?next=%2Ftoday%2F", response["Location"])


def test_every_action_of_the_registry_opens_a_page_for_a_role_allowed_it(
    build, client_for, staff, clinician
):
    from monitoring import codes

    patient = build(states.ready)
    acts = {entry.action for entry in codes.ALL.values() if entry.action is not None}
    assert len(acts) >= 8
    for act in acts:
        user = clinician if act.needs == "write_prescription" else staff
        response = client_for(user).get(codes.action_url(act, patient.pk, "/today/"))
        # The dispense form redirects back when nothing waits at the pharmacy.
        assert response.status_code in (200, 302), act
        if response.status_code == 302:
            assert response["Location"] == "/today/", act
