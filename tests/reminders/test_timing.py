"""Send instants: the clinic hour in its zone, quiet hours, DST changes (docs/quality.md F7)."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from monitoring.reminders.timing import in_quiet_hours, send_at

NY = ZoneInfo("America/New_York")
UTC = dt.UTC
EARLY = dt.datetime(2027, 1, 1, tzinfo=UTC)


def at(day, hour=9, quiet=(20, 8), now=EARLY, zone=NY):
    return send_at(
        day, zone=zone, send_hour=hour, quiet_start=quiet[0], quiet_end=quiet[1], now=now
    )


@pytest.mark.parametrize(
    ("day", "utc_hour"),
    [
        (dt.date(2027, 3, 13), 14),  # EST, the day before clocks go forward
        (dt.date(2027, 3, 14), 13),  # EDT from 02:00 that day
        (dt.date(2027, 11, 6), 13),  # EDT, the day before clocks go back
        (dt.date(2027, 11, 7), 14),  # EST from 02:00 that day
    ],
)
def test_it_sends_at_nine_local_across_daylight_saving(day, utc_hour):
    instant = at(day)
    assert instant == dt.datetime(day.year, day.month, day.day, utc_hour, tzinfo=UTC)
    assert instant.astimezone(NY).hour == 9


def test_a_send_hour_inside_quiet_hours_moves_to_the_end_of_them():
    assert at(dt.date(2027, 5, 3), hour=21).astimezone(NY) == dt.datetime(2027, 5, 4, 8, tzinfo=NY)
    assert at(dt.date(2027, 5, 3), hour=6).astimezone(NY) == dt.datetime(2027, 5, 3, 8, tzinfo=NY)
    assert at(dt.date(2027, 5, 3), hour=11, quiet=(10, 12)).astimezone(NY).hour == 12


def test_a_send_time_already_past_today_becomes_now_unless_it_is_quiet():
    afternoon = dt.datetime(2027, 5, 3, 15, 30, tzinfo=NY)
    assert at(dt.date(2027, 5, 3), now=afternoon) == afternoon.astimezone(UTC)
    night = dt.datetime(2027, 5, 3, 22, 15, tzinfo=NY)
    assert at(dt.date(2027, 5, 3), now=night).astimezone(NY) == dt.datetime(
        2027, 5, 4, 8, tzinfo=NY
    )


def test_a_send_hour_that_does_not_exist_on_the_spring_forward_night_moves_forward():
    instant = at(dt.date(2027, 3, 14), hour=2, quiet=(0, 0))
    assert instant.astimezone(NY) == dt.datetime(2027, 3, 14, 3, tzinfo=NY)


@pytest.mark.parametrize(
    ("hour", "start", "end", "quiet"),
    [
        (19, 20, 8, False),
        (20, 20, 8, True),
        (3, 20, 8, True),
        (8, 20, 8, False),
        (10, 9, 17, True),
        (17, 9, 17, False),
        (3, 8, 8, False),  # start == end: no quiet hours
    ],
)
def test_quiet_hours_edges(hour, start, end, quiet):
    assert in_quiet_hours(dt.time(hour), start, end) is quiet
