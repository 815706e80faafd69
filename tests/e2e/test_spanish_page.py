"""A patient who reads Spanish follows the link in her Spanish reminder, confirms her methods on
her page in Spanish, and can switch the page to English and back (axe-core on each page). With
SCREENSHOTS=1 (`make screenshots`) it writes docs/screenshots/self-service-es.png."""

import datetime
import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from monitoring.models import Reminder, ReminderKind
from monitoring.reminders import emails
from tests.builders import Builder
from tests.factories import ClinicFactory, enroll, member

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def clinic(db):
    return ClinicFactory(
        name="Riverside Dermatology", contact_phone="555-0100", contact_email="desk@example.org"
    )


def test_a_spanish_reader_uses_her_page_in_spanish(page, look, live_server, settings, clinic):
    settings.SITE_URL = live_server.url
    staff = member(clinic, "staff", username="sam.rivera")
    clinician = member(clinic, "clinician", username="dr.okafor")
    b = Builder(clinic, clinician, staff, clinic.today())
    # Invented: her monthly questions and her two forms of birth control are still to do.
    lucia = enroll(
        clinic,
        by=staff,
        mrn="RD-ES-1",
        given_name="Lucía",
        family_name="Ramírez",
        email="lucia.ramirez@example.org",
        preferred_language="es",
        enrolled_on=b.day(-45),
    )
    b.baseline(lucia, on=-10, can=True)
    b.test(lucia, "screening", -30)
    b.test(lucia, "confirmation", -1)
    b.visit(lucia, -1, comprehension=False)
    reminder = Reminder.objects.create(
        patient=lucia,
        kind=ReminderKind.CONTRACEPTION_CONFIRM,
        due_on=b.day(5),
        send_at=datetime.datetime.now(datetime.UTC),
    )
    emails.reminder_email(reminder).send()
    [message] = mail.outbox
    assert message.subject.startswith("Riverside Dermatology: acción necesaria a más tardar el")

    page.goto(re.search(r"https?://\S+/p/[^/\s]+/", message.body).group(0))
    main = page.locator("main")
    expect(page.locator("html")).to_have_attribute("lang", "es")
    expect(main).to_contain_text("Hola, Lucía.")
    expect(main).to_contain_text("Confirme sus dos métodos anticonceptivos.")
    expect(main).to_contain_text("Responda las preguntas de iPLEDGE de este mes")
    expect(page.get_by_role("button", name="Español")).to_have_attribute("aria-pressed", "true")
    look(page, "self-service-es")

    page.get_by_label("Dispositivo intrauterino (DIU)").check()
    page.get_by_label("Condón masculino").check()
    page.get_by_role("button", name="Confirmar mis métodos").click()
    expect(page.get_by_text("Gracias: la clínica verá los métodos que usa.")).to_be_visible()
    expect(main).to_contain_text("Listo: usted confirmó sus métodos anticonceptivos el")
    expect(main).not_to_contain_text("Confirme sus dos métodos anticonceptivos.")
    look(page)

    page.get_by_role("button", name="English").click()
    expect(
        page.get_by_text("Your emails, this page and your calendar are now in English.")
    ).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(main).to_contain_text("Done: you confirmed your birth control on")
    look(page)
    page.get_by_role("button", name="Español").click()
    expect(
        page.get_by_text("Sus correos, esta página y su calendario ahora están en español.")
    ).to_be_visible()
    lucia.refresh_from_db()
    assert lucia.preferred_language == "es"
