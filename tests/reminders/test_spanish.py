"""Patients in Spanish: a patient who reads Spanish gets every word meant for them in Spanish
(reminder emails, their page and its messages, the calendar feed, the unsubscribe and link pages),
dates written the Spanish way and subjects without clinical detail; English patients see exactly
what they saw before, and staff pages stay English."""

import datetime as dt
import html
import importlib.util
import re
import shutil
from pathlib import Path

import pytest
import time_machine
from auditlog.models import LogEntry
from django.conf import settings
from django.core import mail
from django.core.management import call_command
from django.test import override_settings
from django.urls import reverse
from rest_framework.test import APIClient

from demo import seeding as demo
from monitoring import self_service
from monitoring.models import Reminder, ReminderKind
from monitoring.reminders import emails, signing
from patients.models import ContraceptionMethod, Patient
from tests.auth import verified_login
from tests.builders import Builder, no_contraception, ready_first_prescription
from tests.factories import enroll

UTC = dt.UTC
NOW = dt.datetime(2027, 5, 3, 16, 0, tzinfo=UTC)  # a Monday; due dates below are Thursday May 6
PO = Path(settings.BASE_DIR) / "locale" / "es" / "LC_MESSAGES" / "django.po"
MONTHS = "enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre diciembre"
SPANISH_DATE = re.compile(rf"\b\d{{1,2}} de ({'|'.join(MONTHS.split())})\b")
ENGLISH_DATE_WORDS = re.compile(
    r"\b(January|February|March|April|May|June|July|August|September|October|November|December"
    r"|Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)\b"
)
CLINICAL = re.compile(
    r"pregnan|embaraz|test|prueba|contracep|anticoncep|birth|isotretino|ipledge|lab|blood|sangre"
    r"|an[aá]lisis|receta|prescri|positiv|negativ|result",
    re.IGNORECASE,
)


def _load_msgfmt():
    spec = importlib.util.spec_from_file_location(
        "locale_msgfmt", Path(settings.BASE_DIR) / "locale" / "msgfmt.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


msgfmt = _load_msgfmt()


def catalogue(path: Path = PO) -> dict[str, str]:
    """msgid (plurals: each English form) -> Spanish, as in the repository's .po."""
    entries = {}
    for key, value in msgfmt.parse(path.read_text(encoding="utf-8")).items():
        if key:
            for msgid in key.split("\x04")[-1].split("\0"):
                entries[msgid] = value
    return entries


def _phrases(msgid: str) -> set[str]:
    """The runs of three words or more in an English msgid, between its placeholders and tags."""
    found = set()
    for part in re.split(r"%\(\w+\)s|<[^>]+>", msgid):
        words = part.split()
        # Date formats ("l, F j, Y") are letters for the date filter, never shown.
        if len(words) >= 3 and any(len(w.strip(",.:;?()")) > 2 for w in words):
            found.add(" ".join(words))
    return found


ENGLISH_PHRASES = set().union(*(_phrases(m) for m in catalogue()))


def plain(text: str) -> str:
    """What a reader sees: tags out (script and style with their content), entities decoded."""
    text = re.sub(r"<(script|style)\b.*?</\1>", " ", text, flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", text)).split())


def english_in(text: str, english_twin: str = "", keep=()) -> list[str]:
    """English left in a Spanish text: any phrase of the English catalogue, and any four words
    in a row of the same thing in English (names, numbers, links and `keep` aside)."""
    text = plain(text)
    left = sorted(p for p in ENGLISH_PHRASES if p in text)
    words = plain(english_twin).split()
    invariant = {w for k in keep for w in k.split()} | {"iPLEDGE", "English", "Español", "·"}
    for i in range(len(words) - 3):
        window = words[i : i + 4]
        english = [
            w
            for w in window
            if w not in invariant and not re.search(r"\d|@|http|/", w) and len(w) > 1
        ]
        if len(english) >= 2 and " ".join(window) in text:
            left.append(" ".join(window))
    return left


def twins(clinic, staff, **fields):
    """The same patient twice: one reads English, the other Spanish."""
    en = enroll(clinic, by=staff, given_name="Robin", **fields)
    es = enroll(clinic, by=staff, given_name="Robin", preferred_language="es", **fields)
    return en, es


def reminder_for(patient, kind, due_on=dt.date(2027, 5, 6)):
    return Reminder.objects.create(patient=patient, kind=kind, due_on=due_on, send_at=NOW)


def sent(patient, kind) -> mail.EmailMessage:
    """The patient's reminder as it left, from Django's outbox."""
    mail.outbox.clear()
    emails.reminder_email(reminder_for(patient, kind)).send()
    [message] = mail.outbox
    return message


@pytest.fixture
def contact(clinic):
    clinic.contact_phone, clinic.contact_email = "555-0142", "desk@example.org"
    clinic.save()
    return clinic


# The catalogue ----------------------------------------------------------------------------------


@pytest.mark.skipif(not shutil.which("xgettext"), reason="gettext's xgettext is not installed")
def test_every_marked_string_has_its_spanish(tmp_path, monkeypatch):
    """makemessages over a copy of the code finds no string the catalogue leaves untranslated."""
    base = Path(settings.BASE_DIR)
    for folder in (
        "config",
        "api",
        "demo",
        "clinic",
        "patients",
        "monitoring",
        "rules",
        "templates",
    ):
        shutil.copytree(base / folder, tmp_path / folder, ignore=shutil.ignore_patterns("*.pyc"))
    # Django's admin templates, overridden for accessibility: their strings are Django's own
    # catalogue's, and the admin is for superusers, in English.
    shutil.rmtree(tmp_path / "templates" / "admin", ignore_errors=True)
    monkeypatch.chdir(tmp_path)
    with override_settings(LOCALE_PATHS=[tmp_path / "locale"]):
        call_command("makemessages", locale=["es"], verbosity=0, no_location=True)
    extracted = set(re.findall(r'^msgid(?:_plural)? "(.+)"$', _joined(tmp_path), re.M))
    ours = catalogue()
    assert sorted(i for i in extracted if not ours.get(_unescape(i))) == []
    assert len(extracted) >= 90


def _joined(tmp_path: Path) -> str:
    """The extracted .po with its continued strings joined on one line each."""
    text = (tmp_path / "locale" / "es" / "LC_MESSAGES" / "django.po").read_text()
    return re.sub(r'"\n"', "", text)


def _unescape(msgid: str) -> str:
    return msgid.replace('\\"', '"').replace("\\\\", "\\")


def test_the_compiled_catalogue_is_the_repository_one():
    """make install compiled locale/ (the .mo is not in git): every entry is served."""
    from django.utils import translation

    with translation.override("es"):
        for msgid, spanish in catalogue().items():
            if "\0" not in spanish:
                assert translation.gettext(msgid) == spanish


def test_every_method_a_patient_ticks_has_words_in_both_languages():
    from django.utils import translation

    for code in ContraceptionMethod.values:
        with translation.override("en"):
            english = self_service.method_words(code)
        with translation.override("es"):
            spanish = self_service.method_words(code)
        # English readers see the labels they always saw; Spanish readers their own words.
        assert english == ContraceptionMethod(code).label
        assert spanish and spanish != english


# Emails -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ReminderKind.values)
def test_a_spanish_reader_gets_the_whole_email_in_spanish(clinic, staff, contact, kind):
    with time_machine.travel(NOW, tick=False):
        en, es = twins(clinic, staff)
        english, spanish = sent(en, kind), sent(es, kind)
    assert spanish.subject == "Clinic A: acción necesaria a más tardar el 6 de mayo de 2027"
    # The check below finds English where there is some.
    assert english_in(english.body) and english_in(english.alternatives[0][0])
    assert not CLINICAL.search(spanish.subject.replace("Clinic A", ""))
    spanish_html = spanish.alternatives[0][0]
    keep = ("Clinic A", "Robin")
    for part, twin in (
        (spanish.body, english.body),
        (spanish_html, english.alternatives[0][0]),
        (spanish.subject, english.subject),
    ):
        assert english_in(part, twin, keep) == []
        assert not ENGLISH_DATE_WORDS.search(plain(part))
    for part in (spanish.body, spanish_html):
        assert "jueves 6 de mayo de 2027" in plain(part)
        assert "555-0142" in part and "desk@example.org" in part
        assert "/p/" in part and "/p/unsubscribe/" in part
    assert plain(spanish.body).startswith("Hola, Robin:")
    assert '<html lang="es">' in spanish_html
    assert "El enlace funciona durante 14 días" in plain(spanish_html)
    # The headers that make the email work stay as they were.
    assert spanish.extra_headers["List-Unsubscribe"].startswith("<http")
    assert spanish.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_an_english_readers_email_is_unchanged(clinic, staff, contact):
    with time_machine.travel(NOW, tick=False):
        patient = enroll(clinic, by=staff, given_name="Robin")
        message = sent(patient, "monthly_test")
        links = emails.patient_links(patient)
    assert message.subject == "Clinic A: action needed by May 6, 2027"
    assert message.body == (
        "Hello Robin,\n\n"
        "Please have your monthly pregnancy test by Thursday, May 6, 2027.\n\n\n"
        "Open your page to see what the clinic needs from you and to tell us when it is done:\n"
        f"{links['page_url']}\n"
        "(The link works for 14 days.)\n\n"
        "Questions? Contact Clinic A at 555-0142, desk@example.org.\n\n"
        "--\n"
        "You receive this email because you are enrolled for treatment at Clinic A.\n"
        f"Stop these emails: {links['unsubscribe_url']}\n\n"
    )
    page_url = html.escape(links["page_url"])
    assert message.alternatives[0][0] == (
        "<!doctype html>\n"
        '<html lang="en">\n'
        '<body style="font-family: sans-serif; line-height: 1.5; max-width: 36em;">\n'
        "<p>Hello Robin,</p>\n"
        "<p><strong>Please have your monthly pregnancy test by Thursday, May 6, 2027.\n"
        "</strong></p>\n"
        f'<p><a href="{page_url}">Open your page</a> to see what the clinic needs from you and '
        "to tell us when it is done. The link works for 14 days.</p>\n"
        "<p>Questions? Contact Clinic A at 555-0142, "
        '<a href="mailto:desk@example.org">desk@example.org</a>.</p>\n'
        "<hr>\n"
        '<p style="font-size: small; color: #555;">You receive this email because you are '
        "enrolled for treatment at Clinic A. "
        f'<a href="{html.escape(links["unsubscribe_url"])}">Stop these emails</a>.</p>\n'
        "</body>\n"
        "</html>\n"
    )


def test_the_email_follows_a_change_of_language(clinic, staff):
    with time_machine.travel(NOW, tick=False):
        patient = enroll(clinic, by=staff)
        reminder = reminder_for(patient, "visit")
        assert emails.reminder_email(reminder).subject.endswith("action needed by May 6, 2027")
        Patient.objects.filter(pk=patient.pk).update(preferred_language="es")
        reminder.refresh_from_db()
        message = emails.reminder_email(Reminder.objects.get(pk=reminder.pk))
    assert message.subject.endswith("acción necesaria a más tardar el 6 de mayo de 2027")
    assert "Por favor, venga a su cita en la clínica" in message.body


def test_the_staff_digest_stays_english_beside_spanish_patients(clinic, staff):
    from monitoring.reminders import digest

    enroll(clinic, by=staff, preferred_language="es")
    assert digest.send_digest(clinic, force=True)
    [message] = mail.outbox
    assert [p for p in _spanish_phrases() if p in plain(message.body)] == []


def _spanish_phrases() -> set[str]:
    return {
        " ".join(part.split())
        for spanish in catalogue().values()
        for part in re.split(r"%\(\w+\)s|<[^>]+>|\0", spanish)
        if len(part.split()) >= 3 and "\\" not in part
    }


# The patient's page ------------------------------------------------------------------------------


def _get(client, url, status=200, **headers):
    response = client.get(url, **headers)
    assert response.status_code == status, response.content[:300]
    return response


def page_url(patient) -> str:
    return reverse("self_service:page", args=[signing.page_token(patient)])


# Every state the demo clinic shows (demo/seeding.py lists one of each gate state; the
# tests' own builders name only the states other tests need).
@pytest.mark.parametrize(
    ("name", "can", "enrolled", "build"), demo.SCENARIOS, ids=[s[0] for s in demo.SCENARIOS]
)
def test_every_state_of_the_page_reads_in_spanish(
    client, clinic, clinician, staff, contact, name, can, enrolled, build
):
    builder = demo.Builder(clinic, clinician, staff, clinic.today())
    fields = {"enrolled_on": builder.day(enrolled)}
    if not can:
        fields["risk_category"] = "cannot_get_pregnant"
    en, es = twins(clinic, staff, **fields)
    build(builder, en)
    build(builder, es)
    english = _get(client, page_url(en)).content.decode()
    response = _get(client, page_url(es))
    spanish = response.content.decode()
    assert english_in(spanish, english, keep=("Clinic A", "Robin")) == []
    assert english_in(english, spanish, keep=("Clinic A", "Robin"))
    assert not ENGLISH_DATE_WORDS.search(plain(spanish))
    # Every date the English page shows, the Spanish one shows too, the Spanish way.
    assert len(SPANISH_DATE.findall(plain(spanish))) == len(
        re.findall(r"\b[A-Z][a-z]+ \d{1,2}\b", plain(english))
    )
    assert '<html lang="es">' in spanish and response["Content-Language"] == "es"
    assert "Hola, Robin. Esta página muestra lo que la clínica necesita de usted." in plain(spanish)


def test_the_patients_messages_and_errors_are_in_spanish(client, clinic, clinician, staff):
    patient = enroll(clinic, by=staff, preferred_language="es")
    no_contraception(Builder(clinic, clinician, staff, clinic.today()), patient)
    token = signing.page_token(patient)
    refused = client.post(reverse("self_service:contraception", args=[token]), {})
    assert refused.status_code == 400
    assert "Marque los métodos que usa, o la abstinencia." in plain(refused.content.decode())
    assert english_in(refused.content.decode()) == []
    done = client.post(
        reverse("self_service:contraception", args=[token]),
        {"methods": ["iud", "male_condom"]},
        follow=True,
    )
    text = plain(done.content.decode())
    assert "Gracias: la clínica verá los métodos que usa." in text
    today = clinic.today()
    assert f"Listo: usted confirmó sus métodos anticonceptivos el {_es_day(today)}" in text
    assert "Dispositivo intrauterino (DIU)" in text and "Condón masculino" in text
    assert english_in(done.content.decode()) == []


def _es_day(day: dt.date) -> str:
    from django.utils import translation
    from django.utils.dateformat import format as date_format

    with translation.override("es"):
        return date_format(day, r"l j \d\e F")


def test_the_patient_switches_language_on_their_page(client, clinic, clinician, staff):
    patient = enroll(clinic, by=staff, given_name="Robin")
    ready_first_prescription(Builder(clinic, clinician, staff, clinic.today()), patient)
    url = reverse("self_service:language", args=[signing.page_token(patient)])
    before = plain(_get(client, page_url(patient)).content.decode())
    assert "Hello Robin." in before and "Español" in before
    updates = LogEntry.objects.get_for_object(patient).filter(action=LogEntry.Action.UPDATE)
    assert not updates.exists()

    response = client.post(url, {"language": "es"}, follow=True)
    text = plain(response.content.decode())
    assert "Sus correos, esta página y su calendario ahora están en español." in text
    assert "Hola, Robin." in text and english_in(response.content.decode()) == []
    patient.refresh_from_db()
    assert patient.preferred_language == "es"
    # The change is audited like any write to the patient.
    [change] = updates
    assert change.changes_dict["preferred_language"] == ["en", "es"]
    assert emails.reminder_email(reminder_for(patient, "visit")).subject.startswith(
        "Clinic A: acción necesaria"
    )

    back = client.post(url, {"language": "en"}, follow=True)
    assert "Your emails, this page and your calendar are now in English." in plain(
        back.content.decode()
    )
    patient.refresh_from_db()
    assert patient.preferred_language == "en"


@pytest.mark.parametrize("value", ["fr", "", "ES", "es-mx"])
def test_an_unknown_language_is_refused_and_nothing_changes(client, clinic, staff, value):
    patient = enroll(clinic, by=staff, preferred_language="es")
    url = reverse("self_service:language", args=[signing.page_token(patient)])
    response = client.post(url, {"language": value})
    assert response.status_code == 400
    assert 'id="language-switch"' in response.content.decode()
    assert "alert-danger" in response.content.decode()
    patient.refresh_from_db()
    assert patient.preferred_language == "es"


def test_the_switch_needs_a_good_link(client, clinic, staff):
    patient = enroll(clinic, by=staff)
    token = signing.page_token(patient)
    bad = client.post(
        reverse("self_service:language", args=[token[:-2] + "xx"]), {"language": "es"}
    )
    assert bad.status_code == 404
    with time_machine.travel(dt.datetime.now(tz=UTC) + dt.timedelta(days=30)):
        late = client.post(reverse("self_service:language", args=[token]), {"language": "es"})
    assert late.status_code == 410
    patient.refresh_from_db()
    assert patient.preferred_language == "en"


def test_expired_and_broken_links_speak_the_patients_language(client, clinic, staff):
    patient = enroll(clinic, by=staff, preferred_language="es")
    token = signing.page_token(patient)
    with time_machine.travel(dt.datetime.now(tz=UTC) + dt.timedelta(days=30)):
        expired = _get(client, reverse("self_service:page", args=[token]), status=410)
    assert "Este enlace ya venció" in plain(expired.content.decode())
    assert english_in(expired.content.decode()) == []
    broken = reverse("self_service:page", args=["nonsense"])
    by_browser = _get(client, broken, status=404, HTTP_ACCEPT_LANGUAGE="es-MX,es;q=0.9")
    assert "Este enlace no funciona" in plain(by_browser.content.decode())
    assert "This link does not work" in plain(_get(client, broken, status=404).content.decode())


def test_the_unsubscribe_pages_are_in_spanish(client, clinic, staff, contact):
    patient = enroll(clinic, by=staff, preferred_language="es")
    url = reverse("self_service:unsubscribe", args=[signing.unsubscribe_token(patient)])
    ask = _get(client, url).content.decode()
    assert "¿Dejar de recibir los correos de recordatorio de Clinic A?" in plain(ask)
    assert english_in(ask) == []
    done = client.post(url).content.decode()
    assert "Ya no recibirá más correos de recordatorio" in plain(done)
    assert "Para volver a recibirlos, pídaselo a Clinic A (555-0142)." in plain(done)
    assert english_in(done) == []


def test_the_calendar_titles_are_in_spanish(client, clinic, staff, contact, in_treatment):
    en = in_treatment(given_name="Robin")
    es = in_treatment(given_name="Robin", preferred_language="es")

    def feed(patient):
        url = reverse("self_service:calendar", args=[signing.calendar_token(patient)])
        return re.sub(r"\r\n[ \t]", "", _get(client, url).content.decode())  # unfold lines

    english, spanish = feed(en), feed(es)
    assert "SUMMARY:Clinic A: appointment or task due" in english
    assert "SUMMARY:Clinic A: cita o trámite pendiente" in spanish
    assert "DESCRIPTION:Tiene algo pendiente en Clinic A. Contacto de Clinic A: 555-0142" in spanish
    assert "X-WR-CALNAME:Citas de Clinic A" in spanish
    assert english.count("BEGIN:VEVENT") == spanish.count("BEGIN:VEVENT") > 0
    assert english_in(spanish) == []
    assert not CLINICAL.search(
        " ".join(re.findall(r"^(?:SUMMARY|DESCRIPTION):(.*)$", spanish, re.M))
    )


# Enrollment and staff pages ----------------------------------------------------------------------


def _form(clinic, **fields):
    return {
        "mrn": "ES-1",
        "given_name": "Lucía",
        "family_name": "Prueba",
        "birth_date": "2001-03-04",
        "email": "lucia@example.org",
        "weight_kg": "58.0",
        "risk_category": "can_get_pregnant",
        "risk_category_reason": "Assessed at the first visit",
        "enrolled_on": clinic.today().isoformat(),
        **fields,
    }


def test_staff_choose_the_language_at_enrollment(client, clinic, staff):
    verified_login(client, staff)
    form = _get(client, reverse("patients:create")).content.decode()
    assert "Language of the patient&#x27;s emails and page" in form
    assert (
        client.post(reverse("patients:create"), _form(clinic, preferred_language="es")).status_code
        == 302
    )
    assert Patient.objects.get(mrn="ES-1").preferred_language == "es"
    # Left out, the patient reads English.
    assert client.post(reverse("patients:create"), _form(clinic, mrn="ES-2")).status_code == 302
    assert Patient.objects.get(mrn="ES-2").preferred_language == "en"
    refused = client.post(
        reverse("patients:create"), _form(clinic, mrn="ES-3", preferred_language="fr")
    )
    assert refused.status_code == 200 and not Patient.objects.filter(mrn="ES-3").exists()
    assert "Select a valid choice" in refused.content.decode()


def test_the_api_enrolls_with_a_language(clinic, staff):
    api = APIClient()
    api.force_authenticate(staff)
    body = {
        "mrn": "API-ES",
        "given_name": "Lucía",
        "family_name": "Prueba",
        "birth_date": "2001-03-04",
        "email": "lucia@example.org",
        "risk_category": "can_get_pregnant",
        "weight_kg": "58.0",
    }
    made = api.post("/api/v1/patients/", {**body, "preferred_language": "es"}, format="json")
    assert made.status_code == 201 and made.json()["preferred_language"] == "es"
    plain_made = api.post("/api/v1/patients/", {**body, "mrn": "API-EN"}, format="json")
    assert plain_made.json()["preferred_language"] == "en"
    refused = api.post(
        "/api/v1/patients/", {**body, "mrn": "API-FR", "preferred_language": "fr"}, format="json"
    )
    assert refused.status_code == 400 and "preferred_language" in refused.json()
    assert not Patient.objects.filter(mrn="API-FR").exists()


def test_staff_pages_stay_english_for_a_spanish_patient(client, clinic, clinician, staff):
    patient = enroll(clinic, by=staff, preferred_language="es")
    no_contraception(Builder(clinic, clinician, staff, clinic.today()), patient)
    verified_login(client, staff)
    for url in (patient.get_absolute_url(), reverse("monitoring:worklist")):
        page = _get(client, url).content.decode()
        assert '<html lang="en">' in page
        assert [p for p in _spanish_phrases() if p in plain(page)] == []
    assert "Confirm two forms of contraception with the patient." in plain(
        _get(client, patient.get_absolute_url()).content.decode()
    )
