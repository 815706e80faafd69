"""A date written once and kept (clinic/dates.py, the |date builtin) reads exactly as
Django writes it, in each language; an instant is never served from the kept dates."""

import datetime
from zoneinfo import ZoneInfo

import pytest
from django.template import Context, Template
from django.utils import formats, timezone, translation

from clinic import dates

NAMES = [
    "DATE_FORMAT",
    "SHORT_DATE_FORMAT",
    "MONTH_DAY_FORMAT",
    "YEAR_MONTH_FORMAT",
    "WEEKDAY_DATE_FORMAT",
    "WEEKDAY_MONTH_DAY_FORMAT",
    "LONG_DATE_FORMAT",
    "Y-m-d",
]
# Every month and weekday, both years of a leap day.
DAYS = [datetime.date(2027, 12, 31) - datetime.timedelta(days=n) for n in range(0, 730, 3)]


@pytest.mark.parametrize("language", ["en", "es"])
def test_a_kept_date_reads_as_django_writes_it(language):
    with translation.override(language):
        for day in DAYS:
            for name in NAMES:
                expected = formats.date_format(day, name)
                assert dates.formatted(day, name) == expected
                assert dates.formatted(day, name) == expected  # the kept copy


def test_the_language_is_part_of_what_is_kept():
    day = datetime.date(2026, 12, 5)
    with translation.override("en"):
        assert dates.day(day) == "Dec 5, 2026"
    with translation.override("es"):
        assert dates.day(day) == "5 de diciembre de 2026"
    with translation.override("en"):
        assert dates.day(day) == "Dec 5, 2026"


@pytest.mark.parametrize("language", ["en", "es"])
def test_the_date_filter_writes_what_djangos_writes(language):
    template = Template(
        '{{ day|date }}|{{ day|date:"SHORT_DATE_FORMAT" }}|{{ day|date:"WEEKDAY_DATE_FORMAT" }}'
        '|{{ day|date:"Y-m-d" }}|{{ missing|date }}|{{ blank|date:"SHORT_DATE_FORMAT" }}'
    )
    with translation.override(language):
        for day in DAYS[:40]:
            expected = "|".join(
                [
                    formats.date_format(day),
                    formats.date_format(day, "SHORT_DATE_FORMAT"),
                    formats.date_format(day, "WEEKDAY_DATE_FORMAT"),
                    formats.date_format(day, "Y-m-d"),
                    "",
                    "",
                ]
            )
            assert template.render(Context({"day": day, "blank": ""})) == expected


def test_an_instant_is_written_on_the_active_clock_every_time():
    # 03:00 UTC on Dec 5 is still Dec 4 in Los Angeles: the same instant in two zones compares
    # equal in Python, so a kept text would give one zone the other's day.
    moment = datetime.datetime(2026, 12, 5, 3, 0, tzinfo=datetime.UTC)
    template = Template('{{ moment|date:"DATETIME_FORMAT" }}')
    with timezone.override(ZoneInfo("Europe/London")):
        assert template.render(Context({"moment": moment})) == "Dec 5, 2026, 3:00 AM"
    with timezone.override(ZoneInfo("America/Los_Angeles")):
        assert template.render(Context({"moment": moment})) == "Dec 4, 2026, 7:00 PM"
    assert dates.formatted(moment.astimezone(ZoneInfo("America/Los_Angeles"))) == "Dec 4, 2026"
    assert dates.formatted(moment.astimezone(ZoneInfo("Europe/London"))) == "Dec 5, 2026"
