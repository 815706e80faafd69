"""Dates as a US clinic writes them, from one setting (issue 21, item 8): "Dec 5, 2026" in text,
12/05/2026 in tables, inputs and the CSV, times on the clinic's clock with its zone named;
Spanish patients get Spanish dates; the API stays ISO 8601."""

import csv
import datetime
import io
import re
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.core import mail
from django.urls import reverse
from django.utils import translation

import rules
from clinic import dates
from clinic.throttle import send_wrong_codes_alert
from patients.models import Consent
from tests import builders as states

pytestmark = pytest.mark.django_db

DAY = datetime.date(2026, 12, 5)  # a Saturday
TEMPLATES = Path(settings.BASE_DIR) / "templates"
# The names a template may give the |date filter (clinic/formats/); 'Y-m-d' only for
# machine-read attributes (data-*), never shown.
ALLOWED = {
    "DATE_FORMAT",
    "SHORT_DATE_FORMAT",
    "MONTH_DAY_FORMAT",
    "YEAR_MONTH_FORMAT",
    "TIME_FORMAT",
    "DATETIME_FORMAT",
    "SHORT_DATETIME_FORMAT",
    "WEEKDAY_DATE_FORMAT",
    "WEEKDAY_MONTH_DAY_FORMAT",
    "LONG_DATE_FORMAT",
}
DATE_FILTER = re.compile(r"\|(?:date|time):(?:\"([^\"]*)\"|'([^']*)'|_\(\"([^\"]*)\"\)|(\w+))")


def test_the_helpers_write_us_dates_and_spanish_dates_for_spanish_readers():
    assert dates.day(DAY) == "Dec 5, 2026"
    assert dates.short(DAY) == "12/05/2026"
    assert dates.month_day(DAY) == "Dec 5"
    assert dates.weekday(DAY) == "Sat, Dec 5, 2026"
    assert dates.weekday_month_day(DAY) == "Sat, Dec 5"
    with translation.override("es"):
        assert dates.day(DAY) == "5 de diciembre de 2026"


def test_the_rules_engine_writes_the_same_day_as_the_setting():
    # The rules engine cannot import Django: its copy of DATE_FORMAT must not drift.
    for day in (DAY, datetime.date(2027, 1, 9), datetime.date(2026, 9, 30)):
        assert rules.text.day(day) == dates.day(day)


def test_a_time_is_on_the_clinics_clock_with_its_zone_named():
    winter = datetime.datetime(2026, 12, 5, 14, 0, tzinfo=datetime.UTC)
    summer = datetime.datetime(2026, 7, 1, 13, 30, tzinfo=datetime.UTC)
    zone = ZoneInfo("America/New_York")
    assert dates.moment(winter, zone) == "Dec 5, 2026, 9:00 AM EST"
    assert dates.clock(summer, zone) == "9:30 AM EDT"


def test_the_patient_page_and_list_write_us_dates(client_for, staff, patient):
    client = client_for(staff)
    page = client.get(reverse("patients:detail", args=[patient.pk])).content.decode()
    assert "born May 17, 2001" in page
    assert "17 May 2001" not in page
    listing = client.get(reverse("patients:list")).content.decode()
    assert "05/17/2001" in listing


def test_the_today_csv_writes_mm_dd_yyyy(client_for, staff, build):
    patient = build(states.window_closing)
    response = client_for(staff).get(reverse("monitoring:worklist"), {"format": "csv"})
    table = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    header, row = table[0], next(line for line in table[1:] if line[2] == patient.mrn)
    assert row[header.index("Birth date")] == "05/17/2001"
    assert re.fullmatch(r"\d\d/\d\d/\d{4}", row[5]), row[5]


def test_the_api_keeps_iso_dates(client_for, staff, patient):
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_authenticate(staff)
    body = api.get(reverse("api:patient", args=[patient.pk])).json()
    assert body["birth_date"] == "2001-05-17"


def test_a_reminder_email_names_the_day_the_us_way_and_the_spanish_way(build):
    from monitoring.models import Reminder
    from monitoring.reminders import emails

    patient = build(states.window_closing)
    english = emails.reminder_email(Reminder(patient=patient, kind="window_closing", due_on=DAY))
    assert english.subject.endswith("action needed by Dec 5, 2026")
    assert "Saturday, December 5, 2026" in english.body
    patient.preferred_language = "es"
    spanish = emails.reminder_email(Reminder(patient=patient, kind="window_closing", due_on=DAY))
    assert spanish.subject.endswith("5 de diciembre de 2026")
    assert "sábado 5 de diciembre de 2026" in spanish.body


def test_the_wrong_codes_email_writes_a_us_time(clinician):
    send_wrong_codes_alert(clinician, 5, datetime.datetime(2026, 12, 5, 14, 0, tzinfo=datetime.UTC))
    (message,) = mail.outbox
    assert "since Dec 5, 2026, 2:00 PM UTC" in message.body


def test_a_typed_us_date_and_the_browsers_iso_date_are_both_accepted(client_for, staff, patient):
    client = client_for(staff)
    url = reverse("patients:consent_create", args=[patient.pk])
    yesterday = patient.clinic.today() - datetime.timedelta(days=1)
    for typed in (f"{yesterday:%m/%d/%Y}", yesterday.isoformat()):
        Consent.objects.filter(patient=patient).delete()
        response = client.post(url, {"kind": "birth_defects", "signed_on": typed})
        assert response.status_code == 302, typed
        assert Consent.objects.get(patient=patient).signed_on == yesterday


def test_templates_format_dates_only_through_the_named_formats():
    wrong = []
    for path in sorted(TEMPLATES.rglob("*")):
        if not path.is_file():
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            for match in DATE_FILTER.finditer(line):
                fmt = next(g for g in match.groups() if g is not None)
                machine = fmt == "Y-m-d" and re.search(
                    r'data-[\w-]+="\{\{[^}]*$', line[: match.start()]
                )
                if fmt not in ALLOWED and not machine:
                    wrong.append(f"{path.relative_to(TEMPLATES)}:{number}: {fmt}")
    assert not wrong, "format dates with a name from clinic/formats/:\n" + "\n".join(wrong)


def test_python_code_writes_no_month_or_weekday_names_of_its_own():
    # Month and weekday names in an f-string or strftime mean a date formatted on its own:
    # clinic/dates.py is the one place (the rules engine's pure copy excepted).
    pattern = re.compile(r"%[abAB]")
    allowed = {"rules/text.py"}
    wrong = []
    for package in ("config", "api", "demo", "clinic", "patients", "monitoring", "rules"):
        for path in (Path(settings.BASE_DIR) / package).rglob("*.py"):
            relative = path.relative_to(settings.BASE_DIR).as_posix()
            if relative in allowed or "/migrations/" in relative:
                continue
            for number, line in enumerate(path.read_text().splitlines(), 1):
                if pattern.search(line) and not line.lstrip().startswith("#"):
                    wrong.append(f"{relative}:{number}: {line.strip()}")
    assert not wrong, "\n".join(wrong)
