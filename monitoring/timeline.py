"""The course as one list in date order, with the pick-up windows the engine opened on it.

The records come from `history.load_records` (already on the patient page, no extra query); the
windows come from `rules.window`, asked on each test and visit date, so this module never
decides what a window is.
"""

import datetime
from dataclasses import dataclass

from django.template.defaultfilters import pluralize

import rules
from clinic import dates

from .chart import KIND_COLOURS
from .history import Records


@dataclass(frozen=True)
class Event:
    on: datetime.date
    kind: str
    label: str
    detail: str = ""
    alert: bool = False


@dataclass(frozen=True)
class WindowBand:
    opens_on: datetime.date
    closes_on: datetime.date
    state: str  # used, missed or open

    @property
    def label(self) -> str:
        words = {"used": "used", "missed": "closed with nothing dispensed", "open": "open"}
        return (
            f"Pick-up window {dates.month_day(self.opens_on)} – {dates.day(self.closes_on)}: "
            + words[self.state]
        )

    def holds(self, day: datetime.date) -> bool:
        return self.opens_on <= day <= self.closes_on


def _test_event(test) -> Event:
    label = f"{test.get_kind_display()} pregnancy test: {test.get_result_display().lower()}"
    detail = f"{test.get_setting_display()} · {test.get_method_display()}"
    if test.superseded_on:
        detail += f" · superseded {dates.day(test.superseded_on)}"
    return Event(test.collected_on, "test", label, detail, alert=test.result == "positive")


def _visit_events(visit):
    effects = ", ".join(
        f"{code.replace('_', ' ')} ({severity})" for code, severity in visit.side_effects.items()
    )
    phq = f"PHQ-2 {visit.phq2}" + (f", PHQ-9 {visit.phq9}" if visit.phq9 is not None else "")
    detail = " · ".join(
        part
        for part in (
            f"{visit.weight_kg} kg" if visit.weight_kg else "",
            phq,
            "counseling confirmed" if visit.counseling_confirmed else "",
            f"side effects: {effects}" if effects else "",
        )
        if part
    )
    alert = bool(visit.phq9_item9)
    label = "Visit" + (f" — PHQ-9 item 9 = {visit.phq9_item9}" if alert else "")
    yield Event(visit.visited_on, "visit", label, detail, alert=alert)
    for review in visit.mood_reviews.all():
        yield Event(review.reviewed_on, "mood_review", "Mood review by a clinician", review.note)


def _confirmed_by(confirmation) -> str:
    """Who confirmed: the patient (emailed link), or the named member of staff or clinician.
    `history.load_records` reads the users with the confirmations: no query here."""
    if confirmation.source == "patient":
        return "the patient"
    user = confirmation.recorded_by if confirmation.recorded_by_id else None
    return (user.get_full_name() or user.get_username()) if user else "staff"


def course_events(records: Records) -> list[Event]:
    """Every record of the current course, oldest first."""
    events = [
        Event(c.signed_on, "consent", f"Consent signed: {c.get_kind_display()}")
        for c in records.consents
    ]
    events += [
        Event(
            c.confirmed_on,
            "contraception",
            f"Contraception confirmed by {_confirmed_by(c)}",
            "Abstinence" if c.abstinence else ", ".join(c.method_labels()),
        )
        for c in records.contraception
    ]
    events += [_test_event(t) for t in records.tests]
    events += [
        Event(lab.collected_on, "lab", f"Lab: {lab.get_kind_display()}", f"{lab.value} {lab.unit}")
        for lab in records.labs
    ]
    for visit in records.visits:
        events += list(_visit_events(visit))
    for p in records.prescriptions:
        events.append(
            Event(
                p.written_on,
                "prescription",
                "Prescription written",
                f"{p.daily_dose_mg} mg/day for {p.days_supply} day{pluralize(p.days_supply)}",
            )
        )
        if p.dispensed_on:
            events.append(Event(p.dispensed_on, "dispense", "Dispensed", f"RMA {p.rma_number}"))
    events += [
        Event(r.reported_on, "comprehension", "Patient reported the monthly questions done")
        for r in records.reports
    ]
    if records.course.last_dose_on:
        events.append(Event(records.course.last_dose_on, "end", "Treatment ended (last dose)"))
    order = list(KIND_ORDER)
    return sorted(events, key=lambda e: (e.on, order.index(e.kind)))


# The words for each colour of the course strip (monitoring/chart.py draws one tick per event).
KIND_LABELS = {
    "consent": "Consent",
    "lab": "Lab",
    "contraception": "Contraception",
    "test": "Pregnancy test",
    "comprehension": "Monthly questions",
    "visit": "Visit",
    "mood_review": "Mood review",
    "prescription": "Prescription",
    "dispense": "Dispense",
    "end": "End of treatment",
}


def legend(events) -> list[tuple[str, str, str]]:
    """(kind, label, colour) for each kind of event on the strip, in the strip's order."""
    kinds = {event.kind for event in events}
    return [(k, KIND_LABELS[k], KIND_COLOURS.get(k, "#000")) for k in KIND_ORDER if k in kinds]


KIND_ORDER = (
    "consent",
    "lab",
    "contraception",
    "test",
    "comprehension",
    "visit",
    "mood_review",
    "prescription",
    "dispense",
    "end",
)


def course_windows(history: rules.History, today: datetime.date) -> list[WindowBand]:
    """The windows the engine opened on test and visit dates, and whether each was used."""
    days = sorted(
        {t.collected_on for t in history.pregnancy_tests} | {v.visited_on for v in history.visits}
    )
    found = []
    for day in days:
        if day > today:
            continue
        window = rules.window(history, day)
        if window and all(w.opens_on != window.opens_on for w in found):
            found.append(window)
    dispensed = [p.dispensed_on for p in history.prescriptions if p.dispensed_on]
    bands = []
    for window in found:
        if any(window.opens_on <= d <= window.closes_on for d in dispensed):
            state = "used"
        elif window.closes_on < today:
            state = "missed"
        else:
            state = "open"
        bands.append(WindowBand(window.opens_on, window.closes_on, state))
    return bands
