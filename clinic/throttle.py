"""Lockouts an attacker cannot aim at a victim (docs/security.md, "Logging in" and "The second
factor").

A lock kept per username alone lets anyone who knows a colleague's username keep them out: five
wrong passwords from anywhere, and the owner's right one is refused. So both throttles here
count per (user, client address):

- wrong passwords (django-axes, `LoginLockoutHandler`): five from one address lock that
  username from that address; an address with `LOGIN_ADDRESS_FAILURE_LIMIT` failures over any
  usernames is locked for every username (one address guessing many accounts). The owner
  arriving from an address with no failures logs in.
- wrong second-factor codes (`wait_before_code`, `record_wrong_code`): each address waits
  longer after each wrong code (1 s, 2 s, 4 s, ... up to 15 minutes); every address together is
  capped at `USER_FAILURE_LIMIT` wrong codes an hour, and the user is emailed once per run of
  failures after `ALERT_AFTER` (whoever types codes already has the password).

The client address is `client_address(request)`: REMOTE_ADDR, or behind `TRUSTED_PROXY_COUNT`
reverse proxies the address the outermost one saw (docs/security.md says what to trust).
"""

import datetime
import ipaddress
import math

from axes.attempts import get_cool_off_threshold
from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username, get_failure_limit
from axes.models import AccessAttempt
from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Sum
from django.template.loader import render_to_string
from django.utils import timezone

from .models import SecondFactorFailures

# --- the client's address -------------------------------------------------------------------


def _ip(value: str) -> str | None:
    """The address as counted: an IPv6 client by its /64, the block one subscriber or host is
    given (counting each of its 2**64 addresses apart would let it guess without end); an
    IPv4 address written as IPv6 (::ffff:a.b.c.d) as IPv4."""
    try:
        address = ipaddress.ip_address(value.strip().strip("[]"))
    except ValueError:
        return None
    if address.version == 6 and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False).network_address)
    return str(address)


def client_address(request) -> str | None:
    """The address the request came from, as far as this server can know it.

    With no proxy (`TRUSTED_PROXY_COUNT` 0, the default) it is the socket's peer, REMOTE_ADDR:
    X-Forwarded-For is ignored, since anyone can send it. Behind n proxies that each append the
    address they saw to X-Forwarded-For (nginx: `$proxy_add_x_forwarded_for`), it is the n-th
    address from the right, the one the outermost proxy wrote; whatever a client put to the
    left of it is not read. A request with fewer entries than proxies did not come through
    them, and is known by its REMOTE_ADDR. None when there is none (a test's request)."""
    remote = _ip(request.META.get("REMOTE_ADDR", ""))
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies <= 0:
        return remote
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
    if len(forwarded) < proxies:
        return remote
    return _ip(forwarded[-proxies]) or remote


# --- wrong passwords (django-axes) ----------------------------------------------------------


def _failures(attempts) -> int:
    return attempts.aggregate(total=Sum("failures_since_start"))["total"] or 0


class LoginLockoutHandler(AxesDatabaseHandler):
    """axes' database handler with a limit per (username, address), AXES_FAILURE_LIMIT, and a
    higher one per address, LOGIN_ADDRESS_FAILURE_LIMIT (axes has one limit for every
    lockout parameter). An unknown username counts exactly as a known one, so the answers
    still tell nothing about who exists."""

    def get_failures(self, request, credentials=None) -> int:
        recent = AccessAttempt.objects.filter(attempt_time__gte=get_cool_off_threshold(request))
        from_address = recent.filter(ip_address=request.axes_ip_address)
        username = get_client_username(request, credentials)
        pair = _failures(from_address.filter(username=username))
        if _failures(from_address) >= settings.LOGIN_ADDRESS_FAILURE_LIMIT:
            return max(pair, get_failure_limit(request, credentials))
        return pair

    def reset_user_attempts(self, request, credentials=None) -> int:
        """A right password forgets that username's failures from that address only: axes
        would forget every failure from the address, and an attacker holding one account of
        their own could then guess at the others without end."""
        username = get_client_username(request, credentials)
        deleted, _ = AccessAttempt.objects.filter(
            username=username, ip_address=request.axes_ip_address
        ).delete()
        return deleted


# --- wrong second-factor codes --------------------------------------------------------------

ADDRESS_MAX_DELAY = datetime.timedelta(minutes=15)
# An address's wrong codes are forgotten after this long without one (or at a right code).
ADDRESS_FORGET_AFTER = datetime.timedelta(hours=1)
# Every address together: at most this many wrong codes in a window of an hour.
USER_WINDOW = datetime.timedelta(hours=1)
USER_FAILURE_LIMIT = 50
ALERT_AFTER = 5


class TooManyWrongCodes(Exception):
    def __init__(self, retry_after: int):
        super().__init__(retry_after)
        self.retry_after = retry_after

    @property
    def message(self) -> str:
        if self.retry_after > 90:
            wait = f"{math.ceil(self.retry_after / 60)} minutes"
        else:
            wait = f"{self.retry_after} second" + ("s" if self.retry_after != 1 else "")
        return f"Too many wrong codes: wait {wait}, then type the newest code."


def _address_delay(failures: int) -> datetime.timedelta:
    return min(datetime.timedelta(seconds=2 ** min(failures - 1, 20)), ADDRESS_MAX_DELAY)


def _row_address(address: str | None) -> str:
    # "" is the row of every address together; a request without an address has its own.
    return address or "unknown"


def wait_before_code(user, address: str | None, now=None) -> int:
    """Seconds before a code for this user may be tried from this address (0: now)."""
    now, address = now or timezone.now(), _row_address(address)
    rows = SecondFactorFailures.objects.filter(
        user=user, client_address__in=[address, SecondFactorFailures.EVERY_ADDRESS]
    )
    until = now
    for row in rows:
        if row.client_address == SecondFactorFailures.EVERY_ADDRESS:
            window_ends = row.first_failure_at + USER_WINDOW
            if row.failures >= USER_FAILURE_LIMIT and now < window_ends:
                until = max(until, window_ends)
        elif now - row.last_failure_at < ADDRESS_FORGET_AFTER:
            until = max(until, row.last_failure_at + _address_delay(row.failures))
    return math.ceil((until - now).total_seconds())


def _count(user, address: str, now, *, starts_over) -> SecondFactorFailures:
    row, created = SecondFactorFailures.objects.select_for_update().get_or_create(
        user=user,
        client_address=address,
        defaults={"failures": 1, "first_failure_at": now, "last_failure_at": now},
    )
    if created:
        return row
    if starts_over(row):
        row.failures, row.first_failure_at, row.alerted = 1, now, False
    else:
        row.failures += 1
    row.last_failure_at = now
    row.save()
    return row


def record_wrong_code(user, address: str | None, now=None) -> None:
    now, address = now or timezone.now(), _row_address(address)
    with transaction.atomic():
        # Addresses forgotten by now keep no row: guesses from many addresses leave no trail.
        SecondFactorFailures.objects.filter(
            user=user, last_failure_at__lte=now - ADDRESS_FORGET_AFTER
        ).exclude(client_address=SecondFactorFailures.EVERY_ADDRESS).delete()
        _count(
            user,
            address,
            now,
            starts_over=lambda row: now - row.last_failure_at >= ADDRESS_FORGET_AFTER,
        )
        every = _count(
            user,
            SecondFactorFailures.EVERY_ADDRESS,
            now,
            starts_over=lambda row: now >= row.first_failure_at + USER_WINDOW,
        )
        if every.failures >= ALERT_AFTER and not every.alerted:
            every.alerted = True
            every.save(update_fields=["alerted"])
            failures, since = every.failures, every.first_failure_at
            transaction.on_commit(lambda: send_wrong_codes_alert(user, failures, since))


def record_right_code(user, address: str | None) -> None:
    """The owner got in from here: this address starts afresh. The count over every address
    stays, so an attacker elsewhere gains nothing from the owner's logins."""
    SecondFactorFailures.objects.filter(user=user, client_address=_row_address(address)).delete()


def send_wrong_codes_alert(user, failures: int, since) -> None:
    """Tell the user that someone with their password is guessing at their second factor. No
    clinic, patient or address in it: only what the user needs to act."""
    if not user.email:
        return
    context = {"user": user, "failures": failures, "since": since, "site": settings.SITE_URL}
    subject = render_to_string("clinic/emails/wrong-codes-subject.txt", context).strip()
    body = render_to_string("clinic/emails/wrong-codes-body.txt", context)
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [user.email])
