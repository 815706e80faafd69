import datetime

from django import template

from clinic import dates

register = template.Library()


@register.filter
def days_until(day, today) -> int | None:
    if not day or not today:
        return None
    return (day - today).days


@register.filter
def add_days(day, n):
    """A date n days later (negative: earlier)."""
    if not day:
        return day
    return day + datetime.timedelta(days=int(n))


@register.filter
def age_on(birth_date, today) -> int | None:
    """Whole years of age on `today`."""
    if not birth_date or not today:
        return None
    before_birthday = (today.month, today.day) < (birth_date.month, birth_date.day)
    return today.year - birth_date.year - before_birthday


@register.filter
def clinic_time(moment, clinic) -> str:
    """An instant as the clinic's wall clock, with the zone named: "Dec 1, 2026, 9:00 AM EST"."""
    if not moment or clinic is None:
        return ""
    return dates.moment(moment, clinic.zone)
