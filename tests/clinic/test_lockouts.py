"""Lockouts an attacker cannot aim at a victim (issue 20, item 3; clinic/throttle.py).

Wrong passwords and wrong second-factor codes are counted per (user, client address): the
attacker's address is slowed down or locked, the owner arriving from elsewhere gets in. Caps
per address (passwords) and per user (codes) bound what many addresses together can do, and the
user hears about a run of wrong codes by email.
"""

import datetime

import pytest
import time_machine
from django.core import mail
from django.test import Client, RequestFactory, override_settings
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticDevice

from clinic import throttle
from clinic.models import SecondFactorFailures
from clinic.twofactor import new_backup_codes
from tests.auth import totp_code
from tests.concurrency import at_once, require_postgresql
from tests.factories import member

PASSWORD = "correct-horse-battery"
TOKEN_URL = "/api/v1/auth/token/"
ATTACKER = "203.0.113.9"
OWNER = "198.51.100.7"
PROXY = "10.0.0.2"


def from_address(address: str, **headers) -> Client:
    return Client(REMOTE_ADDR=address, **headers)


def log_in(client, username, password=PASSWORD):
    return client.post(reverse("login"), {"username": username, "password": password})


def wrong_code(code: str) -> str:
    return "000000" if code != "000000" else "111111"


# --- wrong passwords ------------------------------------------------------------------------


def test_an_attackers_failures_lock_the_username_from_their_address_only(clinic):
    user = member(clinic, "staff")
    attacker = from_address(ATTACKER)
    for _ in range(5):
        log_in(attacker, user.username, "nope")
    assert log_in(attacker, user.username).status_code == 429
    assert log_in(from_address(OWNER), user.username).status_code == 302


def test_the_lock_looks_the_same_for_an_unknown_username(clinic):
    user = member(clinic, "staff")
    attacker = from_address(ATTACKER)
    answers = {}
    for username in (user.username, "nobody-here"):
        for _ in range(5):
            log_in(attacker, username, "nope")
        answers[username] = log_in(attacker, username, "nope")
    known, unknown = answers.values()
    assert known.status_code == unknown.status_code == 429
    assert known.content == unknown.content


def test_one_address_guessing_many_usernames_is_locked_for_all_of_them(clinic, settings):
    users = [member(clinic, "staff") for _ in range(11)]
    attacker = from_address(ATTACKER)
    for user in users[:10]:  # three each: under the per-username limit
        for _ in range(3):
            log_in(attacker, user.username, "nope")
    assert settings.LOGIN_ADDRESS_FAILURE_LIMIT == 30
    # Even a right password, of an account the address never tried, is refused from there.
    assert log_in(attacker, users[10].username).status_code == 429
    assert log_in(from_address(OWNER), users[10].username).status_code == 302


def test_logging_into_an_account_of_ones_own_does_not_reset_the_address(clinic):
    own = member(clinic, "staff")
    others = [member(clinic, "staff") for _ in range(10)]
    attacker = from_address(ATTACKER)
    for user in others:
        for _ in range(3):
            log_in(attacker, user.username, "nope")
        if user == others[8]:  # 27 failures so far
            assert log_in(attacker, own.username).status_code == 302
            attacker.post(reverse("logout"))
    assert log_in(attacker, own.username).status_code == 429


def test_the_token_endpoint_counts_per_address_too(clinic):
    user = member(clinic, "staff")
    attacker = from_address(ATTACKER)
    body = {"username": user.username, "password": "nope"}
    for _ in range(5):
        attacker.post(TOKEN_URL, body, content_type="application/json")
    body["password"] = PASSWORD
    refused = attacker.post(TOKEN_URL, body, content_type="application/json")
    assert refused.status_code == 400 and "token" not in refused.json()
    owner = from_address(OWNER).post(TOKEN_URL, body, content_type="application/json")
    assert list(owner.json()) == ["token"]


# --- the client's address -------------------------------------------------------------------


def address_of(remote: str, forwarded: str | None = None) -> str:
    headers = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        headers["HTTP_X_FORWARDED_FOR"] = forwarded
    return throttle.client_address(RequestFactory().get("/", **headers))


def test_an_ipv6_client_is_counted_by_its_64_block():
    assert (
        address_of("2001:db8:1:2:aaaa::1")
        == address_of("2001:db8:1:2:bbbb::9")
        == ("2001:db8:1:2::")
    )
    assert address_of("2001:db8:1:3::1") == "2001:db8:1:3::"
    assert address_of("::ffff:203.0.113.9") == ATTACKER


def test_addresses_of_one_ipv6_block_share_the_lock(clinic):
    user = member(clinic, "staff")
    for index in range(5):
        log_in(from_address(f"2001:db8:1:2::{index + 1:x}"), user.username, "nope")
    assert log_in(from_address("2001:db8:1:2::99"), user.username).status_code == 429
    assert log_in(from_address("2001:db8:1:3::1"), user.username).status_code == 302


def test_without_a_proxy_x_forwarded_for_is_ignored():
    assert address_of(ATTACKER, f"{OWNER}") == ATTACKER


@override_settings(TRUSTED_PROXY_COUNT=1)
def test_behind_one_proxy_the_address_it_appended_counts_and_nothing_to_its_left():
    assert address_of(PROXY, OWNER) == OWNER
    # The attacker wrote the owner's address themselves; nginx appended the real one.
    assert address_of(PROXY, f"{OWNER}, {ATTACKER}") == ATTACKER
    assert address_of(PROXY, "") == PROXY  # not through the proxy: its own peer
    assert address_of(PROXY, "not-an-address") == PROXY


@override_settings(TRUSTED_PROXY_COUNT=2)
def test_behind_two_proxies_the_outer_ones_entry_counts():
    assert address_of(PROXY, f"{OWNER}, {ATTACKER}, 10.0.0.1") == ATTACKER
    assert address_of(PROXY, ATTACKER) == PROXY


def test_forged_forwarded_addresses_do_not_escape_the_lock_without_a_proxy(clinic):
    user = member(clinic, "staff")
    for index in range(5):
        log_in(from_address(ATTACKER, HTTP_X_FORWARDED_FOR=f"192.0.2.{index}"), user.username, "x")
    assert log_in(from_address(ATTACKER), user.username).status_code == 429


@override_settings(TRUSTED_PROXY_COUNT=1)
def test_behind_the_proxy_the_owner_gets_in_while_the_attacker_is_locked(clinic):
    user = member(clinic, "staff")
    attacker = from_address(PROXY, HTTP_X_FORWARDED_FOR=f"{OWNER}, {ATTACKER}")
    for _ in range(5):
        log_in(attacker, user.username, "nope")
    assert log_in(attacker, user.username).status_code == 429
    owner = from_address(PROXY, HTTP_X_FORWARDED_FOR=OWNER)
    assert log_in(owner, user.username).status_code == 302


# --- wrong second-factor codes --------------------------------------------------------------


def signed_in(address: str, user) -> Client:
    """A browser at `address` past the password, at the code page."""
    client = from_address(address)
    assert log_in(client, user.username).status_code == 302
    return client


def type_code(client, code):
    return client.post(reverse("otp_verify"), {"code": code})


@pytest.fixture
def frozen():
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        yield traveller


def test_the_owners_right_code_is_accepted_while_the_attackers_address_waits(clinician, frozen):
    code = totp_code(clinician)
    attacker = signed_in(ATTACKER, clinician)
    assert type_code(attacker, wrong_code(code)).status_code == 400
    for _ in range(3):
        assert type_code(attacker, wrong_code(code)).status_code == 429
    owner = signed_in(OWNER, clinician)
    assert type_code(owner, code).status_code == 302
    assert type_code(attacker, code).status_code == 429  # still waiting, right code or not


def test_the_owners_backup_code_is_accepted_while_the_attackers_address_waits(clinician, frozen):
    totp_code(clinician)
    codes = new_backup_codes(clinician)
    attacker = signed_in(ATTACKER, clinician)
    type_code(attacker, "aaaaaaaa")
    assert type_code(attacker, "bbbbbbbb").status_code == 429
    assert type_code(signed_in(OWNER, clinician), codes[0]).status_code == 302
    assert StaticDevice.objects.get(user=clinician).token_set.count() == 9


def test_each_wrong_code_doubles_the_wait_of_that_address(clinician, frozen):
    code = totp_code(clinician)
    attacker = signed_in(ATTACKER, clinician)
    waits = []
    for _ in range(5):
        assert type_code(attacker, wrong_code(code)).status_code == 400
        waits.append(throttle.wait_before_code(clinician, ATTACKER))
        frozen.shift(waits[-1])
    assert waits == [1, 2, 4, 8, 16]


def test_the_token_endpoint_throttles_per_address_too(clinician, frozen):
    code = totp_code(clinician)
    body = {"username": clinician.username, "password": PASSWORD, "otp": wrong_code(code)}
    attacker = from_address(ATTACKER)
    attacker.post(TOKEN_URL, body, content_type="application/json")
    refused = attacker.post(TOKEN_URL, body, content_type="application/json")
    assert refused.status_code == 400
    assert "Too many wrong codes" in refused.json()["otp"][0]
    body["otp"] = code
    owner = from_address(OWNER).post(TOKEN_URL, body, content_type="application/json")
    assert list(owner.json()) == ["token"]


def guess_from_many_addresses(user, code, count, first=1):
    body = {"username": user.username, "password": PASSWORD, "otp": wrong_code(code)}
    for index in range(first, first + count):
        answer = from_address(f"192.0.2.{index}").post(
            TOKEN_URL, body, content_type="application/json"
        )
        assert answer.json()["otp"] == ["The code is wrong or has expired."]


def test_wrong_codes_from_many_addresses_are_capped_per_user(clinician, frozen):
    code = totp_code(clinician)
    limit = throttle.USER_FAILURE_LIMIT
    guess_from_many_addresses(clinician, code, limit - 1)
    # Under the cap, the owner is not slowed down by anyone's guesses.
    assert type_code(signed_in(OWNER, clinician), code).status_code == 302
    guess_from_many_addresses(clinician, code, 1, first=limit)
    # At the cap, every address waits until the hour of guesses is over, the owner's too.
    refused = type_code(signed_in("198.51.100.8", clinician), code)
    assert refused.status_code == 429
    assert "minutes" in refused.context["form"].errors["code"][0]
    frozen.shift(datetime.timedelta(hours=1, seconds=1))
    assert type_code(signed_in("198.51.100.8", clinician), totp_code(clinician)).status_code == 302


def test_the_user_is_emailed_once_per_run_of_wrong_codes(
    clinician, frozen, django_capture_on_commit_callbacks, patient
):
    code = totp_code(clinician)
    with django_capture_on_commit_callbacks(execute=True):
        guess_from_many_addresses(clinician, code, throttle.ALERT_AFTER - 1)
        assert mail.outbox == []
        guess_from_many_addresses(clinician, code, 8, first=throttle.ALERT_AFTER)
    (alert,) = mail.outbox
    assert alert.to == [clinician.email]
    assert alert.subject == "Wrong sign-in codes on your clinic account"
    assert f"typed {throttle.ALERT_AFTER} wrong second-factor codes" in alert.body
    assert clinician.username in alert.body
    for clinical in (patient.given_name, patient.family_name, patient.mrn, patient.email):
        assert clinical not in alert.body and clinical not in alert.subject
    for address in ("192.0.2.", OWNER):
        assert address not in alert.body
    # A new run, an hour later, is a new alert.
    frozen.shift(datetime.timedelta(hours=1, seconds=1))
    with django_capture_on_commit_callbacks(execute=True):
        guess_from_many_addresses(clinician, code, throttle.ALERT_AFTER, first=100)
    assert len(mail.outbox) == 2


@pytest.mark.django_db(transaction=True)
def test_parallel_guesses_from_one_address_are_counted_one_at_a_time(clinic):
    # Without the user's row lock each of these passed the wait before any was counted.
    require_postgresql()
    user = member(clinic, "clinician")
    body = {"username": user.username, "password": PASSWORD, "otp": wrong_code(totp_code(user))}

    def guess():
        answer = from_address(ATTACKER).post(TOKEN_URL, body, content_type="application/json")
        return answer.json()["otp"][0]

    answers = at_once(*[guess] * 6)
    assert answers.count("The code is wrong or has expired.") == 1, answers
    assert sum("Too many wrong codes" in answer for answer in answers) == 5


def test_an_addresses_count_is_forgotten_an_hour_after_its_last_wrong_code(clinician, frozen):
    code = totp_code(clinician)
    guess_from_many_addresses(clinician, code, 3)
    frozen.shift(datetime.timedelta(hours=1))
    guess_from_many_addresses(clinician, code, 1, first=50)
    left = SecondFactorFailures.objects.filter(user=clinician)
    assert sorted(left.values_list("client_address", flat=True)) == ["", "192.0.2.50"]
