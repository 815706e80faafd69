"""The registry of codes: every code the engine speaks has one entry, and the readers use it."""

import re

import pytest

import rules
from monitoring import codes
from monitoring.models import ReminderKind
from monitoring.reminders import ical, planner

ENGINE_CODES = [
    *rules.BLOCKER_CODES,
    *rules.DUE_CODES,
    *rules.TRIAGE_GROUPS,
    rules.WRITE_PRESCRIPTION,
    rules.RECORD_PICKUP,
    rules.ENTER_IN_IPLEDGE,
]


@pytest.mark.parametrize("code", ENGINE_CODES)
def test_every_code_of_the_engine_has_an_entry_with_a_label(code):
    entry = codes.entry(code)
    assert entry.code == code
    assert entry.label and entry.label[0].isupper()


def test_the_registry_holds_no_code_the_engine_does_not_speak():
    assert set(codes.ALL) == set(ENGINE_CODES)


@pytest.mark.parametrize("code", rules.BLOCKER_CODES)
def test_every_blocker_has_a_next_step_for_staff_and_for_clinicians(code):
    assert codes.next_step(code, "staff").endswith(".")
    assert codes.next_step(code, "clinician").endswith(".")


@pytest.mark.parametrize("code", sorted(rules.TASK_DUE_CODES))
def test_every_task_has_a_next_step(code):
    assert codes.next_step(code, "staff")


def test_staff_ask_the_prescriber_and_clinicians_write():
    assert codes.next_step(rules.WRITE_PRESCRIPTION, "staff") == codes.ASK_PRESCRIBER
    assert codes.next_step(rules.WRITE_PRESCRIPTION, "clinic_admin") == codes.ASK_PRESCRIBER
    assert codes.next_step(rules.WRITE_PRESCRIPTION, "clinician") == "Write the prescription."
    staff_steps = [codes.next_step(code, "staff") for code in ENGINE_CODES]
    assert not any(step.startswith("Write") for step in staff_steps)


def test_the_planner_and_the_calendar_read_the_registry():
    assert planner.DUE_CODE_KINDS == {
        "window_closes": ReminderKind.WINDOW_CLOSING,
        "monthly_test_due": ReminderKind.MONTHLY_TEST,
        "visit_due": ReminderKind.VISIT,
        "followup_labs_due": ReminderKind.FOLLOWUP_LABS,
        "post_treatment_test_due": ReminderKind.POST_TREATMENT_TEST,
    }
    assert planner.AS_SOON_AS_NEEDED == {
        "contraception_unconfirmed": ReminderKind.CONTRACEPTION_CONFIRM,
        "comprehension_incomplete": ReminderKind.COMPREHENSION,
    }
    assert planner.DAYS_BEFORE[ReminderKind.WINDOW_CLOSING] == 2
    assert planner.DAYS_BEFORE[ReminderKind.POST_TREATMENT_TEST] == 3
    assert ical.FEED_CODES == {
        "window_closes",
        "monthly_test_due",
        "visit_due",
        "followup_labs_due",
        "end_of_treatment_test_due",
        "post_treatment_test_due",
    }


def test_every_reminder_kind_comes_from_exactly_one_code():
    kinds = [c.reminder_kind for c in codes.ALL.values() if c.reminder_kind]
    assert sorted(kinds) == sorted(ReminderKind.values)


def test_dates_to_tell_the_patient_are_never_deadlines():
    for code in ("lockout_until", "contraception_may_stop", "blood_donation_allowed"):
        assert code not in codes.DEADLINE_CODES
    assert "confirmation_test_earliest" not in codes.DEADLINE_CODES


# The flags the pages read instead of comparing codes ------------------------------------------


def _flagged(name: str) -> set[str]:
    return {code for code, entry in codes.ALL.items() if getattr(entry, name)}


def test_each_flag_marks_the_codes_the_pages_treat_apart():
    assert _flagged("alarm") == {"safety"}
    assert _flagged("quiet") == {"on_track", "inactive"}
    assert _flagged("all_clear") == {"on_track"}
    assert set(codes.ALL) - _flagged("banner_button") == {
        rules.WRITE_PRESCRIPTION,
        rules.ENTER_IN_IPLEDGE,
    }
    assert _flagged("self_harm") == {"mood_review_required"}
    assert _flagged("ends_course") == {"course_ended"}
    assert _flagged("alarm") | _flagged("quiet") <= set(codes.GROUPS)


def test_a_template_reads_a_flag_and_a_mistyped_flag_fails_loudly():
    from monitoring.templatetags.monitoring_tags import flag, flagged

    assert flag("safety", "alarm") and not flag("ready", "alarm")
    assert not flag(None, "alarm") and not flag("", "quiet")  # no triage yet
    assert flagged([rules.Blocker("course_ended", "")], "ends_course")
    with pytest.raises(AttributeError):
        flag("safety", "alarmed")


def test_no_template_compares_a_code_as_a_string():
    """A code written in a comparison silently never matches once it is renamed or mistyped;
    the registry's flags say the same thing and fail loudly (docs/clinic-day.md)."""
    from pathlib import Path

    from django.conf import settings

    words = "|".join(sorted({*codes.ALL, *ReminderKind.values}, key=len, reverse=True))
    compared = re.compile(rf"""(==|!=)\s*["']({words})["']|["']({words})["']\s*(==|!=|in\b)""")
    found = [
        f"{path.relative_to(settings.BASE_DIR)}: {match.group(0)}"
        for path in sorted((Path(settings.BASE_DIR) / "templates").rglob("*.*"))
        for match in compared.finditer(path.read_text())
    ]
    assert found == []
