"""A patient's private calendar feed: upcoming due dates as all-day events.

Titles say only that something is due at the clinic: a calendar is often shared or shown on a
lock screen, so no clinical word appears in it. Events name the clinic and its contact only:
the feed's link never expires, so it carries no link to the patient's page (whose links do).
"""

import datetime as dt

from django.utils import translation
from django.utils.translation import gettext as _
from icalendar import Calendar, Event

import rules
from monitoring import codes
from monitoring.history import load_history

from .emails import clean_header

# The engine's due codes a patient acts on, and the pick-up window's last day (the registry).
FEED_CODES = codes.CALENDAR_CODES


def upcoming(status: rules.Status, today: dt.date) -> list[rules.Due]:
    return sorted(
        (d for d in status.due if d.code in FEED_CODES and d.due_on >= today),
        key=lambda d: (d.due_on, d.code),
    )


def feed(patient, *, now: dt.datetime, domain: str) -> bytes:
    """The feed's words come in the patient's language."""
    with translation.override(patient.preferred_language):
        return _feed(patient, now=now, domain=domain)


def _feed(patient, *, now: dt.datetime, domain: str) -> bytes:
    clinic = patient.clinic
    today = clinic.today(now)
    status = rules.status(load_history(patient)[1], today)
    clinic_name = clean_header(clinic.name)
    calendar = Calendar()
    calendar.add("prodid", "-//iPLEDGE clinic//reminders//EN")
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", _("%(clinic)s appointments") % {"clinic": clinic_name})
    # No link to the patient's page: the feed never expires, page links must (a link
    # minted here would outlive REMINDER_LINK_MAX_AGE_DAYS in every subscribed calendar).
    contact = clean_header(clinic.contact_phone or clinic.contact_email)
    for item in upcoming(status, today):
        event = Event()
        event.add("uid", f"{item.code}-{patient.pk}-{item.due_on:%Y%m%d}@{domain}")
        event.add("dtstamp", now)
        event.add("dtstart", item.due_on)
        event.add("dtend", item.due_on + dt.timedelta(days=1))
        event.add("summary", _("%(clinic)s: appointment or task due") % {"clinic": clinic_name})
        description = _("Something is due at %(clinic)s.") % {"clinic": clinic_name}
        if contact:
            description += " " + _("Contact %(clinic)s: %(contact)s") % {
                "clinic": clinic_name,
                "contact": contact,
            }
        event.add("description", description)
        event.add("transp", "TRANSPARENT")
        calendar.add_component(event)
    return calendar.to_ical()
