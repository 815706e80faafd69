"""The iPLEDGE entry sheet: what to type, ticks that follow the record, and the Today group."""

import datetime

import pytest
from auditlog.models import LogEntry
from django.core.exceptions import ValidationError
from django.urls import reverse

from monitoring import services
from monitoring.history import load_history, load_ipledge_ticks
from monitoring.models import IpledgeEntry
from rules import ipledge
from tests import builders as states
from tests.triage import kept_row


def sheet_of(patient):
    _, history = load_history(patient)
    return ipledge.build(history, patient.clinic.today(), load_ipledge_ticks(patient))


def test_the_sheet_says_what_to_type_as_ipledge_words_it(build, builder):
    patient = build(states.ready)  # confirmation test yesterday, IUD + condom
    sheet = sheet_of(patient)
    assert [i.item for i in sheet.items] == ["counseling", "contraception", "pregnancy_test"]
    test = dict(sheet.item("pregnancy_test").fields)
    collected = builder.today - datetime.timedelta(days=1)
    assert test["Specimen collection date"] == f"{collected:%m/%d/%Y}"
    assert test["Result"] == "Negative"
    methods = dict(sheet.item("contraception").fields)
    assert methods["Primary form"] == "Intrauterine device (IUD)"
    assert methods["Second form"] == "Barrier - male latex condom"
    assert sheet.enter_by == sheet_of(patient).enter_by is not None
    assert sheet.to_enter


def test_a_patient_who_cannot_get_pregnant_has_only_the_counseling_item(build):
    patient = build(states.cannot_ready, can=False)
    assert [i.item for i in sheet_of(patient).items] == ["counseling"]


def test_an_item_without_its_record_says_what_is_missing(build, staff):
    patient = build(states.no_contraception)
    item = sheet_of(patient).item("contraception")
    assert not item.ready and "not confirmed two forms" in item.missing
    assert not sheet_of(patient).to_enter
    with pytest.raises(ValidationError) as refused:
        services.record_ipledge_entry(patient, by=staff, item="contraception")
    assert "item" in refused.value.message_dict


def test_ticking_keeps_who_and_the_value_and_moves_the_patient_on(build, staff):
    patient = build(states.ready)
    assert kept_row(patient).group == "to_enter"
    for item in ("counseling", "contraception", "pregnancy_test"):
        services.record_ipledge_entry(patient, by=staff, item=item)
    entries = IpledgeEntry.objects.filter(patient=patient)
    assert entries.count() == 3 and {e.entered_by for e in entries} == {staff}
    assert all(i.entered for i in sheet_of(patient).items)
    assert kept_row(patient).group == "window_closing"
    assert (
        LogEntry.objects.filter(
            content_type__model="ipledgeentry", action=LogEntry.Action.CREATE
        ).count()
        == 3
    )
    with pytest.raises(ValidationError):
        services.record_ipledge_entry(patient, by=staff, item="counseling")


def test_a_corrected_record_withdraws_the_tick_and_the_item_reappears(build, builder, staff):
    patient = build(states.ready)
    for item in ("counseling", "contraception", "pregnancy_test"):
        services.record_ipledge_entry(patient, by=staff, item=item)
    # Staff correct the methods: the patient now uses an implant and a condom.
    builder.contraception(patient, 0, started=-60, methods=("implant", "male_condom"))
    item = sheet_of(patient).item("contraception")
    assert item.pending and item.withdrawn is not None
    assert dict(item.fields)["Primary form"] == "Hormonal - implant"
    assert "Intrauterine device" in item.withdrawn.value
    assert kept_row(patient).group == "to_enter"
    assert sheet_of(patient).item("counseling").entered is not None


def test_the_sheet_page_shows_values_with_copy_buttons_and_ticks(client_for, staff, build):
    patient = build(states.ready)
    client = client_for(staff)
    url = reverse("monitoring:ipledge_sheet", args=[patient.pk])
    page = client.get(url).content.decode()
    assert page.count("data-copy=") == 1 + 2 + 4 + (1 if patient.ipledge_id else 0)
    assert "Not entered yet" in page and "Enter by" in page
    response = client.post(url, {"item": "pregnancy_test"})
    assert response.status_code == 302
    page = client.get(url).content.decode()
    assert "Entered in iPLEDGE by" in page
    assert 'data-item="pregnancy_test" data-state="entered"' in page
    # A bad item is a message, never a 500, and changes nothing.
    before = IpledgeEntry.objects.count()
    client.post(url, {"item": "<script>"})
    assert IpledgeEntry.objects.count() == before


def test_the_patient_page_shows_what_is_entered_and_what_is_not(client_for, staff, build):
    patient = build(states.ready)
    services.record_ipledge_entry(patient, by=staff, item="counseling")
    page = client_for(staff).get(patient.get_absolute_url()).content.decode()
    assert "Prescriber: confirm the patient was counseled: entered" in page
    assert "Pregnancy test result: to enter" in page
    assert "Today: To enter in iPLEDGE" in page


def test_mid_supply_the_test_of_the_last_prescription_is_not_entered_again(build, builder):
    """The monthly test that qualified the prescription dispensed yesterday belongs to the last
    cycle: the sheet of the new cycle waits for next month's test."""
    patient = build(states.in_treatment, enrolled=-80)
    item = sheet_of(patient).item("pregnancy_test")
    assert not item.ready
    assert "No qualifying negative test" in item.missing
