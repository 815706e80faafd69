from django import template

from monitoring.labels import due_label as _due_label

register = template.Library()


@register.filter
def due_label(code: str) -> str:
    return _due_label(code)


@register.filter
def days_until(day, today) -> int | None:
    if not day or not today:
        return None
    return (day - today).days
