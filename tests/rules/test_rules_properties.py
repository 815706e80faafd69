"""Properties that hold for any history: random histories around each rule set's day."""

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rules import (
    Consent,
    ContraceptionConfirmation,
    History,
    LabResult,
    PregnancyTest,
    Prescription,
    RuleSettings,
    Visit,
    cumulative,
    dose_series,
    evaluate,
    status,
    window,
)
from tests.rules.builders import BOTH_RULE_SETS

# No example database: the suite leaves no files behind, and stays fast.
rules_settings = settings(
    max_examples=120,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)

METHODS = ["iud", "implant", "male_condom", "vaginal_sponge", "progestin_only_pill"]


@st.composite
def histories(draw, risk_category=None):
    anchor = draw(st.sampled_from(BOTH_RULE_SETS))

    def day(low=-60, high=15):
        return anchor + timedelta(days=draw(st.integers(low, high)))

    def maybe_day(after: date, high=20):
        if draw(st.booleans()):
            return None
        return after + timedelta(days=draw(st.integers(0, high)))

    def many(make, most):
        return tuple(make(n) for n in range(draw(st.integers(0, most))))

    def contraception(n):
        return ContraceptionConfirmation(
            id=n,
            confirmed_on=day(),
            source=draw(st.sampled_from(["staff", "patient"])),
            methods=frozenset(draw(st.sets(st.sampled_from(METHODS), max_size=3))),
            abstinence=draw(st.booleans()),
            started_on=day(-150, 0) if draw(st.booleans()) else None,
        )

    def pregnancy_test(n):
        collected_on = day()
        return PregnancyTest(
            id=n,
            kind=draw(st.sampled_from(["screening", "confirmation", "monthly"])),
            collected_on=collected_on,
            result=draw(st.sampled_from(["negative", "negative", "positive", "invalid"])),
            setting=draw(st.sampled_from(["medical", "home"])),
            clia_lab=draw(st.booleans()),
            method="urine",
            verified=draw(st.booleans()),
            superseded_on=maybe_day(collected_on),
        )

    def visit(n):
        visited_on = day()
        return Visit(
            id=n,
            visited_on=visited_on,
            weight_kg=draw(st.sampled_from([None, Decimal("55"), Decimal("72.5")])),
            counseling_confirmed=draw(st.booleans()),
            comprehension_completed=draw(st.booleans()),
            phq2=draw(st.integers(0, 6)),
            phq9=draw(st.none() | st.integers(0, 27)),
            phq9_item9=draw(st.none() | st.integers(0, 3)),
            missed_dose_days=draw(st.sampled_from([0, 0, 0, 2])),
            next_visit_on=maybe_day(visited_on, 40),
            mood_reviews=tuple(
                visited_on + timedelta(days=draw(st.integers(-2, 10)))
                for _ in range(draw(st.integers(0, 2)))
            ),
        )

    def prescription(n):
        written_on = day()
        return Prescription(
            id=n,
            written_on=written_on,
            daily_dose_mg=draw(st.sampled_from([Decimal("20"), Decimal("40"), Decimal("70")])),
            days_supply=draw(st.integers(1, 30)),
            dispensed_on=maybe_day(written_on, 7),
        )

    return History(
        risk_category=risk_category
        or draw(st.sampled_from(["can_get_pregnant", "cannot_get_pregnant"])),
        enrolled_on=day(-80, -40),
        enrollment_weight_kg=Decimal("60"),
        home_tests_allowed=draw(st.booleans()),
        target_mg_per_kg=Decimal("120"),
        last_dose_on=day(-20, 20) if draw(st.integers(0, 3)) == 0 else None,
        consents=many(
            lambda n: Consent(
                draw(st.sampled_from(["patient_information", "birth_defects"])), day()
            ),
            2,
        ),
        contraception=many(contraception, 3),
        pregnancy_tests=many(pregnancy_test, 6),
        labs=many(
            lambda n: LabResult(
                draw(st.sampled_from(["alt", "triglycerides", "total_cholesterol"])),
                day(),
                Decimal("1"),
                "x",
            ),
            4,
        ),
        visits=many(visit, 3),
        prescriptions=many(prescription, 3),
        comprehension_reported_on=many(lambda n: day(), 2),
        settings=RuleSettings(home_tests_under_discretion=draw(st.booleans())),
    )


def anchor_of(history: History) -> date:
    return min(BOTH_RULE_SETS, key=lambda d: abs((d - history.enrolled_on).days))


@rules_settings
@given(histories(risk_category="can_get_pregnant"), st.integers(-30, 20))
def test_the_can_get_pregnant_window_always_spans_7_days_and_holds_the_day(history, offset):
    on = anchor_of(history) + timedelta(days=offset)
    found = window(history, on)
    assert found == status(history, on).window
    if found is not None:
        assert (found.closes_on - found.opens_on).days == 6
        assert found.opens_on <= on <= found.closes_on


@rules_settings
@given(histories(), st.integers(-40, 0))
def test_cumulative_mg_never_decreases_except_when_a_visit_records_missed_days(history, offset):
    start = anchor_of(history) + timedelta(days=offset)
    missed_on = {v.visited_on for v in history.visits if v.missed_dose_days > 0}
    previous = cumulative(history, start).mg
    for n in range(1, 45):
        on = start + timedelta(days=n)
        mg = cumulative(history, on).mg
        if on not in missed_on:
            assert mg >= previous, on
        previous = mg


@st.composite
def later_changes(draw, history: History, on: date):
    """One record dated after `on`, or a later supersede, review, dispense or last dose."""
    later = on + timedelta(days=draw(st.integers(1, 40)))
    choices = [
        lambda: replace(history, consents=(*history.consents, Consent("birth_defects", later))),
        lambda: replace(
            history,
            contraception=(
                *history.contraception,
                ContraceptionConfirmation(99, later, "patient", frozenset({"iud"}), False, None),
            ),
        ),
        lambda: replace(
            history,
            pregnancy_tests=(
                *history.pregnancy_tests,
                PregnancyTest(
                    99,
                    draw(st.sampled_from(["confirmation", "monthly", "screening"])),
                    later,
                    draw(st.sampled_from(["negative", "positive"])),
                    "medical",
                    True,
                    "serum",
                    True,
                ),
            ),
        ),
        lambda: replace(
            history, labs=(*history.labs, LabResult("alt", later, Decimal("30"), "U/L"))
        ),
        lambda: replace(
            history,
            visits=(
                *history.visits,
                Visit(99, later, Decimal("90"), True, True, 5, None, 2, 4, later),
            ),
        ),
        lambda: replace(
            history,
            prescriptions=(
                *history.prescriptions,
                Prescription(99, later, Decimal("40"), 30, later),
            ),
        ),
        lambda: replace(
            history, comprehension_reported_on=(*history.comprehension_reported_on, later)
        ),
        lambda: replace(history, last_dose_on=history.last_dose_on or later),
        lambda: replace(
            history,
            pregnancy_tests=tuple(
                replace(t, superseded_on=t.superseded_on or max(later, t.collected_on))
                for t in history.pregnancy_tests
            ),
        ),
        lambda: replace(
            history,
            visits=tuple(replace(v, mood_reviews=(*v.mood_reviews, later)) for v in history.visits),
        ),
        lambda: replace(
            history,
            prescriptions=tuple(
                replace(p, dispensed_on=p.dispensed_on or max(later, p.written_on))
                for p in history.prescriptions
            ),
        ),
    ]
    return draw(st.sampled_from(choices))()


@rules_settings
@given(st.data())
def test_a_record_dated_after_the_day_never_changes_the_answer_for_it(data):
    history = data.draw(histories())
    on = anchor_of(history) + timedelta(days=data.draw(st.integers(-30, 10)))
    changed = data.draw(later_changes(history, on))
    assert evaluate(changed, on) == evaluate(history, on)
    assert status(changed, on) == status(history, on)


@rules_settings
@given(histories(), st.integers(-30, 10))
def test_the_order_records_come_in_does_not_matter(history, offset):
    on = anchor_of(history) + timedelta(days=offset)
    reversed_history = replace(
        history,
        consents=history.consents[::-1],
        contraception=history.contraception[::-1],
        pregnancy_tests=history.pregnancy_tests[::-1],
        labs=history.labs[::-1],
        visits=history.visits[::-1],
        prescriptions=history.prescriptions[::-1],
        comprehension_reported_on=history.comprehension_reported_on[::-1],
    )
    assert status(reversed_history, on) == status(history, on)


@rules_settings
@given(histories(), st.integers(-30, 40))
def test_the_dose_series_is_each_days_cumulative_dose(history, offset):
    """dose_series figures a day on the cut of the latest recorded day before it; the answer
    must be the one `cumulative` gives for that day itself."""
    until = anchor_of(history) + timedelta(days=offset)
    series = dose_series(history, until)
    assert [on for on, _ in series] == [
        series[0][0] + timedelta(days=n) for n in range(len(series))
    ]
    assert all(value == cumulative(history, on).mg_per_kg for on, value in series)
    if series:
        assert series[-1][0] == until
