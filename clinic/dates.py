"""Dates and times in Python code (emails, the CSV, the entry sheet, messages), written with the
same formats as the templates (clinic/formats/): one place for how the clinic writes a date.

Each follows the active language: a Spanish patient's email gets "5 de diciembre de 2026".
"""

import datetime
import functools
import zoneinfo

from django.utils import formats, timezone, translation


def formatted(value: datetime.date, format_name: str = "DATE_FORMAT") -> str:
    """`value` written with a format name of clinic/formats/ (or a format string) in the
    active language, exactly as Django's `date_format` writes it.

    A plain date is written once per process and language, then kept: the patient page writes
    about ninety dates, Today hundreds, and Django's formatter costs some 20 µs a call (it looks
    up the language, the format and the month's translated name each time). A datetime is not
    kept: two equal instants can stand in different zones and so write different days.
    """
    if type(value) is not datetime.date:
        return formats.date_format(value, format_name)
    return _kept(value, format_name, translation.get_language())


@functools.lru_cache(maxsize=8192)
def _kept(value: datetime.date, format_name: str, language: str | None) -> str:
    return formats.date_format(value, format_name)  # in `language`, the active one


def day(value: datetime.date) -> str:
    """Dec 5, 2026"""
    return formatted(value, "DATE_FORMAT")


def short(value: datetime.date) -> str:
    """12/05/2026: tables, the CSV, the iPLEDGE entry sheet."""
    return formatted(value, "SHORT_DATE_FORMAT")


def month_day(value: datetime.date) -> str:
    """Dec 5"""
    return formatted(value, "MONTH_DAY_FORMAT")


def weekday(value: datetime.date) -> str:
    """Sat, Dec 5, 2026"""
    return formatted(value, "WEEKDAY_DATE_FORMAT")


def weekday_month_day(value: datetime.date) -> str:
    """Sat, Dec 5"""
    return formatted(value, "WEEKDAY_MONTH_DAY_FORMAT")


def moment(value: datetime.datetime, zone: zoneinfo.ZoneInfo) -> str:
    """An instant on the clinic's wall clock, its zone named: "Dec 5, 2026, 9:00 AM EST"."""
    local = timezone.localtime(value, zone)
    return f"{formats.date_format(local, 'DATETIME_FORMAT')} {local.tzname()}"


def time(value: datetime.datetime) -> str:
    """A wall-clock time already in the clinic's zone: "9:00 AM"."""
    return formats.time_format(value, "TIME_FORMAT")


def clock(value: datetime.datetime, zone: zoneinfo.ZoneInfo) -> str:
    """The time alone on the clinic's wall clock: "9:00 AM EST"."""
    local = timezone.localtime(value, zone)
    return f"{formats.time_format(local, 'TIME_FORMAT')} {local.tzname()}"
