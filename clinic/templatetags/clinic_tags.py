import datetime

from django import template
from django.utils import timezone

from monitoring import codes, timeline

register = template.Library()


@register.filter
def due_label(code: str) -> str:
    return codes.label(code)


@register.filter
def days_until(day, today) -> int | None:
    if not day or not today:
        return None
    return (day - today).days


@register.filter
def next_step(code: str, role: str | None) -> str:
    """What the reader does about a blocker, in their role's words (the codes registry)."""
    try:
        return codes.next_step(code, role)
    except KeyError:
        return ""


@register.filter
def add_days(day, n):
    """A date n days later (negative: earlier)."""
    if not day:
        return day
    return day + datetime.timedelta(days=int(n))


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
    return [d for d in due if d.due_on >= today or d.code in codes.DEADLINE_CODES]


@register.filter
def age_on(birth_date, today) -> int | None:
    """Whole years of age on `today`."""
    if not birth_date or not today:
        return None
    before_birthday = (today.month, today.day) < (birth_date.month, birth_date.day)
    return today.year - birth_date.year - before_birthday


@register.filter
def clinic_time(moment, clinic) -> str:
    """An instant as the clinic's wall clock, with the zone named: "01 Dec 2026 09:00 EST"."""
    if not moment or clinic is None:
        return ""
    local = timezone.localtime(moment, clinic.zone)
    return f"{local:%d %b %Y %H:%M} {local.tzname()}"


@register.filter
def tone(code: str | None) -> str:
    """The badge classes of a triage group (the registry's), quiet for an unknown one."""
    return codes.ALL[code].tone if code in codes.GROUPS else codes.QUIET
