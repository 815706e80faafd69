"""Patient-page pieces built from the context the patient page already has (no extra query):
the dose chart, the course timeline and the end-of-course summary."""

from django import template
from django.utils.html import format_html

import rules
from monitoring import chart, timeline
from monitoring import codes as registry
from rules.snapshot import as_of, course_start

register = template.Library()


@register.inclusion_tag("monitoring/_dose_chart.html")
def dose_chart(history, today, now=None):
    """`now`: the status's cumulative figure for `today`, so the engine figures it once."""
    figures = chart.dose_chart(history, today, now)
    return {"chart": figures, "svg": chart.dose_chart_svg(figures)}


@register.inclusion_tag("monitoring/_timeline.html")
def course_timeline(records, history, today):
    events = timeline.course_events(records)
    windows = timeline.course_windows(history, today)
    rows = [(event, next((w.state for w in windows if w.holds(event.on)), "")) for event in events]
    days = [e.on for e in events] + [w.closes_on for w in windows] + [records.course.opened_on]
    start, end = min(days), max([*days, min(today, max(days))])
    return {
        "rows": rows,
        "windows": windows,
        "svg": chart.timeline_svg(events, windows, start, end) if events else "",
    }


@register.simple_tag
def course_summary(history, today):
    """Total mg, mg/kg and days from the first dispense to the last dose, once a course ended."""
    if history.last_dose_on is None:
        return None
    start = course_start(as_of(history, history.last_dose_on))
    totals = rules.cumulative(history, today)
    return {
        "mg": totals.mg,
        "mg_per_kg": totals.mg_per_kg,
        "first_dispense_on": start,
        "last_dose_on": history.last_dose_on,
        "days": (history.last_dose_on - start).days + 1 if start else 0,
    }


@register.filter
def codes(items) -> list[str]:
    return [item.code for item in items]


# What an unknown or absent code (no triage yet) answers: every flag at its default.
_NO_ENTRY = registry.Code("", "")


@register.filter
def flag(code: str | None, name: str) -> bool:
    """A flag of the code's registry entry (`triage.group|flag:"all_clear"`), so a template
    never compares a code as a string. A name the registry does not have raises (a typo fails
    the page in tests instead of answering False)."""
    return bool(getattr(registry.ALL.get(code or "", _NO_ENTRY), name))


@register.filter
def flagged(items, name: str) -> list:
    """The items (blockers, due items) whose code's entry has the flag:
    `status.blockers|flagged:"self_harm"`."""
    return [item for item in items if flag(item.code, name)]


@register.filter
def is_deadline(code: str) -> bool:
    """A due date someone can miss (a test, visit, lab or window), not a date to tell the patient
    ("earliest", "allowed again"): only deadlines are ever shown as overdue."""
    return code in registry.DEADLINE_CODES


@register.filter
def due_label(code: str) -> str:
    return registry.label(code)


@register.filter
def next_step(code: str, role: str | None) -> str:
    """What the reader does about a blocker, in their role's words (the codes registry)."""
    try:
        return registry.next_step(code, role)
    except KeyError:
        return ""


@register.simple_tag(takes_context=True)
def action_button(context, code: str | None, patient, role: str | None) -> str:
    """The button opening the form that resolves `code` for the patient (the codes registry's
    action), or nothing when there is none, the role may not fill it in, or the page already
    shows the same button (three blockers of one visit get one "Open visit checklist")."""
    try:
        act = registry.action_for(code, role)
    except KeyError:
        return ""
    shown = context.dicts[0].setdefault("_actions_shown", set())
    if act is None or act in shown:
        return ""
    shown.add(act)
    return format_html(
        ' <a class="btn btn-sm btn-outline-primary py-0 ms-1 row-action d-print-none" '
        'href="{}">{}</a>',
        registry.action_url(act, patient.pk),
        act.label,
    )


@register.filter
def timeline_legend(rows) -> list[tuple[str, str, str]]:
    """The course strip's colours in words, for the kinds of event in `rows` (event, state)."""
    return timeline.legend(event for event, _ in rows)


@register.filter
def drop_passed(due, today) -> list:
    """The due list without dates that passed and ask nothing (an earliest date, "allowed
    again"): only a missed deadline stays, shown as overdue."""
    if not today:
        return list(due)
    return [d for d in due if d.due_on >= today or d.code in registry.DEADLINE_CODES]


@register.filter
def tone(code: str | None, count=None) -> str:
    """The badge classes of a triage group (the registry's); quiet for an unknown one, and for
    a group Today counts as empty (`key|tone:n`)."""
    if code not in registry.GROUPS or count == 0:
        return registry.QUIET
    return registry.ALL[code].tone
