"""The one registry of the engine's codes: every blocker, due item and triage group, in words.

Pages, the CSV, emails, the calendar feed, the self-service page and the reminder planner read
these entries; none keeps a map of its own. A code of the engine without an entry here fails
`tests/monitoring/test_codes.py`. See docs/clinic-day.md for how triage uses them.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from urllib.parse import urlencode

from django.urls import reverse
from django.utils.translation import gettext_lazy as _

import rules
from clinic.roles import Action, Role, role_may

from .models import ReminderKind

# Who reads a next step: clinicians may prescribe; everyone else asks them to.
CLINICIAN = "clinician"
STAFF = "staff"


@dataclass(frozen=True)
class Act:
    """The form that resolves a code: a button on Today and on the patient page that opens it
    prefilled for the patient (and `query`, e.g. the kind of test), returning where it came from.
    Shown only to a role allowed `needs`; the form's view checks it again."""

    label: str
    url_name: str  # reversed with the patient's id
    needs: Action
    query: str = ""


# The forms, one each; a code names the one that resolves it.
CONSENT = Act("Record consent", "patients:consent_create", Action.RECORD_CHECKS)
LABS = Act("Record lab result", "monitoring:lab_create", Action.RECORD_CHECKS)
VISIT = Act("Open visit checklist", "monitoring:visit_create", Action.RECORD_VISIT)
CONTRACEPTION = Act("Confirm contraception", "patients:contraception_create", Action.RECORD_CHECKS)
PRESCRIBE = Act("Write prescription", "monitoring:prescription_create", Action.WRITE_PRESCRIPTION)
SHEET = Act("Open the entry sheet", "monitoring:ipledge_sheet", Action.RECORD_CHECKS)
PICKUP = Act("Record the pick-up", "monitoring:dispense_pending", Action.RECORD_CHECKS)


def _test(kind: str, label: str) -> Act:
    return Act(label, "patients:test_create", Action.RECORD_CHECKS, f"kind={kind}")


TEST = Act("Record pregnancy test", "patients:test_create", Action.RECORD_CHECKS)


@dataclass(frozen=True)
class Code:
    code: str
    label: str
    # What the clinic does next, in the words of the one who does it.
    staff_step: str = ""
    clinician_step: str = ""
    # What it asks of the patient on the self-service page; "" = the clinic must act. The
    # patient's words are marked for translation (locale/): the page is in the patient's language.
    patient_step: str = ""
    # Why the clinic needs to talk with the patient, in plain words without clinical detail,
    # where the patient has nothing to do themselves.
    patient_talk: str = ""
    # A date someone can miss (shown as overdue once past); an earliest date is not one.
    deadline: bool = False
    # The reminder a patient gets for it, and how many days before its date (None: at once).
    reminder_kind: str | None = None
    reminder_days_before: int | None = None
    # Shown on the patient's calendar feed (titles there never name the clinical item).
    in_calendar: bool = False
    # A triage group's badge colour (Bootstrap), the same on Today, the list and the banner.
    tone: str = "text-bg-primary"
    # The form that resolves it (None: nothing to record, e.g. wait or tell a clinician).
    action: Act | None = None
    # What the pages do differently for it, so no template compares a code as a string:
    # a triage group to act on today (Today draws its card red, with a warning sign);
    alarm: bool = False
    # a triage group with nothing for the clinic to do (Today counts it without a link; the
    # patient page's banner has no "Today:" line);
    quiet: bool = False
    # the group with nothing due within the horizon (the banner says "On track until"; the
    # patient page leaves out the iPLEDGE summary and the Write prescription button);
    all_clear: bool = False
    # a step the patient page offers in a place of its own (the Write prescription button, the
    # iPLEDGE summary): the banner adds no button for it;
    banner_button: bool = True
    # a blocker saying the patient reported thoughts of self-harm (the page opens with an alert);
    self_harm: bool = False
    # a blocker saying the course is over (the panel says so instead of listing the blockers).
    ends_course: bool = False

    def step_for(self, role: str) -> str:
        return self.clinician_step if role == CLINICIAN else self.staff_step


def _blocker(code, label, staff, clinician="", patient="", **extra) -> Code:
    return Code(code, label, staff, clinician or staff, patient, **extra)


ASK_PRESCRIBER = "Ask the prescriber to write the prescription."
QUIET = "text-bg-light border text-dark"

BLOCKERS = {
    entry.code: entry
    for entry in (
        _blocker(
            "consent_missing",
            "Consent not signed",
            "Have the patient sign the missing consent.",
            patient=_("Sign the consent forms with the clinic."),
            action=CONSENT,
        ),
        _blocker(
            "baseline_labs_missing",
            "Baseline labs missing",
            "Draw the baseline labs (triglycerides, cholesterol, ALT).",
            patient=_("Have your blood tests."),
            action=LABS,
        ),
        _blocker(
            "visit_missing",
            "No visit this cycle",
            "Book a visit with the clinician.",
            "See the patient for this month's visit.",
            patient=_("Come to a clinic visit."),
            action=VISIT,
        ),
        _blocker(
            "counseling_unconfirmed",
            "Counseling not confirmed",
            "Book a visit: the clinician confirms counseling.",
            "Confirm counseling at a visit.",
            patient_talk=_("Your prescriber needs to go over the program with you at a visit."),
            action=VISIT,
        ),
        _blocker(
            "mood_screen_incomplete",
            "PHQ-9 missing",
            "Have the patient complete the PHQ-9 (PHQ-2 was 3 or more).",
            "Complete the PHQ-9 with the patient (PHQ-2 was 3 or more).",
            action=VISIT,
        ),
        _blocker(
            "mood_review_required",
            "Mood review waiting",
            "Tell a clinician today: a mood screen (PHQ-9 item 9) awaits review.",
            "Review the mood screen (PHQ-9 item 9) and record the review.",
            self_harm=True,
        ),
        _blocker(
            "pregnancy_test_positive",
            "Positive pregnancy test",
            "Tell a clinician today: a positive pregnancy test needs them.",
            "Contact the patient about the positive test; supersede it only with a reason.",
        ),
        _blocker(
            "course_ended",
            "Course ended",
            "Follow the post-treatment list.",
            ends_course=True,
        ),
        _blocker(
            "screening_test_missing",
            "Screening test missing",
            "Collect the screening pregnancy test in a medical setting.",
            patient=_("Have your pregnancy test at the clinic or a lab."),
            action=_test("screening", "Record screening test"),
        ),
        _blocker(
            "confirmation_test_missing",
            "Confirmation test missing",
            "Collect the confirmation pregnancy test.",
            patient=_("Have your pregnancy test at the clinic or a lab."),
            action=_test("confirmation", "Record confirmation test"),
        ),
        _blocker(
            "confirmation_test_too_early",
            "Confirmation test too early",
            "Repeat the confirmation test on or after the earliest date.",
            patient=_("Have your pregnancy test again on the date the clinic gives you."),
            action=_test("confirmation", "Record confirmation test"),
        ),
        _blocker(
            "pregnancy_test_missing",
            "Pregnancy test missing",
            "Collect this month's pregnancy test.",
            patient=_("Have your pregnancy test."),
            action=_test("monthly", "Record monthly test"),
        ),
        _blocker(
            "test_setting_not_allowed",
            "Test setting not allowed",
            "Repeat the pregnancy test in an allowed setting.",
            patient=_("Have your pregnancy test again at the clinic or a lab."),
            action=TEST,
        ),
        _blocker(
            "lockout_active",
            "Locked out (RS-2021)",
            "Wait for the lockout to end, then repeat the confirmation test.",
        ),
        _blocker(
            "contraception_unconfirmed",
            "Contraception not confirmed",
            "Confirm two forms of contraception with the patient.",
            patient=_("Confirm your two forms of birth control."),
            reminder_kind=ReminderKind.CONTRACEPTION_CONFIRM,
            action=CONTRACEPTION,
        ),
        _blocker(
            "contraception_mismatch",
            "Contraception answers differ",
            "Re-confirm contraception: the patient's answer differs.",
            patient_talk=_(
                "The birth control you told us about is not the same as what the "
                "clinic has on record. They will go over it with you."
            ),
            action=CONTRACEPTION,
        ),
        _blocker(
            "comprehension_incomplete",
            "Monthly questions not done",
            "Ask the patient to finish the monthly iPLEDGE questions.",
            patient=_("Answer this month's iPLEDGE questions, then tell us below."),
            reminder_kind=ReminderKind.COMPREHENSION,
            action=VISIT,
        ),
    )
}

DUE = {
    entry.code: entry
    for entry in (
        Code(
            "confirmation_test_earliest",
            "Confirmation pregnancy test, earliest date",
            "Book the confirmation test for this date or later.",
            "Book the confirmation test for this date or later.",
            action=_test("confirmation", "Record confirmation test"),
        ),
        Code(
            "window_closes",
            "Prescription window closes",
            deadline=True,
            reminder_kind=ReminderKind.WINDOW_CLOSING,
            reminder_days_before=2,
            in_calendar=True,
        ),
        Code("lockout_until", "Lockout ends"),
        Code(
            "monthly_test_due",
            "Monthly pregnancy test",
            "Book the monthly pregnancy test.",
            "Book the monthly pregnancy test.",
            _("Have your monthly pregnancy test."),
            deadline=True,
            reminder_kind=ReminderKind.MONTHLY_TEST,
            reminder_days_before=2,
            in_calendar=True,
            action=_test("monthly", "Record monthly test"),
        ),
        Code(
            "visit_due",
            "Next visit",
            "Book the monthly visit.",
            "See the patient for the monthly visit.",
            _("Come to your clinic visit."),
            deadline=True,
            reminder_kind=ReminderKind.VISIT,
            reminder_days_before=2,
            in_calendar=True,
            action=VISIT,
        ),
        Code(
            "followup_labs_due",
            "Follow-up labs",
            "Order the follow-up labs.",
            "Order the follow-up labs.",
            _("Have your follow-up blood tests."),
            deadline=True,
            reminder_kind=ReminderKind.FOLLOWUP_LABS,
            reminder_days_before=3,
            in_calendar=True,
            action=LABS,
        ),
        Code(
            "end_of_treatment_test_due",
            "End-of-treatment pregnancy test",
            "Collect the end-of-treatment pregnancy test.",
            "Collect the end-of-treatment pregnancy test.",
            _("Have your end-of-treatment pregnancy test."),
            deadline=True,
            in_calendar=True,
            action=_test("end_of_treatment", "Record end-of-treatment test"),
        ),
        Code(
            "post_treatment_test_due",
            "Post-treatment pregnancy test",
            "Collect the post-treatment pregnancy test.",
            "Collect the post-treatment pregnancy test.",
            _("Have your post-treatment pregnancy test."),
            deadline=True,
            reminder_kind=ReminderKind.POST_TREATMENT_TEST,
            reminder_days_before=3,
            in_calendar=True,
            action=_test("post_treatment", "Record post-treatment test"),
        ),
        Code("contraception_may_stop", "Contraception may stop"),
        Code("blood_donation_allowed", "Blood donation allowed again"),
        Code("retreatment_earliest", "Earliest start of a new course"),
    )
}

GROUPS = {
    entry.code: entry
    for entry in (
        Code("safety", "Safety: act today", tone="text-bg-danger", alarm=True),
        Code("to_enter", "To enter in iPLEDGE", tone="text-bg-info"),
        Code("window_closing", "Pick-up window open", tone="text-bg-warning"),
        Code("needs_prescription", "Next prescription blocked"),
        Code("ready", "Ready to prescribe", tone="text-bg-success"),
        Code("post_treatment", "After treatment"),
        Code("overdue", "Overdue", tone="text-bg-warning"),
        Code("due_soon", "Due soon"),
        Code("on_track", "On track", tone=QUIET, quiet=True, all_clear=True),
        Code("inactive", "Inactive", tone=QUIET, quiet=True),
    )
}

STEPS = {
    rules.WRITE_PRESCRIPTION: Code(
        rules.WRITE_PRESCRIPTION,
        "Ready to prescribe",
        ASK_PRESCRIBER,
        "Write the prescription.",
        action=PRESCRIBE,
        banner_button=False,
    ),
    rules.ENTER_IN_IPLEDGE: Code(
        rules.ENTER_IN_IPLEDGE,
        "Values to enter in iPLEDGE",
        "Type this cycle's values into iPLEDGE from the entry sheet, then tick each.",
        "Enter this cycle's values in iPLEDGE from the entry sheet (staff may do it for you).",
        action=SHEET,
        banner_button=False,
    ),
    rules.RECORD_PICKUP: Code(
        rules.RECORD_PICKUP,
        "Prescription written, not yet picked up",
        "Record the pick-up (RMA number) when the pharmacy dispenses.",
        "Prescription written: staff record the pick-up when the pharmacy dispenses.",
        action=PICKUP,
    ),
}

ALL = {**BLOCKERS, **DUE, **GROUPS, **STEPS}


def entry(code: str) -> Code:
    return ALL[code]


def label(code: str) -> str:
    return ALL[code].label


def role_word(role: str | None) -> str:
    """Clinicians get the clinician's steps; staff and admins ask the prescriber."""
    return CLINICIAN if role == Role.CLINICIAN else STAFF


def next_step(code: str | None, role: str | None) -> str:
    if code is None:
        return ""
    return ALL[code].step_for(role_word(role))


def action_for(code: str | None, role: str | None) -> Act | None:
    """The form that resolves `code`, if this role may fill it in."""
    act = ALL[code].action if code else None
    return act if act is not None and role_may(role, act.needs) else None


@functools.cache
def _url_pattern(url_name: str) -> str:
    """The form's URL with a hole for the patient's id, reversed once per process (Today
    builds up to 400 of them per request)."""
    return reverse(url_name, args=[0]).replace("/0/", "/{pk}/")


def action_url(act: Act, patient_id: int, back: str | None = None) -> str:
    """The form for this patient, prefilled by `act.query`; `back` is where a save returns
    (the form checks it is a path on this site)."""
    query = "&".join(q for q in (act.query, urlencode({"next": back}) if back else "") if q)
    url = _url_pattern(act.url_name).format(pk=int(patient_id))
    return f"{url}?{query}" if query else url


def patient_step(code: str) -> str:
    """In the active language (the patient's, under translation.override)."""
    return str(ALL[code].patient_step)


def reminded_due_codes() -> dict[str, str]:
    """Due code -> reminder kind, for the due items a patient is reminded of by date."""
    return {c.code: c.reminder_kind for c in DUE.values() if c.reminder_kind}


def reminded_blockers() -> dict[str, str]:
    """Blocker code -> reminder kind, sent as soon as a window opens without them."""
    return {c.code: c.reminder_kind for c in BLOCKERS.values() if c.reminder_kind}


def reminder_days_before() -> dict[str, int]:
    return {
        c.reminder_kind: c.reminder_days_before
        for c in DUE.values()
        if c.reminder_kind and c.reminder_days_before is not None
    }


CALENDAR_CODES = frozenset(c.code for c in DUE.values() if c.in_calendar)
DEADLINE_CODES = frozenset(c.code for c in DUE.values() if c.deadline)
