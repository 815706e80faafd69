import datetime

from django import template

from monitoring import codes

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
