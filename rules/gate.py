"""The pre-prescription gate (docs/domain.md section 5).

`evaluate(history, on)` answers: may a prescription be written on `on`, and if not, why. Each
check is a small function of a `Context`; the lists at the bottom say who gets which check.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

from . import constants as c
from .contraception import (
    contraception_is_valid,
    describe,
    describe_report,
    latest_patient_report,
    latest_staff_confirmation,
    same_methods,
)
from .cycle import cycle_start, visit_period_start
from .labs import LAB_TYPES
from .pregnancy import (
    confirmation_earliest,
    lockout,
    negatives,
    qualifying_test,
    required_kind,
    setting_problem,
)
from .results import Blocker
from .rulesets import ENROLLMENT_ONLY, RuleSet, rule_set_for
from .snapshot import History, PregnancyTest, Visit, as_of, dispensed
from .text import day, label, listing


@dataclass(frozen=True)
class Context:
    history: History  # cut with as_of(…, on)
    on: date
    rule_set: RuleSet
    first_prescription: bool
    cycle_from: date
    visits_from: date
    qualifying: PregnancyTest | None

    @property
    def counted_visits(self) -> list[Visit]:
        """Visits that satisfy `visit_missing`: in the cycle, or for cannot_get_pregnant in the
        rule set's day-count visit window (RS-2021: the program's 30 days)."""
        return [v for v in self.history.visits if v.visited_on >= self.visits_from]

    @property
    def cycle_visits(self) -> list[Visit]:
        """Visits in the prescription's cycle: counseling, the mood screen and the monthly
        questions are judged here for everyone (docs/rules.md, the cycle)."""
        return [v for v in self.history.visits if v.visited_on >= self.cycle_from]


def context(history: History, on: date) -> Context:
    history = as_of(history, on)
    rule_set = rule_set_for(on, history.settings)
    return Context(
        history=history,
        on=on,
        rule_set=rule_set,
        first_prescription=not dispensed(history),
        cycle_from=cycle_start(history, on),
        visits_from=visit_period_start(history, on, rule_set),
        qualifying=qualifying_test(history, on, rule_set) if history.can_get_pregnant else None,
    )


# For every patient.


def consent_missing(ctx: Context) -> Blocker | None:
    signed = {x.kind for x in ctx.history.consents}
    required = c.REQUIRED_CONSENTS.get(ctx.history.risk_category, (c.PATIENT_INFORMATION,))
    missing = [label(kind) for kind in required if kind not in signed]
    if not missing:
        return None
    noun = "Consent" if len(missing) == 1 else "Consents"
    return Blocker(c.CONSENT_MISSING, f"{noun} not signed: {listing(missing)}.")


def baseline_labs_missing(ctx: Context) -> Blocker | None:
    if not ctx.first_prescription:
        return None
    since = ctx.on - timedelta(days=c.BASELINE_LABS_LOOKBACK_DAYS)
    collected = {lab.kind for lab in ctx.history.labs if lab.collected_on >= since}
    missing = [t.name for t in LAB_TYPES.values() if t.baseline and t.kind not in collected]
    if not missing:
        return None
    return Blocker(
        c.BASELINE_LABS_MISSING,
        f"Baseline labs missing from the last 30 days (since {day(since)}): {listing(missing)}.",
    )


def visit_missing(ctx: Context) -> Blocker | None:
    if ctx.counted_visits:
        return None
    return Blocker(c.VISIT_MISSING, f"No clinic visit recorded since {day(ctx.visits_from)}.")


def counseling_unconfirmed(ctx: Context) -> Blocker | None:
    if (
        not ctx.history.can_get_pregnant
        and ctx.rule_set.cannot_get_pregnant_counseling == ENROLLMENT_ONLY
        and not ctx.first_prescription
    ):
        return None
    if any(v.counseling_confirmed for v in ctx.cycle_visits):
        return None
    return Blocker(
        c.COUNSELING_UNCONFIRMED,
        f"The clinician has not confirmed counseling at a visit since {day(ctx.cycle_from)}.",
    )


def mood_screen_incomplete(ctx: Context) -> Blocker | None:
    visits = ctx.cycle_visits
    if not visits:
        return None
    latest = visits[-1]
    if latest.phq2 < c.PHQ2_NEEDS_PHQ9 or latest.phq9 is not None:
        return None
    return Blocker(
        c.MOOD_SCREEN_INCOMPLETE,
        f"The mood screen (PHQ-2) at the visit on {day(latest.visited_on)} needs a PHQ-9, "
        "which is not recorded.",
    )


def awaiting_mood_review(history: History, on: date) -> tuple[Visit, ...]:
    """Visits with PHQ-9 item 9 above 0 and no clinician review dated on or after them."""
    return tuple(
        v
        for v in as_of(history, on).visits
        if (v.phq9_item9 or 0) > 0 and not any(r >= v.visited_on for r in v.mood_reviews)
    )


def mood_review_required(ctx: Context) -> Blocker | None:
    unreviewed = awaiting_mood_review(ctx.history, ctx.on)
    if not unreviewed:
        return None
    visited = day(unreviewed[0].visited_on)
    return Blocker(
        c.MOOD_REVIEW_REQUIRED,
        f"A clinician must review the mood screen from the visit on {visited}.",
    )


def pregnancy_test_positive(ctx: Context) -> Blocker | None:
    positives = [
        t for t in ctx.history.pregnancy_tests if t.result == c.POSITIVE and t.superseded_on is None
    ]
    if not positives:
        return None
    return Blocker(
        c.PREGNANCY_TEST_POSITIVE,
        f"A positive pregnancy test (collected {day(positives[-1].collected_on)}) blocks all "
        "prescribing until a clinician reviews it.",
    )


def course_ended(ctx: Context) -> Blocker | None:
    if ctx.history.last_dose_on is None:
        return None
    return Blocker(
        c.COURSE_ENDED,
        f"This treatment course ended (last dose {day(ctx.history.last_dose_on)}); "
        "a new course is needed.",
    )


# Only for patients who can get pregnant.


def screening_test_missing(ctx: Context) -> Blocker | None:
    if not ctx.first_prescription:
        return None
    if any(t.setting == c.MEDICAL for t in negatives(ctx.history, c.SCREENING)):
        return None
    return Blocker(
        c.SCREENING_TEST_MISSING,
        "No negative screening pregnancy test from a medical setting is recorded.",
    )


def confirmation_test_missing(ctx: Context) -> Blocker | None:
    if not ctx.first_prescription or negatives(ctx.history, c.CONFIRMATION):
        return None
    return Blocker(
        c.CONFIRMATION_TEST_MISSING, "No negative confirmation pregnancy test is recorded."
    )


def confirmation_test_too_early(ctx: Context) -> Blocker | None:
    test = ctx.qualifying
    if not ctx.first_prescription or test is None:
        return None
    earliest = confirmation_earliest(ctx.history, test.collected_on)
    if earliest is None or test.collected_on >= earliest:
        return None
    return Blocker(
        c.CONFIRMATION_TEST_TOO_EARLY,
        f"The confirmation test collected {day(test.collected_on)} is too early: it must be "
        f"collected on or after {day(earliest)} (19 days after the screening test and 30 days "
        "after contraception began).",
        until=earliest,
    )


def pregnancy_test_missing(ctx: Context) -> Blocker | None:
    if ctx.qualifying is not None:
        return None
    since = ctx.on - timedelta(days=c.WINDOW_DAYS - 1)
    kind = label(required_kind(ctx.history))
    return Blocker(
        c.PREGNANCY_TEST_MISSING,
        f"No negative {kind} pregnancy test collected in the last 7 days (since {day(since)}).",
    )


def test_setting_not_allowed(ctx: Context) -> Blocker | None:
    if ctx.qualifying is None:
        return None
    problem = setting_problem(ctx.qualifying, ctx.history, ctx.rule_set)
    if problem is None:
        return None
    return Blocker(c.TEST_SETTING_NOT_ALLOWED, problem)


def lockout_active(ctx: Context) -> Blocker | None:
    missed_until = lockout(ctx.history, ctx.on, ctx.rule_set)
    if missed_until is None:
        return None
    missed, until = missed_until
    # Without a new test the lockout lasts until `until`; a test collected before then never
    # counts, even when it is judged after `until`.
    judged = ctx.qualifying.collected_on if ctx.qualifying is not None else ctx.on
    if judged >= until:
        return None
    return Blocker(
        c.LOCKOUT_ACTIVE,
        f"The first pick-up window (test collected {day(missed)}) was missed: iPLEDGE needs a "
        f"new confirmation test collected on or after {day(until)}.",
        until=until,
    )


def contraception_unconfirmed(ctx: Context) -> Blocker | None:
    if any(
        x.source == c.STAFF
        and x.confirmed_on >= ctx.cycle_from
        and contraception_is_valid(x.methods, x.abstinence)
        for x in ctx.history.contraception
    ):
        return None
    # Staff read Today's row before they call the patient: it says what the patient reported.
    report = latest_patient_report(ctx.history, ctx.cycle_from)
    reported = f" The patient reported {describe_report(report)}." if report else ""
    return Blocker(
        c.CONTRACEPTION_UNCONFIRMED,
        f"Staff have not confirmed two valid forms of contraception (or abstinence) since "
        f"{day(ctx.cycle_from)}.{reported}",
    )


def contraception_mismatch(ctx: Context) -> Blocker | None:
    staff = latest_staff_confirmation(ctx.history)
    if staff is None:
        return None
    differing = [
        x
        for x in ctx.history.contraception
        if x.source == c.PATIENT and x.confirmed_on >= ctx.cycle_from and not same_methods(x, staff)
    ]
    if not differing:
        return None
    patient = differing[-1]
    return Blocker(
        c.CONTRACEPTION_MISMATCH,
        f"The patient reported {describe_report(patient)}, "
        f"but staff recorded {describe(staff)} on {day(staff.confirmed_on)}.",
    )


def comprehension_incomplete(ctx: Context) -> Blocker | None:
    if any(v.comprehension_completed for v in ctx.cycle_visits) or any(
        d >= ctx.cycle_from for d in ctx.history.comprehension_reported_on
    ):
        return None
    return Blocker(
        c.COMPREHENSION_INCOMPLETE,
        f"The patient has not completed the monthly iPLEDGE questions since {day(ctx.cycle_from)}.",
    )


Check = Callable[[Context], Blocker | None]

FOR_EVERYONE: tuple[Check, ...] = (
    consent_missing,
    baseline_labs_missing,
    visit_missing,
    counseling_unconfirmed,
    mood_screen_incomplete,
    mood_review_required,
    pregnancy_test_positive,
    course_ended,
)
FOR_CAN_GET_PREGNANT: tuple[Check, ...] = (
    screening_test_missing,
    confirmation_test_missing,
    confirmation_test_too_early,
    pregnancy_test_missing,
    test_setting_not_allowed,
    lockout_active,
    contraception_unconfirmed,
    contraception_mismatch,
    comprehension_incomplete,
)


def blockers_for(ctx: Context) -> tuple[Blocker, ...]:
    checks = FOR_EVERYONE + (FOR_CAN_GET_PREGNANT if ctx.history.can_get_pregnant else ())
    found = [b for b in (check(ctx) for check in checks) if b is not None]
    return tuple(sorted(found, key=lambda b: c.BLOCKER_CODES.index(b.code)))


def evaluate(history: History, on: date) -> tuple[Blocker, ...]:
    """Blockers for a prescription written on `on`; none means it may be written."""
    return blockers_for(context(history, on))


# Blockers that stand until someone acts, whatever the date: a prescription entered late (dated
# before today) must not slip past one of these recorded since its date.
STANDING_BLOCKER_CODES = frozenset(
    {c.PREGNANCY_TEST_POSITIVE, c.MOOD_REVIEW_REQUIRED, c.COURSE_ENDED}
)


def standing_blockers(history: History, on: date) -> tuple[Blocker, ...]:
    """The blockers of `on` that also refuse a prescription dated earlier."""
    return tuple(b for b in evaluate(history, on) if b.code in STANDING_BLOCKER_CODES)
