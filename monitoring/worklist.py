"""Today's worklist: who needs what, computed from the rules engine for a whole clinic at once.

Every row comes from `rules.status` (blockers, window, due list); nothing here re-derives a rule,
it only sorts the engine's answers into the lists a front desk works through. The whole clinic is
read with `load_histories`, so the page costs the same number of queries for 10 patients or
10,000.
"""

import csv
import datetime
import io
from dataclasses import dataclass

from django.db.models import OuterRef, Q, Subquery

from patients.models import Patient

from . import rules
from .history import load_histories
from .labels import due_label
from .models import Course

# A course that ended this long ago has nothing left to follow (retreatment is allowed at
# LD + 56); leaving such patients out keeps the worklist from reading every patient ever seen.
FOLLOW_UP_DAYS_AFTER_LAST_DOSE = 120
WEEK_DAYS = 7

CLOSING, BLOCKED, DUE, OVERDUE, POST_TREATMENT, MOOD = (
    "closing",
    "blocked",
    "due",
    "overdue",
    "post_treatment",
    "mood",
)
SECTIONS = {
    CLOSING: "Prescription windows closing",
    BLOCKED: "Blocked: cannot be prescribed today",
    DUE: "Tests, visits and labs due this week",
    OVERDUE: "Overdue",
    POST_TREATMENT: "Post-treatment follow-up",
    MOOD: "Mood reviews waiting",
}

# Due codes that ask someone to do something (the others are dates to tell the patient).
ACTION_DUE = {
    "monthly_test_due": "Book the monthly pregnancy test.",
    "visit_due": "Book the monthly visit.",
    "followup_labs_due": "Order the follow-up labs.",
    "end_of_treatment_test_due": "Collect the end-of-treatment pregnancy test.",
    "post_treatment_test_due": "Collect the post-treatment pregnancy test.",
}
# An earliest date, not a deadline: it belongs in "this week" but is never overdue.
EARLIEST_DUE = {"confirmation_test_earliest": "The confirmation test can be collected from then."}
POST_TREATMENT_DUE = (
    "end_of_treatment_test_due",
    "post_treatment_test_due",
    "contraception_may_stop",
    "blood_donation_allowed",
    "retreatment_earliest",
)

NEXT_STEP = {
    "consent_missing": "Have the patient sign the missing consent.",
    "baseline_labs_missing": "Draw the baseline labs (triglycerides, cholesterol, ALT).",
    "visit_missing": "Book a visit with the clinician.",
    "counseling_unconfirmed": "The clinician confirms counseling at a visit.",
    "mood_screen_incomplete": "Complete the PHQ-9 (PHQ-2 was 3 or more).",
    "mood_review_required": "A clinician reviews the mood screen (PHQ-9 item 9).",
    "pregnancy_test_positive": "Clinician: contact the patient about the positive test.",
    "course_ended": "Course ended: follow the post-treatment list.",
    "screening_test_missing": "Collect the screening pregnancy test in a medical setting.",
    "confirmation_test_missing": "Collect the confirmation pregnancy test.",
    "confirmation_test_too_early": "Repeat the confirmation test on or after the earliest date.",
    "pregnancy_test_missing": "Collect this month's pregnancy test.",
    "test_setting_not_allowed": "Repeat the pregnancy test in an allowed setting.",
    "lockout_active": "Wait for the lockout to end, then repeat the test.",
    "contraception_unconfirmed": "Confirm two forms of contraception with the patient.",
    "contraception_mismatch": "Re-confirm contraception: the patient's answer differs.",
    "comprehension_incomplete": "Ask the patient to finish the monthly iPLEDGE questions.",
}


@dataclass(frozen=True)
class Row:
    patient: Patient
    section: str
    on: datetime.date | None
    days: int | None  # on - today: negative when overdue
    what: str
    next_step: str
    code: str = ""
    visit_id: int | None = None  # the flagged visit, for the mood review link

    @property
    def days_overdue(self) -> int:
        return -self.days if self.days is not None and self.days < 0 else 0


def active_patients(clinic, today: datetime.date, *, category: str | None = None):
    """The clinic's patients still in care, one query, with the clinic the rules need."""
    latest_course = Course.objects.filter(patient=OuterRef("pk")).order_by("-opened_on", "-id")
    cutoff = today - datetime.timedelta(days=FOLLOW_UP_DAYS_AFTER_LAST_DOSE)
    patients = (
        Patient.objects.filter(clinic=clinic)
        .annotate(latest_last_dose_on=Subquery(latest_course.values("last_dose_on")[:1]))
        .filter(Q(latest_last_dose_on__isnull=True) | Q(latest_last_dose_on__gte=cutoff))
        .select_related("clinic")
    )
    if category:
        patients = patients.filter(risk_category=category)
    return patients


def build(patients, today: datetime.date, *, with_mood: bool = True) -> dict[str, list[Row]]:
    """Every section's rows, each sorted the way it is worked through."""
    patients = list(patients)
    histories = load_histories(patients)
    sections: dict[str, list[Row]] = {key: [] for key in SECTIONS}
    for patient in patients:
        _course, history = histories[patient.pk]
        status = rules.status(history, today)
        for row in _rows(patient, history, status, today):
            sections[row.section].append(row)
    if not with_mood:
        del sections[MOOD]
    name = _by_name
    sections[CLOSING].sort(key=lambda r: (r.on, name(r)))
    sections[BLOCKED].sort(key=name)
    sections[DUE].sort(key=lambda r: (r.on, name(r)))
    sections[OVERDUE].sort(key=lambda r: (-r.days_overdue, name(r)))
    sections[POST_TREATMENT].sort(key=lambda r: (r.on or datetime.date.max, name(r)))
    if MOOD in sections:
        sections[MOOD].sort(key=lambda r: (r.on or datetime.date.min, name(r)))
    return sections


def _by_name(row: Row) -> tuple:
    return (row.patient.family_name.lower(), row.patient.given_name.lower(), row.patient.pk)


def _rows(patient, history: rules.History, status: rules.Status, today: datetime.date):
    def row(section, on, what, next_step, code="", **extra):
        days = (on - today).days if on else None
        return Row(patient, section, on, days, what, next_step, code, **extra)

    ended = history.last_dose_on is not None and history.last_dose_on <= today
    blockers = status.blockers
    if status.window:
        closes = status.window.closes_on
        if any(
            p.dispensed_on is None and p.written_on >= status.window.opens_on
            for p in history.prescriptions
        ):
            step = f"Prescription written: the pharmacy must dispense by {closes:%a %d %b}."
        elif status.can_prescribe:
            step = f"Write the prescription; it must be dispensed by {closes:%a %d %b}."
        else:
            step = f"First: {blockers[0].message} Then prescribe by {closes:%a %d %b}."
        yield row(CLOSING, closes, "Prescription window closes", step, "window_closes")
    if blockers and not ended:
        first = blockers[0]
        yield row(BLOCKED, first.until, first.message, NEXT_STEP.get(first.code, ""), first.code)
    for blocker in blockers:
        if blocker.code == "mood_review_required":
            # One row per visit waiting, oldest first, each linking to its own review.
            for visit in rules.awaiting_mood_review(history, today):
                yield row(
                    MOOD,
                    visit.visited_on,
                    f"A clinician must review the mood screen from the visit on "
                    f"{visit.visited_on:%d %b %Y}.",
                    NEXT_STEP["mood_review_required"],
                    blocker.code,
                    visit_id=visit.id,
                )
    for due in status.due:
        steps = {**ACTION_DUE, **EARLIEST_DUE}
        if due.code in steps and 0 <= (due.due_on - today).days < WEEK_DAYS:
            yield row(DUE, due.due_on, due_label(due.code), steps[due.code], due.code)
        elif due.code in ACTION_DUE and due.due_on < today:
            yield row(OVERDUE, due.due_on, due_label(due.code), ACTION_DUE[due.code], due.code)
    if ended:
        post = _post_treatment_row(status, today)
        if post:
            yield row(POST_TREATMENT, *post)


def _post_treatment_row(status: rules.Status, today: datetime.date):
    """(date, what, next step, code) of an ended course with something still to come."""
    dues = [d for d in status.due if d.code in POST_TREATMENT_DUE]
    tests = [d for d in dues if d.code in ACTION_DUE]
    upcoming = [d for d in dues if d.due_on >= today]
    if not tests and not upcoming:
        return None
    what = "; ".join(f"{due_label(d.code)}: {d.due_on:%d %b %Y}" for d in dues)
    if tests:
        first = min(tests, key=lambda d: d.due_on)
        return first.due_on, what, ACTION_DUE[first.code], first.code
    first = min(upcoming, key=lambda d: d.due_on)
    return first.due_on, what, f"Nothing to do; tell the patient: {due_label(first.code)}.", ""


# Spreadsheet programs run a cell that begins with one of these as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def when(row: Row) -> str:
    if row.days is None:
        return ""
    if row.days < 0:
        return f"{-row.days} days overdue"
    return "today" if row.days == 0 else f"in {row.days} days"


CSV_HEADER = ("List", "Patient", "MRN", "Risk category", "Date", "When", "What", "Next step")


def to_csv(sections: dict[str, list[Row]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_HEADER)
    for key, rows in sections.items():
        for r in rows:
            writer.writerow(
                safe_cell(value)
                for value in (
                    SECTIONS[key],
                    r.patient.full_name,
                    r.patient.mrn,
                    r.patient.get_risk_category_display(),
                    r.on.isoformat() if r.on else "",
                    when(r),
                    r.what,
                    r.next_step,
                )
            )
    return out.getvalue()
