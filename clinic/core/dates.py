"""Dates and times in Python code (emails, the CSV, the entry sheet, messages), written with the
same formats as the templates (clinic/core/formats/): one place for how the clinic writes a date.

Each follows the active language: a Spanish patient's email gets "5 de diciembre de 2026".
"""

import datetime
import zoneinfo

from django.utils import formats, timezone


def day(value: datetime.date) -> str:
    """Dec 5, 2026"""
    return formats.date_format(value, "DATE_FORMAT")


def short(value: datetime.date) -> str:
    """12/05/2026: tables, the CSV, the iPLEDGE entry sheet."""
    return formats.date_format(value, "SHORT_DATE_FORMAT")


def month_day(value: datetime.date) -> str:
    """Dec 5"""
    return formats.date_format(value, "MONTH_DAY_FORMAT")


def weekday(value: datetime.date) -> str:
    """Sat, Dec 5, 2026"""
    return formats.date_format(value, "WEEKDAY_DATE_FORMAT")


def weekday_month_day(value: datetime.date) -> str:
    """Sat, Dec 5"""
    return formats.date_format(value, "WEEKDAY_MONTH_DAY_FORMAT")


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
