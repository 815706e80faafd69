"""When a reminder goes out: the clinic's send hour on a day, never in quiet hours.

Every send instant goes through `leave_quiet_hours`: planned sends (`clinic_send_at`), retries
and staff resends (`clinic_allowed_at`), the staff digest (`clinic_send_at` without `now`); the
dispatcher and the sender also hold back rows of a clinic that is quiet now (`clinic_is_quiet`).

Pure functions of dates, hours and a ZoneInfo. The local wall-clock time is built in the
clinic's zone and only then converted to UTC, so 09:00 stays 09:00 on the days daylight saving
starts and ends (docs/quality.md F7).
"""

import datetime as dt
from zoneinfo import ZoneInfo

from clinic.models import in_quiet_hours

UTC = dt.UTC


def _wall_clock(day: dt.date, hour: int, zone: ZoneInfo) -> dt.datetime:
    # A wall-clock time that does not exist (02:30 on the night clocks go forward) comes back
    # as the real instant an hour later instead of a time that never happens.
    return dt.datetime.combine(day, dt.time(hour), tzinfo=zone).astimezone(UTC).astimezone(zone)


def leave_quiet_hours(local: dt.datetime, start: int, end: int) -> dt.datetime:
    """The first moment at or after `local` outside quiet hours."""
    if not in_quiet_hours(local.timetz().replace(tzinfo=None), start, end):
        return local
    day = local.date()
    if start > end and local.hour >= start:  # the evening part of an overnight window
        day += dt.timedelta(days=1)
    return _wall_clock(day, end, local.tzinfo)


def send_at(
    send_day: dt.date,
    *,
    zone: ZoneInfo,
    send_hour: int,
    quiet_start: int,
    quiet_end: int,
    now: dt.datetime | None = None,
) -> dt.datetime:
    """The UTC instant to send something planned for `send_day`: the send hour in the
    clinic's zone, not before `now` (when given), moved out of quiet hours."""
    local = _wall_clock(send_day, send_hour, zone)
    if now is not None:
        now_local = now.astimezone(zone)
        if local < now_local:
            local = now_local
    return leave_quiet_hours(local, quiet_start, quiet_end).astimezone(UTC)


def clinic_send_at(clinic, send_day: dt.date, now: dt.datetime | None = None) -> dt.datetime:
    """`send_at` with the clinic's zone, send hour and quiet hours. Reminders pass `now`; the
    staff digest does not (its instant for a day is fixed, see digest.py)."""
    return send_at(
        send_day,
        zone=clinic.zone,
        send_hour=clinic.reminder_send_hour,
        quiet_start=clinic.quiet_hours_start,
        quiet_end=clinic.quiet_hours_end,
        now=now,
    )


def clinic_allowed_at(clinic, moment: dt.datetime) -> dt.datetime:
    """The first UTC instant at or after `moment` outside the clinic's quiet hours: every
    send_at that is not planned for a send hour (a retry, a staff "Send again", a deferral)
    goes through here."""
    local = moment.astimezone(clinic.zone)
    return leave_quiet_hours(local, clinic.quiet_hours_start, clinic.quiet_hours_end).astimezone(
        UTC
    )


def clinic_is_quiet(clinic, now: dt.datetime) -> bool:
    """Whether `now` falls in the clinic's quiet hours (local wall clock)."""
    local = now.astimezone(clinic.zone).time()
    return in_quiet_hours(local, clinic.quiet_hours_start, clinic.quiet_hours_end)
