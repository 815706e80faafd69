"""Emails, the patient's signed page, the calendar feed, the staff pages and the digest."""

import datetime as dt
import re

import pytest
import time_machine
from django.core import mail
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

import rules
from monitoring.history import load_history
from monitoring.models import ComprehensionReport, Reminder, ReminderKind, ReminderStatus
from monitoring.reminders import digest, emails, signing
from patients.models import Patient
from tests.builders import ready_first_prescription
from tests.factories import ClinicFactory, enroll, member

UTC = dt.UTC
NOW = dt.datetime(2027, 5, 3, 16, 0, tzinfo=UTC)
CLINICAL = re.compile(
    r"pregnan|test|contracep|birth|isotretinoin|ipledge|lab|blood|positive|negative|result",
    re.IGNORECASE,
)


def reminder_for(patient, kind="monthly_test", due_on=dt.date(2027, 5, 6), **fields):
    return Reminder.objects.create(patient=patient, kind=kind, due_on=due_on, send_at=NOW, **fields)


@pytest.mark.parametrize("kind", ReminderKind.values)
def test_subjects_carry_no_clinical_detail_and_bodies_carry_the_links(clinic, patient, kind):
    clinic.contact_phone = "555-0100"
    clinic.save()
    message = emails.reminder_email(reminder_for(patient, kind=kind))
    assert message.subject == "Clinic A: action needed by May 6, 2027"
    assert not CLINICAL.search(message.subject)
    body = message.body
    assert "May 6, 2027" in body and "Clinic A" in body and "555-0100" in body
    assert "/p/" in body and "/p/unsubscribe/" in body
    html = message.alternatives[0][0]
    assert "Stop these emails" in html
    assert message.extra_headers["List-Unsubscribe"].startswith("<http")
    assert message.message()["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_names_cannot_inject_headers_or_markup(clinic, patient):
    clinic.name = "Evil\r\nBcc: victim@example.org"
    clinic.contact_email = "front@example.org\nBcc: x@example.org"
    clinic.save()
    Patient.objects.filter(pk=patient.pk).update(given_name="<script>alert(1)</script>")
    patient.refresh_from_db()
    message = emails.reminder_email(reminder_for(patient))
    headers = message.message().as_string().split("\n\n", 1)[0]
    assert "\nBcc:" not in headers and message.message()["Bcc"] is None
    assert message.subject == "Evil Bcc: victim@example.org: action needed by May 6, 2027"
    assert "<script>" not in message.alternatives[0][0]


def page_url(patient):
    return reverse("self_service:page", args=[signing.page_token(patient)])


def test_the_signed_page_opens_without_login_and_expires(client, patient):
    with time_machine.travel(NOW, tick=False):
        url = page_url(patient)
        response = client.get(url)
    assert response.status_code == 200
    assert patient.given_name in response.content.decode()
    with time_machine.travel(NOW + dt.timedelta(days=15), tick=False):
        assert client.get(url).status_code == 410


def test_a_tampered_or_foreign_token_is_refused(client, clinic, patient):
    other = enroll(clinic, given_name="Bobbie")
    token = signing.page_token(patient)
    assert client.get(reverse("self_service:page", args=[token[:-2] + "xx"])).status_code == 404
    # A token for another purpose (the calendar) does not open the page.
    calendar_token = signing.calendar_token(other)
    assert client.get(reverse("self_service:page", args=[calendar_token])).status_code == 404
    # A link mailed before the address was corrected stops working.
    Patient.objects.filter(pk=patient.pk).update(email="new@example.org")
    assert client.get(reverse("self_service:page", args=[token])).status_code == 404


def test_the_patients_own_confirmation_that_differs_from_staffs_blocks_the_gate(
    client, clinic, staff, builder
):
    patient = enroll(clinic, by=staff)
    ready_first_prescription(builder(), patient, confirmation_on=-1)
    assert rules.status(load_history(patient)[1], clinic.today()).can_prescribe
    token = signing.page_token(patient)
    response = client.post(
        reverse("self_service:contraception", args=[token]),
        {"methods": ["implant", "male_condom"]},
    )
    assert response.status_code == 302
    codes = [b.code for b in rules.status(load_history(patient)[1], clinic.today()).blockers]
    assert codes == ["contraception_mismatch"]


def test_the_patient_records_the_monthly_questions_and_csrf_stays_on(patient):
    token = signing.page_token(patient)
    url = reverse("self_service:questions", args=[token])
    assert Client(enforce_csrf_checks=True).post(url).status_code == 403
    assert Client().get(url).status_code == 405
    assert Client().post(url).status_code == 302
    assert ComprehensionReport.objects.filter(patient=patient).count() == 1


def test_unsubscribe_asks_on_get_and_opts_out_on_post(client, patient):
    pending = reminder_for(patient)
    url = reverse("self_service:unsubscribe", args=[signing.unsubscribe_token(patient)])
    assert b"Stop the emails" in client.get(url).content
    patient.refresh_from_db()
    assert not patient.email_opt_out
    assert client.post(url).status_code == 200
    patient.refresh_from_db()
    pending.refresh_from_db()
    assert patient.email_opt_out and pending.status == ReminderStatus.CANCELLED


def test_one_click_unsubscribe_needs_no_csrf_token_and_only_ever_opts_out(patient):
    from auditlog.models import LogEntry

    pending = reminder_for(patient)
    url = reverse("self_service:unsubscribe", args=[signing.unsubscribe_token(patient)])
    one_click = Client(enforce_csrf_checks=True)  # a mail client: no cookie, no CSRF token
    assert one_click.get(url).status_code == 200  # a scanner's GET changes nothing
    patient.refresh_from_db()
    assert not patient.email_opt_out
    for _ in range(2):  # RFC 8058 POST, sent twice: the same outcome
        response = one_click.post(url, {"List-Unsubscribe": "One-Click"})
        assert response.status_code == 200
    patient.refresh_from_db()
    pending.refresh_from_db()
    assert patient.email_opt_out and pending.status == ReminderStatus.CANCELLED
    changes = LogEntry.objects.filter(action=LogEntry.Action.UPDATE, object_pk=str(patient.pk))
    assert [entry.changes_dict.get("email_opt_out") for entry in changes] == [["False", "True"]]
    bad = url.replace("/unsubscribe/", "/unsubscribe/x")
    assert one_click.post(bad, {"List-Unsubscribe": "One-Click"}).status_code == 404


def test_the_calendar_feed_carries_no_page_link_only_the_clinic_contact(
    client, clinic, in_treatment
):
    clinic.contact_phone = "555-0100"
    clinic.save()
    with time_machine.travel(NOW, tick=False):
        patient = in_treatment(dispensed=-9)
        url = reverse("self_service:calendar", args=[signing.calendar_token(patient)])
        body = client.get(url).content.decode().replace("\r\n ", "")  # unfold long lines
    descriptions = re.findall(r"DESCRIPTION:(.*)", body)
    assert descriptions and all(
        d.strip() == "Something is due at Clinic A. Contact Clinic A: 555-0100"
        for d in descriptions
    )
    assert "/p/" not in body and "http" not in body


def test_the_calendar_feed_lists_upcoming_dates_without_clinical_words(
    client, clinic, in_treatment
):
    with time_machine.travel(NOW, tick=False):
        patient = in_treatment(dispensed=-9)
        url = reverse("self_service:calendar", args=[signing.calendar_token(patient)])
        response = client.get(url)
        due = (clinic.today() + dt.timedelta(days=18)).strftime("%Y%m%d")
    assert response["Content-Type"].startswith("text/calendar")
    body = response.content.decode()
    assert f"DTSTART;VALUE=DATE:{due}" in body
    summaries = re.findall(r"SUMMARY:(.*)", body)
    assert summaries and all(s.strip() == "Clinic A: appointment or task due" for s in summaries)
    assert not any(CLINICAL.search(s) for s in summaries)
    assert client.get(url.replace(".ics", "x.ics")).status_code == 404


def test_staff_see_failed_reminders_and_opted_out_patients_first(client, clinic, staff, patient):
    sent = reminder_for(patient, status=ReminderStatus.SENT)
    failed = reminder_for(patient, kind="visit", status=ReminderStatus.FAILED, last_error="550")
    opted = enroll(clinic, family_name="Optout")
    Patient.objects.filter(pk=opted.pk).update(email_opt_out=True)
    client.force_login(staff)
    response = client.get(reverse("reminders:list"))
    assert [r.pk for r in response.context["page"]] == [failed.pk, sent.pk]
    assert [p.pk for p in response.context["opted_out"]] == [opted.pk]
    assert client.get(reverse("reminders:patient", args=[patient.pk])).status_code == 200
    client.post(reverse("reminders:retry", args=[failed.pk]))
    failed.refresh_from_db()
    assert failed.status == ReminderStatus.PENDING


def test_staff_see_a_possible_duplicate_badge_whatever_the_last_error(client, staff, patient):
    flagged = reminder_for(
        patient, status=ReminderStatus.SENT, possible_duplicate=True, last_error="attempt 2: 451"
    )
    reminder_for(patient, kind="visit", status=ReminderStatus.SENT)
    client.force_login(staff)
    for url in (reverse("reminders:list"), reverse("reminders:patient", args=[patient.pk])):
        html = client.get(url).content.decode()
        assert html.count(">possible duplicate</span>") == 1
    assert flagged.possible_duplicate


def test_send_again_in_quiet_hours_waits_for_their_end(client, staff, patient):
    failed = reminder_for(patient, status=ReminderStatus.FAILED, last_error="550", attempts=1)
    night = dt.datetime(2027, 5, 4, 2, 0, tzinfo=UTC)  # 22:00 in New York
    with time_machine.travel(night, tick=False):
        client.force_login(staff)
        client.post(reverse("reminders:retry", args=[failed.pk]))
    failed.refresh_from_db()
    assert (failed.status, failed.attempts) == (ReminderStatus.PENDING, 0)
    assert failed.send_at == dt.datetime(2027, 5, 4, 12, 0, tzinfo=UTC)  # 08:00 in New York


def test_another_clinics_patient_reminders_are_a_404(client, patient):
    stranger = member(ClinicFactory(name="Clinic B"), "staff")
    failed = reminder_for(patient, status=ReminderStatus.FAILED)
    client.force_login(stranger)
    assert client.get(reverse("reminders:patient", args=[patient.pk])).status_code == 404
    assert client.post(reverse("reminders:retry", args=[failed.pk])).status_code == 404
    assert client.get(reverse("reminders:list")).context["page"].object_list.count() == 0


def test_the_staff_digest_goes_to_staff_and_clinicians_with_counts_and_names(
    clinic, staff, clinician, waiting_for_contraception
):
    member(clinic, "clinic_admin")
    with time_machine.travel(NOW, tick=False):
        patient = waiting_for_contraception(given_name="Quinn", family_name="Oakes")
        assert digest.send_digest(clinic, force=True)
    [message] = mail.outbox
    assert sorted(message.to) == sorted([staff.email, clinician.email])
    assert message.subject == "Clinic A: daily reminder summary"
    assert "Pick-up window open: 1" in message.body and patient.full_name in message.body
    assert "Safety: act today: 0" in message.body


def test_the_digest_goes_out_once_a_day_at_the_send_hour(clinic, staff):
    morning = dt.datetime(2027, 3, 10, 13, 59, tzinfo=UTC)  # 08:59 in New York
    assert not digest.send_digest(clinic, morning)
    assert digest.send_digest(clinic, morning + dt.timedelta(minutes=1))
    assert not digest.send_digest(clinic, morning + dt.timedelta(hours=2))
    assert len(mail.outbox) == 1
    assert digest.send_digest(clinic, morning + dt.timedelta(days=1, minutes=1))
    assert len(mail.outbox) == 2


def test_a_failed_digest_is_tried_again_the_same_day(clinic, staff, monkeypatch):
    nine = dt.datetime(2027, 3, 10, 14, 0, tzinfo=UTC)
    real_send = digest.staff_digest_email

    def failing(*args):
        message = real_send(*args)
        monkeypatch.setattr(message, "send", lambda: (_ for _ in ()).throw(OSError("down")))
        return message

    monkeypatch.setattr(digest, "staff_digest_email", failing)
    with pytest.raises(OSError):
        digest.send_digest(clinic, nine)
    monkeypatch.setattr(digest, "staff_digest_email", real_send)
    assert digest.send_digest(clinic, nine + dt.timedelta(minutes=5))
    assert len(mail.outbox) == 1


def test_a_send_hour_inside_quiet_hours_sends_the_digest_when_they_end_once_a_day(clinic, staff):
    clinic.reminder_send_hour = 21  # inside 20:00-08:00: the digest goes at 08:00 next day
    clinic.save()
    evening = dt.datetime(2027, 3, 11, 2, 0, tzinfo=UTC)  # 21:00 on March 10 in New York
    assert not digest.send_digest(clinic, evening)
    morning = dt.datetime(2027, 3, 11, 13, 0, tzinfo=UTC)  # 08:00 on March 11 (EST)
    assert not digest.send_digest(clinic, morning - dt.timedelta(minutes=1))
    assert digest.send_digest(clinic, morning)
    assert not digest.send_digest(clinic, morning + dt.timedelta(hours=10))  # 18:00
    assert len(mail.outbox) == 1
    assert digest.send_digest(clinic, morning + dt.timedelta(days=1))
    assert len(mail.outbox) == 2


def test_an_early_send_hour_inside_quiet_hours_sends_the_digest_the_same_morning(clinic, staff):
    clinic.reminder_send_hour = 6
    clinic.save()
    eight = dt.datetime(2027, 3, 10, 13, 0, tzinfo=UTC)  # 08:00 in New York (EST)
    assert not digest.send_digest(clinic, eight - dt.timedelta(minutes=1))
    assert digest.send_digest(clinic, eight)
    assert len(mail.outbox) == 1


def test_a_digest_already_sent_today_is_not_summarized_again(clinic, staff, monkeypatch):
    nine = dt.datetime(2027, 3, 10, 14, 0, tzinfo=UTC)
    assert digest.send_digest(clinic, nine)
    summaries = []
    monkeypatch.setattr(digest, "summarize", lambda *args: summaries.append(args))
    with CaptureQueriesContext(connection) as queries:
        assert not digest.send_digest(clinic, nine + dt.timedelta(minutes=15))
    assert summaries == []
    assert len(queries) == 1  # the StaffDigest row looked up, nothing else
