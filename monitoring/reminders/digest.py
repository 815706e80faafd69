"""The staff's daily digest: one email per clinic with Today's groups (docs/clinic-day.md).

The digest task runs every few minutes; a clinic's digest goes out once a day, once its
instant has come: the clinic's send hour moved out of quiet hours, computed by the same function
as a reminder's send_at. A unique `StaffDigest` row per clinic and day means a second beat does
not send it twice; a run after that only looks the row up (one cheap query) and stops.
"""

import datetime as dt
import logging
from dataclasses import dataclass, field

from django.db import IntegrityError, transaction
from django.utils import timezone

from clinic.models import Clinic, Membership
from clinic.roles import Role
from monitoring import codes, kept
from monitoring.models import StaffDigest
from monitoring.worklist import clinic_day

from .emails import staff_digest_email
from .timing import clinic_is_quiet, clinic_send_at

log = logging.getLogger(__name__)


@dataclass
class Summary:
    """The day's listed triage groups, by name only (the digest is email: no clinical detail),
    from the same `clinic_day` as Today, so the counts agree."""

    day: dt.date
    groups: list[tuple[str, str, list[str]]] = field(default_factory=list)
    opted_out: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not any(names for _, _, names in self.groups)

    def counts(self) -> dict[str, int]:
        return {key: len(names) for key, _, names in self.groups}


def summarize(clinic: Clinic, today: dt.date) -> Summary:
    # A worker, not a request: the clinic's kept rows are brought up to date first when they
    # are behind (normally a no-op), so the digest never lists yesterday's groups.
    kept.refresh_clinic(clinic)
    day = clinic_day(clinic, today)
    summary = Summary(day=today)
    for key, items in day.listed().items():
        summary.groups.append((key, codes.label(key), [item.patient.full_name for item in items]))
    summary.opted_out = sorted(
        item.patient.full_name
        for items in day.groups.values()
        for item in items
        if item.patient.email_opt_out
    )
    return summary


def recipients(clinic: Clinic) -> list[str]:
    members = Membership.objects.filter(
        clinic=clinic, role__in=[Role.STAFF, Role.CLINICIAN], user__is_active=True
    ).exclude(user__email="")
    return sorted(set(members.values_list("user__email", flat=True)))


def claim_day(clinic: Clinic, day: dt.date) -> StaffDigest | None:
    """The day's digest row, or None when another process already took it."""
    try:
        with transaction.atomic():
            return StaffDigest.objects.create(clinic=clinic, sent_on=day)
    except IntegrityError:
        return None


def digest_day(clinic: Clinic, now: dt.datetime) -> dt.date | None:
    """The day whose digest is due now, or None.

    A day's digest instant is computed like a reminder's send_at (`clinic_send_at`): the send
    hour in the clinic's zone, moved out of quiet hours. It is due once `now` has reached it,
    on the local day it falls on, outside quiet hours. A send hour in the evening part of
    overnight quiet hours (22:00 with 20-08) moves a day's digest to the next morning: that
    day's digest goes out then, still one a day."""
    today = clinic.today(now)
    if clinic_is_quiet(clinic, now):
        return None
    for day in (today, today - dt.timedelta(days=1)):
        instant = clinic_send_at(clinic, day)
        if instant.astimezone(clinic.zone).date() == today and now >= instant:
            return day
    return None


def already_sent(clinic: Clinic, day: dt.date) -> bool:
    return StaffDigest.objects.filter(clinic=clinic, sent_on=day).exists()


def send_digest(clinic: Clinic, now: dt.datetime | None = None, *, force: bool = False) -> bool:
    now = now or timezone.now()
    day = clinic.today(now) if force else digest_day(clinic, now)
    if day is None:
        return False
    # A cheap look first: most runs of the day come after the digest went out.
    if not force and already_sent(clinic, day):
        return False
    to = recipients(clinic)
    if not to:
        return False
    summary = summarize(clinic, clinic.today(now))
    # Claim, then send; a failed send gives the day back so the next run tries again.
    claimed = None if force else claim_day(clinic, day)
    if not force and claimed is None:
        return False
    try:
        staff_digest_email(clinic, summary, to).send()
    except Exception:
        if claimed is not None:
            claimed.delete()  # let the next run try again today
        raise
    return True


def send_digests(now: dt.datetime | None = None) -> int:
    sent = 0
    for clinic in Clinic.objects.order_by("pk"):
        try:
            sent += send_digest(clinic, now)
        except Exception:
            log.exception("staff digest for clinic %s failed", clinic.pk)
    return sent
