"""Patient links that cannot spam the record (issue 20 item 6; docs/security.md, "Patient
links"): one answer of each kind per cycle from the link, a second one replacing the first and
audited as a change; no birth-control answer from a patient who cannot get pregnant; and a link
whose payload names no patient to whoever reads it."""

import base64
import datetime as dt
import hashlib
import json
import zlib

import pytest
import time_machine
from auditlog.models import LogEntry
from django.core import signing as django_signing
from django.test import override_settings
from django.urls import reverse

from monitoring.models import ComprehensionReport
from monitoring.reminders import emails, signing
from patients import services as patient_services
from patients.models import ContraceptionConfirmation, Source
from tests.builders import Builder, ready_first_prescription
from tests.factories import enroll

NOW = dt.datetime(2027, 5, 3, 16, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def frozen():
    """Every test at NOW (the clinic's dates and the links' times agree); `frozen.move_to`
    for an answer given on another day."""
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def contraception_url(patient):
    return reverse("self_service:contraception", args=[signing.page_token(patient)])


def questions_url(patient):
    return reverse("self_service:questions", args=[signing.page_token(patient)])


def patient_confirmations(patient):
    return list(ContraceptionConfirmation.objects.filter(patient=patient, source=Source.PATIENT))


def updates_of(record):
    return LogEntry.objects.get_for_object(record).filter(action=LogEntry.Action.UPDATE)


# One answer per cycle -------------------------------------------------------------------------


def test_a_second_contraception_answer_in_the_cycle_replaces_the_first_and_is_audited(
    client, clinic, staff
):
    patient = enroll(clinic, by=staff)
    first = {"methods": ["iud", "male_condom"]}
    assert client.post(contraception_url(patient), first).status_code == 302
    second = {"methods": ["implant", "male_condom"]}
    for _ in range(5):  # a link replayed: still one record
        assert client.post(contraception_url(patient), second).status_code == 302
    [confirmation] = patient_confirmations(patient)
    assert confirmation.methods == ["implant", "male_condom"]
    [change] = updates_of(confirmation)
    before, after = change.changes_dict["methods"]
    assert (json.loads(before), json.loads(after)) == (
        ["iud", "male_condom"],
        ["implant", "male_condom"],
    )


def test_a_later_answer_in_the_cycle_moves_the_date_of_the_first(client, clinic, staff, frozen):
    patient = enroll(clinic, by=staff)
    frozen.move_to(NOW - dt.timedelta(days=3))
    client.post(contraception_url(patient), {"abstinence": "on"})
    frozen.move_to(NOW)
    client.post(contraception_url(patient), {"abstinence": "on"})
    [confirmation] = patient_confirmations(patient)
    assert confirmation.confirmed_on == clinic.today() and confirmation.abstinence


def test_a_confirmation_by_staff_in_the_cycle_is_left_as_it_is(client, clinic, staff):
    patient = enroll(clinic, by=staff)
    staffs = patient_services.record_contraception(
        patient,
        by=staff,
        confirmed_on=clinic.today(),
        source=Source.STAFF,
        methods=["iud", "male_condom"],
        abstinence=False,
        started_on=None,
    )
    client.post(contraception_url(patient), {"methods": ["implant", "male_condom"]})
    staffs.refresh_from_db()
    assert staffs.methods == ["iud", "male_condom"]
    assert len(patient_confirmations(patient)) == 1


def test_the_monthly_questions_reported_twice_in_the_cycle_are_one_report(
    client, clinic, staff, frozen
):
    patient = enroll(clinic, by=staff)
    frozen.move_to(NOW - dt.timedelta(days=2))
    assert client.post(questions_url(patient)).status_code == 302
    frozen.move_to(NOW)
    for _ in range(3):
        assert client.post(questions_url(patient)).status_code == 302
    today = clinic.today()
    [report] = ComprehensionReport.objects.filter(patient=patient)
    assert report.reported_on == today
    [change] = updates_of(report)
    assert change.changes_dict["reported_on"][1] == today.isoformat()


def test_a_new_cycle_takes_a_new_answer(client, clinic, staff, clinician, frozen):
    b = Builder(clinic, clinician, staff)
    patient = enroll(clinic, by=staff, enrolled_on=b.day(-60))
    ready_first_prescription(b, patient, confirmation_on=-12)
    frozen.move_to(NOW - dt.timedelta(days=11))
    client.post(questions_url(patient))
    frozen.move_to(NOW)
    b.prescribe(patient, -10, dispensed=-10)  # the next cycle starts the day after
    client.post(questions_url(patient))
    reports = ComprehensionReport.objects.filter(patient=patient).order_by("reported_on")
    assert [r.reported_on for r in reports] == [b.day(-11), b.day(0)]


# Birth control only from a patient who can get pregnant ---------------------------------------


def test_a_patient_who_cannot_get_pregnant_is_not_asked_and_cannot_answer(client, clinic, staff):
    patient = enroll(clinic, by=staff, risk_category="cannot_get_pregnant")
    page = client.get(reverse("self_service:page", args=[signing.page_token(patient)]))
    assert page.status_code == 200
    assert reverse("self_service:contraception", args=["x"])[:-2] not in page.content.decode()
    response = client.post(contraception_url(patient), {"methods": ["iud", "male_condom"]})
    assert response.status_code == 403
    assert "Your clinic does not ask you to confirm birth control." in response.content.decode()
    assert not ContraceptionConfirmation.objects.exists()


def test_the_category_in_force_today_decides(client, clinic, staff, clinician):
    patient = enroll(clinic, by=staff)
    patient_services.change_risk_category(
        patient,
        by=clinician,
        new="cannot_get_pregnant",
        changed_on=clinic.today(),
        reason="Hysterectomy",
    )
    response = client.post(contraception_url(patient), {"methods": ["iud", "male_condom"]})
    assert response.status_code == 403
    assert not ContraceptionConfirmation.objects.exists()


# The link names no patient in clear -----------------------------------------------------------


def readable_parts(token: str) -> bytes:
    """Everything a reader of the link can decode without a key: each dot- or colon-separated
    part as base64 (zlib-inflated when it is)."""
    out = b""
    for part in token.replace(":", ".").split("."):
        try:
            raw = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
        except ValueError:
            continue
        try:
            raw = zlib.decompress(raw)
        except zlib.error:
            pass
        out += raw
    return out


@pytest.mark.parametrize(
    "make", [signing.page_token, signing.calendar_token, signing.unsubscribe_token]
)
def test_no_link_carries_the_patient_id_or_email_fingerprint_in_clear(clinic, staff, make):
    patient = enroll(clinic, by=staff, email="robin@example.org")
    token = make(patient)
    readable = readable_parts(token)
    tag = hashlib.sha256(b"robin@example.org").hexdigest()[:12]
    assert (
        tag.encode() not in readable
        and hashlib.sha256(b"robin@example.org").digest()[:8] not in readable
    )
    assert json.dumps({"p": patient.pk}).encode()[:-1] not in readable.replace(b" ", b"")
    with pytest.raises(django_signing.BadSignature):
        django_signing.loads(token, salt=signing.PAGE_SALT)


def test_two_patients_links_share_nothing_a_reader_could_match(clinic, staff):
    first, second = enroll(clinic, by=staff), enroll(clinic, by=staff)
    with time_machine.travel(NOW, tick=False):
        a, b = signing.page_token(first), signing.page_token(second)
    common = next(i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y)
    assert common <= 2  # at most the version marker


def test_every_link_the_emails_and_the_page_carry_opens_for_its_purpose(client, clinic, staff):
    patient = enroll(clinic, by=staff)
    links = emails.patient_links(patient)
    assert client.get(links["page_url"]).status_code == 200
    assert client.get(links["unsubscribe_url"]).status_code == 200
    assert client.get(links["calendar_url"]).status_code == 200


def test_a_link_made_under_a_rotated_secret_key_still_opens(client, clinic, staff):
    patient = enroll(clinic, by=staff)
    with override_settings(SECRET_KEY="an-old-key-" + "x" * 50):
        token = signing.page_token(patient)
    url = reverse("self_service:page", args=[token])
    assert client.get(url).status_code == 404
    with override_settings(SECRET_KEY_FALLBACKS=["an-old-key-" + "x" * 50]):
        assert client.get(url).status_code == 200


def test_a_new_page_link_expires_after_the_links_lifetime(client, clinic, staff):
    patient = enroll(clinic, by=staff)
    with time_machine.travel(NOW, tick=False):
        url = reverse("self_service:page", args=[signing.page_token(patient)])
    with time_machine.travel(NOW + dt.timedelta(days=13), tick=False):
        assert client.get(url).status_code == 200
    with time_machine.travel(NOW + dt.timedelta(days=15), tick=False):
        assert client.get(url).status_code == 410


# Links mailed before the change keep working until they expire ---------------------------------


def legacy(patient, salt):
    """A link as emails carried it before the tokens were encrypted."""
    tag = hashlib.sha256(patient.email.strip().lower().encode()).hexdigest()[:12]
    return django_signing.dumps({"p": patient.pk, "e": tag}, salt=salt)


def test_links_in_emails_already_sent_still_open_until_they_expire(client, clinic, staff):
    patient = enroll(clinic, by=staff)
    with time_machine.travel(NOW, tick=False):
        page = reverse("self_service:page", args=[legacy(patient, signing.PAGE_SALT)])
        calendar = reverse("self_service:calendar", args=[legacy(patient, signing.CALENDAR_SALT)])
        stop = reverse("self_service:unsubscribe", args=[legacy(patient, signing.UNSUBSCRIBE_SALT)])
        assert client.get(page).status_code == 200
    with time_machine.travel(NOW + dt.timedelta(days=15), tick=False):
        assert client.get(page).status_code == 410
        assert client.get(calendar).status_code == 200
        assert client.post(stop).status_code == 200
    patient.refresh_from_db()
    assert patient.email_opt_out
