"""A reminder email is rendered once per language, kind, due date and clinic and filled in per
patient (monitoring/reminders/emails.py): what a patient receives must be exactly what rendering
the templates for them gives, for every kind and language, every way a clinic lists its contact,
and names that are full of markup or look like the markers themselves."""

import datetime as dt

import pytest
import time_machine
from django.conf import settings
from django.utils import translation
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from clinic.models import Clinic
from monitoring.models import Reminder, ReminderKind
from monitoring.reminders import emails
from patients.models import Patient

CONTACTS = [
    ("555-0100", "desk@clinic.example"),
    ("555-0100", ""),
    ("", "desk@clinic.example"),
    ("", ""),
]
NOW = dt.datetime(2027, 5, 3, 16, 0, tzinfo=dt.UTC)
NAMES = ["Ana", "<b>Zoë</b> & \"Jo\" 'O'", "\x00given_name\x00", "{{ page_url }}", "Ñ" * 40]


@pytest.fixture(autouse=True)
def frozen():
    """The page links are signed with the time: both renderings must see the same second."""
    with time_machine.travel(NOW, tick=False):
        yield


def reminder_for(kind, language, contact, given_name, due_on=dt.date(2027, 5, 20)):
    phone, email = contact
    clinic = Clinic(pk=7, name="Derm & <Skin> Clinic", contact_phone=phone, contact_email=email)
    patient = Patient(
        pk=42,
        clinic=clinic,
        given_name=given_name,
        email="patient@example.org",
        preferred_language=language,
    )
    return Reminder(pk=99, patient=patient, kind=kind, due_on=due_on)


def rendered_directly(reminder) -> tuple[str, str, str]:
    """What the templates give with the patient's own values: the reference."""
    patient = reminder.patient
    links = emails.patient_links(patient)
    context = {
        "clinic": patient.clinic,
        "clinic_name": emails.clean_header(patient.clinic.name),
        "given_name": patient.given_name,
        "due_on": reminder.due_on,
        "action_template": f"emails/actions/{reminder.kind}.txt",
        **links,
    }
    with translation.override(patient.preferred_language):
        subject, text, html = emails._render("reminder", context)
    return emails.clean_header(subject), text, html


def sent(reminder) -> tuple[str, str, str]:
    # A prescription waits at the pharmacy: the window's reminder reads as its own template
    # (tests/reminders/test_pickup_wording.py covers the other wording).
    message = emails.reminder_email(reminder, prescribed=True)
    [(html, mimetype)] = message.alternatives
    assert mimetype == "text/html"
    return message.subject, message.body, html


@pytest.mark.parametrize("kind", ReminderKind.values)
@pytest.mark.parametrize("language", [code for code, _ in settings.LANGUAGES])
@pytest.mark.parametrize("contact", CONTACTS)
def test_every_kind_language_and_contact_reads_as_rendered_directly(kind, language, contact):
    for name in NAMES:
        reminder = reminder_for(kind, language, contact, name)
        assert sent(reminder) == rendered_directly(reminder)


def test_the_patients_values_are_escaped_in_html_only():
    reminder = reminder_for("visit", "en", CONTACTS[0], "<b>Zoë</b> & Jo")
    subject, text, html = sent(reminder)
    assert "Hello <b>Zoë</b> & Jo," in text
    assert "Hello &lt;b&gt;Zoë&lt;/b&gt; &amp; Jo," in html
    assert "<b>Zoë</b>" not in html
    assert "\x00" not in text + html + subject


def test_a_clinic_field_that_looks_like_a_marker_stays_as_it_is():
    reminder = reminder_for("visit", "en", ("\x00given_name\x00", ""), "Ana")
    assert sent(reminder) == rendered_directly(reminder)


def test_a_clinic_edit_or_another_due_date_is_not_served_from_an_earlier_rendering():
    first = reminder_for("visit", "en", CONTACTS[0], "Ana")
    assert "555-0100" in sent(first)[1]
    moved = reminder_for("visit", "en", ("555-0199", ""), "Ana")
    assert "555-0199" in sent(moved)[1] and "555-0100" not in sent(moved)[1]
    later = reminder_for("visit", "en", CONTACTS[0], "Ana", due_on=dt.date(2027, 6, 1))
    assert "Jun 1, 2027" in sent(later)[0]
    assert sent(later) == rendered_directly(later)


def test_two_patients_of_one_clinic_each_get_their_own_name_and_links():
    ana = reminder_for("monthly_test", "es", CONTACTS[0], "Ana")
    bea = reminder_for("monthly_test", "es", CONTACTS[0], "Bea")
    bea.patient.pk = 43
    ana_text, bea_text = sent(ana)[1], sent(bea)[1]
    assert "Ana" in ana_text and "Bea" not in ana_text
    assert "Bea" in bea_text and "Ana" not in bea_text
    assert emails.patient_links(ana.patient)["page_url"] in ana_text
    assert emails.patient_links(bea.patient)["page_url"] in bea_text
    assert emails.patient_links(ana.patient)["page_url"] not in bea_text


@given(
    name=st.text(min_size=1, max_size=60),
    kind=st.sampled_from(ReminderKind.values),
    language=st.sampled_from([code for code, _ in settings.LANGUAGES]),
    contact=st.sampled_from(CONTACTS),
    days=st.integers(min_value=0, max_value=400),
)
@hypothesis_settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_any_name_reads_as_rendered_directly(name, kind, language, contact, days):
    # Not the autouse fixture: hypothesis runs every example inside one call of the test.
    due_on = dt.date(2027, 1, 1) + dt.timedelta(days=days)
    reminder = reminder_for(kind, language, contact, name, due_on=due_on)
    with time_machine.travel(NOW, tick=False):
        assert sent(reminder) == rendered_directly(reminder)
