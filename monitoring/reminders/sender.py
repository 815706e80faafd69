"""The body of the send task: re-check the row, send once, record the attempt.

Idempotent and safe under `acks_late`: the task takes only ids and does nothing for a row unless it
is claimed (status sending, claimed_at set). Starting an attempt swaps claimed_at for NULL in a
conditional UPDATE, so of two deliveries of the same message only one sends. The row is marked
sent only after the SMTP server accepted the message; a worker killed between the two leaves the
attempt open, and the dispatcher later records it as a possible duplicate.

Transient SMTP trouble (4xx, refused or dropped connections, timeouts) puts the row back to
pending with an exponential backoff (REMINDER_RETRY_BASE_SECONDS * 2**(attempt - 1)), moved out
of the clinic's quiet hours, at most REMINDER_MAX_ATTEMPTS attempts: the retry is a row, not a
far-future Celery ETA message, so it survives a Redis restart and shows on the staff page. A
permanent refusal (5xx) fails at once. A timeout, a dropped connection or the soft time limit
after the DATA command went out is an unknown outcome: retried like the others, and recorded
as a possible duplicate (`possible_duplicate`), since the server may have accepted the message.
"""

import datetime as dt
import logging
import os
import smtplib
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.backends.smtp import EmailBackend as SMTPBackend
from django.core.mail.message import sanitize_address
from django.db import connections, router
from django.utils import timezone

import rules
from monitoring.models import Reminder, ReminderStatus

from . import emails
from .dispatch import enqueue_sends
from .history_row import claimed_reminders, history_of
from .planner import needed
from .timing import clinic_allowed_at, clinic_is_quiet

log = logging.getLogger(__name__)


def recheck(reminder: Reminder, today: dt.date) -> tuple[str, str] | None:
    """(final status, reason) when the reminder must not go out, else None.

    The patient's history comes with the reminder, read `with_history` (one query for the row,
    its patient, clinic and records: history_row.py); a row read without it is a bug, not a
    reason for more queries."""
    patient = reminder.patient
    if patient.email_opt_out:
        return ReminderStatus.CANCELLED, "the patient opted out of reminder emails"
    if not patient.email:
        return ReminderStatus.CANCELLED, "the patient has no email address"
    if reminder.due_on < today:
        return ReminderStatus.EXPIRED, f"the due date passed before it could be sent ({today})"
    history = history_of(patient, reminder.history_json)
    if needed(rules.status(history, today)).get(reminder.kind) != reminder.due_on:
        return ReminderStatus.CANCELLED, "no longer needed"
    return None


def answered(error: BaseException) -> bool:
    """The SMTP server replied with a code: it said what it did with the message."""
    return isinstance(error, smtplib.SMTPRecipientsRefused | smtplib.SMTPResponseException)


def is_transient(error: BaseException) -> bool:
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in error.recipients.values()]
        return any(code < 500 for code in codes)
    if isinstance(error, smtplib.SMTPResponseException):
        return error.smtp_code < 500
    # Refused, reset or timed-out connections, a dropped session, the task's soft time limit.
    return isinstance(error, OSError | smtplib.SMTPException | SoftTimeLimitExceeded)


class SendError(Exception):
    """A send that failed; `maybe_sent` when the server may have the message anyway."""

    def __init__(self, error: BaseException, *, maybe_sent: bool):
        super().__init__(str(error))
        self.error = error
        self.maybe_sent = maybe_sent


# A connection unused for this long is closed before the next message: servers drop idle
# sessions (aiosmtpd after 300 s, many MTAs after 60 s or less).
IDLE_SECONDS = getattr(settings, "REMINDER_SMTP_IDLE_SECONDS", 30)


class _Connection(threading.local):
    """This process's SMTP connection, opened lazily and reused across messages.

    One per worker process (a prefork child opens its own on its first message; a connection
    inherited across a fork is left to its owner), and one per thread where a worker runs its
    tasks in threads (`--pool=threads`): an SMTP session carries one message at a time.
    It is dropped, with a best-effort QUIT, on any error, so the next message opens a fresh
    one; after IDLE_SECONDS without use, when the email settings change, and at worker
    shutdown (monitoring/tasks.py) it is closed.
    Only Django's SMTP backend is kept open: other backends (the file backend of development,
    locmem in tests) get a connection per message as before.
    """

    def __init__(self):
        self.backend = None
        self.key = None
        self.pid = None
        self.last_used = 0.0
        self.data_sent = False

    @staticmethod
    def settings_key() -> tuple:
        return tuple(
            getattr(settings, name, None)
            for name in (
                "EMAIL_BACKEND",
                "EMAIL_HOST",
                "EMAIL_PORT",
                "EMAIL_HOST_USER",
                "EMAIL_USE_TLS",
                "EMAIL_USE_SSL",
                "EMAIL_TIMEOUT",
            )
        )

    def current(self) -> tuple[object, bool]:
        """(an open backend, whether it was opened just now)."""
        idle = time.monotonic() - self.last_used
        if self.backend is not None and (
            self.pid != os.getpid() or self.key != self.settings_key() or idle > IDLE_SECONDS
        ):
            self.drop()
        if self.backend is not None:
            return self.backend, False
        backend = get_connection()
        backend.open()  # raises when the server cannot be reached: nothing was sent
        self.data_sent = False
        smtp = getattr(backend, "connection", None)
        if isinstance(smtp, smtplib.SMTP):
            issue_data = smtp.data

            def data(msg):
                self.data_sent = True
                return issue_data(msg)

            smtp.data = data
        if isinstance(backend, SMTPBackend):
            self.backend, self.key, self.pid = backend, self.settings_key(), os.getpid()
        return backend, True

    def release(self, backend) -> None:
        if backend is self.backend:
            self.last_used = time.monotonic()
        else:
            _close(backend)

    def drop(self) -> None:
        backend, self.backend = self.backend, None
        if backend is not None and self.pid == os.getpid():
            _close(backend)


def _close(backend) -> None:
    try:
        backend.close()  # a failed QUIT changes nothing for a message already accepted
    except Exception:  # noqa: S110  # nosec B110  # closing after the send: nothing to undo
        pass


_connection = _Connection()


def close_connection() -> None:
    """Close this process's SMTP connection (worker shutdown, tests)."""
    _connection.drop()


@dataclass(frozen=True)
class Wire:
    """A message as Django's SMTP backend hands it to smtplib (`EmailBackend._send`): the
    envelope's sender and recipients and the message's bytes. Made ahead of the send, in the
    batch's helper thread (deliver_many), so the task's own thread only talks to the server."""

    from_email: str
    recipients: list[str]
    data: bytes

    @classmethod
    def of(cls, message) -> "Wire":
        encoding = message.encoding or settings.DEFAULT_CHARSET
        return cls(
            sanitize_address(message.from_email, encoding),
            [sanitize_address(address, encoding) for address in message.recipients()],
            message.message().as_bytes(linesep="\r\n"),
        )


def _hand_over(backend, message, wire: Wire | None) -> None:
    smtp = getattr(backend, "connection", None)
    if wire is not None and isinstance(smtp, smtplib.SMTP) and wire.recipients:
        smtp.sendmail(wire.from_email, wire.recipients, wire.data)
    else:  # other backends (files in development, memory in tests), or nothing prepared
        backend.send_messages([message])


def send_once(message, wire: Wire | None = None) -> None:
    """Send one message on this process's connection and tell how far a failure got.

    Nothing can have been delivered when the connection could not be opened, was refused, or
    the server answered with a code (4xx, 5xx). A timeout, a dropped connection or the soft
    time limit once the DATA command went out leaves the outcome unknown: the server may have
    accepted the message without us reading its answer. With the SMTP backend the DATA command
    is watched on the smtplib connection; a backend without one counts as past DATA as soon as
    it is handed the message (the conservative answer).

    A reused connection the server has meanwhile closed fails before DATA: it is dropped and
    the message goes once more on a fresh connection (nothing can have been delivered).

    `wire`, when given, is `Wire.of(message)` made earlier: on an SMTP connection its bytes go
    to smtplib as they are, which is what Django's SMTP backend would have sent.
    """
    for _ in range(2):
        try:
            backend, fresh = _connection.current()
        except Exception as error:
            raise SendError(error, maybe_sent=False) from error
        _connection.data_sent = not isinstance(getattr(backend, "connection", None), smtplib.SMTP)
        try:
            _hand_over(backend, message, wire)
        except Exception as error:
            data_sent = _connection.data_sent
            if backend is _connection.backend:
                _connection.drop()  # any error: the next message opens a fresh connection
            else:
                _close(backend)
            stale = (
                not fresh
                and not data_sent
                and isinstance(error, OSError | smtplib.SMTPServerDisconnected)
                and not answered(error)
            )
            if stale:
                continue
            maybe = (
                data_sent and not answered(error) and not isinstance(error, ConnectionRefusedError)
            )
            raise SendError(error, maybe_sent=maybe) from error
        _connection.release(backend)
        return


def describe(error: BaseException) -> str:
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        detail = "; ".join(
            f"{code} {message.decode(errors='replace') if isinstance(message, bytes) else message}"
            for code, message in error.recipients.values()
        )
        return f"recipient refused: {detail}"[:400]
    return f"{type(error).__name__}: {error}"[:400]


def _claimed(pk: int, token: dt.datetime):
    return Reminder.objects.filter(pk=pk, status=ReminderStatus.SENDING, claimed_at=token)


def _in_attempt(pk: int):
    return Reminder.objects.filter(pk=pk, status=ReminderStatus.SENDING, claimed_at__isnull=True)


def _attempt_failed(reminder: Reminder, attempt: int, failure: SendError) -> str:
    now = timezone.now()
    error = failure.error
    text = f"attempt {attempt}: {describe(error)}"
    if failure.maybe_sent:
        text = f"attempt {attempt}: outcome unknown, possible duplicate: {describe(error)}"
    # Never cleared: a later 4xx, a cancellation or an expiry overwrites last_error, not this.
    flag = {"possible_duplicate": True} if failure.maybe_sent else {}
    if is_transient(error) and attempt < settings.REMINDER_MAX_ATTEMPTS:
        delay = settings.REMINDER_RETRY_BASE_SECONDS * 2 ** (attempt - 1)
        send_at = clinic_allowed_at(reminder.patient.clinic, now + dt.timedelta(seconds=delay))
        wait = (send_at - now).total_seconds()
        _in_attempt(reminder.pk).update(
            status=ReminderStatus.PENDING,
            send_at=send_at,
            last_error=f"{text}; next try in {wait:g} s"[:500],
            updated_at=now,
            **flag,
        )
        log.warning("reminder %s: %s; retrying at %s", reminder.pk, text, send_at)
        return "retry"
    _in_attempt(reminder.pk).update(
        status=ReminderStatus.FAILED, last_error=text[:500], updated_at=now, **flag
    )
    log.error("reminder %s failed: %s", reminder.pk, text)
    return "failed"


def deliver(reminder_id: int) -> str:
    """Send one claimed reminder. Returns what happened, for logs and tests."""
    return deliver_many([reminder_id])[0]


def deliver_many(ids: list[int]) -> list[str]:
    """Send a batch of claimed reminders, one after the other on this process's connection.

    The rows, their patients, clinics and histories are read in one query (history_row.py);
    each row then goes through the same compare-and-swap steps as a batch of one. The one
    difference: the row of a message the server accepted is marked sent by the statement that
    starts the next message's attempt (or on its own, before any other write and at the end),
    so a worker killed in between leaves that row as an open attempt, which the dispatcher
    records as a possible duplicate, as it does for a kill during the exchange itself.

    Rows not reached within `batch_seconds()` of that read, or after the task's soft time
    limit, are handed to a new task, which reads them afresh: no send acts on a check
    older than that. Returns one outcome per id, "handed on" for those.
    """
    started, budget = time.monotonic(), batch_seconds()
    ids = list(dict.fromkeys(ids))  # a row twice in one batch would be started twice
    reminders = claimed_reminders(ids)
    batch = _Batch()
    helper = ThreadPoolExecutor(1, thread_name_prefix="reminder-prepare") if len(ids) > 1 else None
    try:
        upcoming = _prepared_by(helper, reminders.get(ids[0])) if ids else None
        for index in range(len(ids)):
            if time.monotonic() - started > budget:
                return batch.outcomes + _hand_on(ids[index:])
            prepared = upcoming.result()
            if index + 1 < len(ids):
                # The next row's check and email are made while this one is on the wire.
                upcoming = _prepared_by(helper, reminders.get(ids[index + 1]))
            try:
                batch.outcomes.append(_deliver(prepared, batch))
            except _OutOfTime as stop:
                return [*batch.outcomes, stop.outcome, *_hand_on(ids[index + 1 :])]
        return batch.outcomes
    except SoftTimeLimitExceeded:
        # Struck outside an SMTP exchange (waiting on the helper, a database write): this row and
        # the rest go to a new task. A row still claimed is taken up there; one whose attempt
        # had just been written is skipped there and rescued by the dispatcher, flagged.
        return batch.outcomes + _hand_on(ids[len(batch.outcomes) :])
    finally:
        try:
            batch.mark_accepted()
        finally:
            if helper is not None:
                helper.shutdown(wait=False, cancel_futures=True)


@dataclass
class _Prepared:
    """A row with what its send needs and can be made without the database."""

    reminder: Reminder | None
    verdict: tuple[str, str] | None = None
    message: EmailMultiAlternatives | None = None
    wire: Wire | None = None
    error: Exception | None = None  # the check or the email could not be made


def _prepare(reminder: Reminder | None) -> _Prepared:
    """The re-check and the email of a claimed row: no query (the history came with the row),
    so a helper thread can make them for the next row while the task waits on SMTP and the
    database for this one. Rows not claimed are left to `_deliver`. A failure is kept with
    the row, which `_deliver` records as failed: one bad row never holds up its batch."""
    if reminder is None or reminder.status != ReminderStatus.SENDING or not reminder.claimed_at:
        return _Prepared(reminder)
    try:
        if getattr(reminder, "history_json", None) is None:
            raise ValueError("read without its history (history_row.py)")
        verdict = recheck(reminder, reminder.patient.clinic.today())
        if verdict is not None:
            return _Prepared(reminder, verdict)
        message = emails.reminder_email(reminder)
    except SoftTimeLimitExceeded:
        raise  # the task's time is up (a batch of one prepares in the task's thread): hand on
    except Exception as error:
        return _Prepared(reminder, error=error)
    try:
        wire = Wire.of(message)
    except Exception:
        # An address smtplib cannot take (sanitize_address raises): Django's backend raises
        # the same inside send_once, where the attempt is recorded as failed.
        wire = None
    return _Prepared(reminder, message=message, wire=wire)


def _prepared_by(helper: ThreadPoolExecutor | None, reminder: Reminder | None) -> Future:
    if helper is not None:
        return helper.submit(_prepare, reminder)
    done: Future = Future()
    try:
        done.set_result(_prepare(reminder))
    except Exception as error:
        done.set_exception(error)
    return done


def batch_seconds() -> float:
    """How long after its read a batch may start another message: REMINDER_SEND_BATCH_SECONDS,
    and never more than a quarter of the task's time limit, so the rest of a slow batch goes to
    a new task long before the soft limit can strike in the middle of an SMTP exchange."""
    return min(settings.REMINDER_SEND_BATCH_SECONDS, settings.REMINDER_SEND_TIME_LIMIT_SECONDS / 4)


class _Batch:
    def __init__(self):
        self.outcomes: list[str] = []
        self.accepted: int | None = None  # accepted by the server, not yet marked sent

    # `accepted` is cleared only once a write marked it: if the write raises, `finally` in
    # deliver_many tries again (a second mark of a row already sent matches nothing).
    def mark_accepted(self) -> None:
        if self.accepted is not None:
            _mark_sent(self.accepted)
            self.accepted = None

    def start(self, pk: int, token: dt.datetime) -> bool:
        started = _start_attempt(pk, token, self.accepted)
        self.accepted = None
        return started


class _OutOfTime(Exception):
    """The task's soft time limit ended an attempt: the rest of the batch goes to a new task."""

    def __init__(self, outcome: str):
        super().__init__(outcome)
        self.outcome = outcome


def _hand_on(ids: list[int]) -> list[str]:
    if ids:
        # Still claimed: if the broker is down, the dispatcher claims them again later.
        enqueue_sends(ids)
    return ["handed on"] * len(ids)


def _deliver(prepared: _Prepared, batch: _Batch) -> str:
    reminder = prepared.reminder
    if reminder is None:
        return "missing"
    if reminder.status != ReminderStatus.SENDING or reminder.claimed_at is None:
        return "skipped"  # final, not claimed, or another delivery of this message is sending
    token = reminder.claimed_at
    if prepared.error is not None:
        batch.mark_accepted()
        log.error("reminder %s: its email could not be made", reminder.pk, exc_info=prepared.error)
        _claimed(reminder.pk, token).update(
            status=ReminderStatus.FAILED,
            last_error=f"the email could not be made: {describe(prepared.error)}"[:500],
            claimed_at=None,
            updated_at=timezone.now(),
        )
        return str(ReminderStatus.FAILED)
    if prepared.verdict is not None:
        status, reason = prepared.verdict
        batch.mark_accepted()
        _claimed(reminder.pk, token).update(
            status=status, last_error=reason, claimed_at=None, updated_at=timezone.now()
        )
        return str(status)
    clinic = reminder.patient.clinic
    now = timezone.now()
    if clinic_is_quiet(clinic, now):
        # Claimed before quiet hours began, rescued, or delayed in the queue: it waits.
        batch.mark_accepted()
        _claimed(reminder.pk, token).update(
            status=ReminderStatus.PENDING,
            claimed_at=None,
            send_at=clinic_allowed_at(clinic, now),
            updated_at=now,
        )
        return "deferred"
    if not batch.start(reminder.pk, token):
        return "raced"
    attempt = reminder.attempts + 1
    try:
        send_once(prepared.message, prepared.wire)
    except SendError as failure:  # every failure is recorded on the row
        outcome = _attempt_failed(reminder, attempt, failure)
        if isinstance(failure.error, SoftTimeLimitExceeded):
            raise _OutOfTime(outcome) from failure
        return outcome
    # Accepted by the SMTP server: only now is it sent (marked with the next write).
    batch.accepted = reminder.pk
    return "sent"


# The writes every message makes, as SQL written once per database vendor from the model's
# metadata: compiling the equivalent querysets cost more than running them (the same reason as
# history_row.claimed_row_sql). In a batch, the row of a message the server accepted is marked
# sent by the same statement that starts the next message's attempt: one round trip and one
# commit per message. tests/reminders/test_batches.py checks the outcomes row by row.
@cache
def _update_sql(vendor: str) -> dict[str, str]:
    meta = Reminder._meta
    quote = connections[router.db_for_write(Reminder)].ops.quote_name

    def column(name: str) -> str:
        return quote(meta.get_field(name).column)

    table, pk = quote(meta.db_table), quote(meta.pk.column)
    status, claimed_at, updated_at = column("status"), column("claimed_at"), column("updated_at")
    attempts, last_error = column("attempts"), column("last_error")
    sent_at, possible_duplicate = column("sent_at"), column("possible_duplicate")
    return {
        # _claimed(pk, token).update(claimed_at=None, attempts=F("attempts") + 1, updated_at=now)
        # params: now, pk, "sending", token
        "start": (
            f"UPDATE {table} SET {claimed_at} = NULL, {attempts} = {attempts} + 1,"  # noqa: S608  # nosec B608  # metadata
            f" {updated_at} = %s WHERE {pk} = %s AND {status} = %s AND {claimed_at} = %s"
        ),
        # filter(pk=pk, status="sending").update(status="sent", sent_at=now, updated_at=now,
        #   last_error=Case(When(possible_duplicate=True, then=F("last_error")), default=""))
        # An earlier attempt's error no longer describes the row; a possible duplicate keeps its
        # explanation beside its flag. Not conditional on the claim, so a slow attempt that was
        # meanwhile rescued by the dispatcher still ends as sent.
        # params: "sent", now, now, pk, "sending"
        "sent": (
            f"UPDATE {table} SET {status} = %s, {sent_at} = %s, {updated_at} = %s,"  # noqa: S608  # nosec B608  # metadata
            f" {last_error} = CASE WHEN {possible_duplicate} THEN {last_error} ELSE '' END"
            f" WHERE {pk} = %s AND {status} = %s"
        ),
        # Both at once, on two rows: "sent" for the accepted one, "start" for the next one.
        # RETURNING tells which rows matched (PostgreSQL, SQLite 3.35 and later).
        # params: accepted, "sent", accepted, now, accepted, pk, pk, now, "sending",
        #   accepted, pk, token
        "sent_and_start": (
            f"UPDATE {table} SET"  # noqa: S608  # nosec B608  # metadata
            f" {status} = CASE WHEN {pk} = %s THEN %s ELSE {status} END,"
            f" {sent_at} = CASE WHEN {pk} = %s THEN %s ELSE {sent_at} END,"
            f" {last_error} = CASE WHEN {pk} = %s AND NOT {possible_duplicate} THEN ''"
            f" ELSE {last_error} END,"
            f" {claimed_at} = CASE WHEN {pk} = %s THEN NULL ELSE {claimed_at} END,"
            f" {attempts} = CASE WHEN {pk} = %s THEN {attempts} + 1 ELSE {attempts} END,"
            f" {updated_at} = %s"
            f" WHERE {status} = %s AND ({pk} = %s OR ({pk} = %s AND {claimed_at} = %s))"
            f" RETURNING {pk}"
        ),
    }


def _write(name: str, params: list) -> list:
    """Run one of _update_sql's statements: its rows (RETURNING) or its row count."""
    connection = connections[router.db_for_write(Reminder)]
    with connection.cursor() as cursor:
        cursor.execute(_update_sql(connection.vendor)[name], params)
        if name == "sent_and_start":
            return [row[0] for row in cursor.fetchall()]
        return [None] * cursor.rowcount


def _now():
    return connections[router.db_for_write(Reminder)].ops.adapt_datetimefield_value(timezone.now())


def _start_attempt(pk: int, token: dt.datetime, accepted: int | None = None) -> bool:
    """Swap the claim for an open attempt; False when another delivery got there first.
    With `accepted`, that row is marked sent by the same statement."""
    adapt = connections[router.db_for_write(Reminder)].ops.adapt_datetimefield_value
    sending, now = ReminderStatus.SENDING.value, _now()
    if accepted is None:
        return len(_write("start", [now, pk, sending, adapt(token)])) == 1
    if accepted == pk:
        raise ValueError("a row cannot be marked sent and started at once")
    sent = ReminderStatus.SENT.value
    params = [accepted, sent, accepted, now, accepted, pk, pk, now, sending, accepted, pk]
    return pk in _write("sent_and_start", [*params, adapt(token)])


def _mark_sent(pk: int) -> None:
    now = _now()
    _write("sent", [ReminderStatus.SENT.value, now, now, pk, ReminderStatus.SENDING.value])
