"""Logs a clinic can keep, and error reports without patient data (docs/deploy-settings.md).

One log format for gunicorn (deploy/gunicorn.conf.py), Django and Celery (config/celery.py):
plain lines, or JSON lines with LOG_FORMAT=json. Every line carries the request id of the request
it was written for (clinic/request_id.py) and the id of the Celery task it was written in.
No line may carry patient data: the patient search never puts its term in a URL
(monitoring/patient_views.py), access lines show the path without the query string, and an email
address that reaches a message anyway (an SMTP server's refusal quotes the recipient) is
replaced by "[email]".

Errors go to Sentry when SENTRY_DSN is set, to the ADMINS by email otherwise; neither report
carries request bodies, query strings, cookies, local variables or the user's identity.

Only the standard library is imported at module level: gunicorn's configuration imports this
module before Django is set up.
"""

import contextvars
import datetime
import json
import logging
import re
from collections.abc import Mapping

from clinic.request_id import current_request_id

# The Celery task being run in this thread (set and cleared by config/celery.py's signals).
TASK_ID: contextvars.ContextVar[str] = contextvars.ContextVar("task_id", default="")

EMAIL_ADDRESS = re.compile(r"[\w.+'-]+@[\w-]+(\.[\w-]+)+")
ISO_DATE = re.compile(r"\b(19|20)\d\d-[01]\d-[0-3]\d\b")
QUERY_STRING = re.compile(r"\?\S*")
REDACTED_EMAIL = "[email]"
REDACTED = "[Filtered]"

PLAIN_FORMAT = (
    "%(asctime)s %(levelname)s %(name)s request=%(request_id)s task=%(task_id)s %(message)s"
)
# gunicorn's access line: the path without the query string (%(U)s, never %(r)s or %(q)s), and the
# request id the application answered with (clinic/request_id.py).
ACCESS_LOG_FORMAT = '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms'
ACCESS_REQUEST_ID_ATOM = "{x-request-id}o"


def redact(text: str) -> str:
    return EMAIL_ADDRESS.sub(REDACTED_EMAIL, text)


class ContextFilter(logging.Filter):
    """Adds request_id and task_id to every record, and takes any email address out of its
    message (the record is shared by every handler, so the email to the admins is clean too)."""

    def filter(self, record: logging.LogRecord) -> bool:
        # Django logs a 4xx answer after the middleware has returned: the request it passes
        # along (django.request's extra) carries the id (clinic/request_id.py).
        request_id = current_request_id() or getattr(
            getattr(record, "request", None), "request_id", ""
        )
        if not request_id and isinstance(record.args, Mapping):
            # A gunicorn access line is written after the response has left the application:
            # its request id is the X-Request-ID header of that response.
            request_id = record.args.get(ACCESS_REQUEST_ID_ATOM, "")
            if request_id == "-":
                request_id = ""
        record.request_id = getattr(record, "request_id", "") or request_id or "-"
        record.task_id = getattr(record, "task_id", "") or TASK_ID.get() or "-"
        if record.name == "django.server" and record.args:
            # The development server's request line: its path, never its query string.
            line, *rest = record.args
            record.args = (QUERY_STRING.sub("", str(line)), *rest)
        if record.name != "gunicorn.access":  # its atoms are read by the JSON formatter
            message = record.getMessage()
            record.msg, record.args = redact(message), ()
        return True


class PlainFormatter(logging.Formatter):
    def __init__(self, fmt: str = PLAIN_FORMAT, *args, **kwargs):
        super().__init__(fmt, *args, **kwargs)

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, request_id,
    task_id, and for an access line its method, path, status, bytes and duration."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.datetime.fromtimestamp(record.created, datetime.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
            "task_id": getattr(record, "task_id", "-"),
        }
        if record.name == "gunicorn.access" and isinstance(record.args, Mapping):
            atoms = record.args
            line.update(
                remote=atoms.get("h"),
                method=atoms.get("m"),
                path=atoms.get("U"),
                status=atoms.get("s"),
                bytes=atoms.get("B"),
                duration_ms=atoms.get("M"),
            )
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return redact(json.dumps(line, default=str))


def formatter_config(log_format: str) -> dict:
    if log_format == "json":
        return {"()": "config.observability.JsonFormatter"}
    return {"()": "config.observability.PlainFormatter"}


def logging_config(log_format: str, level: str, *, mail_admins: bool) -> dict:
    """Django's LOGGING (and, through config/celery.py, Celery's): one handler on stdout/stderr
    for everything, plus the admins' email for errors when Sentry is not configured."""
    handlers = {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "clinic",
            "filters": ["context"],
        },
    }
    root_handlers = ["console"]
    if mail_admins:
        handlers["mail_admins"] = {
            "class": "django.utils.log.AdminEmailHandler",
            "level": "ERROR",
            "filters": ["context", "require_debug_false"],
        }
        root_handlers.append("mail_admins")
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "context": {"()": "config.observability.ContextFilter"},
            "require_debug_false": {"()": "django.utils.log.RequireDebugFalse"},
        },
        "formatters": {"clinic": formatter_config(log_format)},
        "handlers": handlers,
        "root": {"handlers": root_handlers, "level": level},
        "loggers": {
            # Django's own loggers propagate to the root's handlers, and no more than once.
            "django": {"handlers": [], "propagate": True},
            "django.request": {"handlers": [], "propagate": True},
            "django.server": {"handlers": [], "propagate": True},
            "django.db.backends": {"level": "WARNING"},
            "axes": {"level": "WARNING"},
            # redis-py logs each new connection at DEBUG ("Failed to enable maintenance
            # notifications" against Redis 7): noise in every task's log, outside its context.
            "redis": {"level": "WARNING"},
        },
    }


# --- error reports ------------------------------------------------------------------------------

# Request headers that say nothing about a patient; every other header is dropped from a report.
SAFE_HEADERS = ("user-agent", "x-request-id", "host", "content-type", "content-length")


def scrub_text(value):
    if isinstance(value, str):
        return ISO_DATE.sub("[date]", redact(value))
    return value


def scrub_event(event: dict, hint: dict | None = None) -> dict:
    """Sentry's before_send: what leaves the process has no request body, query string, cookie,
    header beyond SAFE_HEADERS, local variable or user identity, and no email address or ISO
    date (a date of birth) in a message or exception value."""
    request = event.get("request")
    if isinstance(request, dict):
        for key in ("data", "cookies", "query_string", "env"):
            request.pop(key, None)
        if isinstance(request.get("url"), str):
            request["url"] = request["url"].split("?", 1)[0]
        headers = request.get("headers")
        if isinstance(headers, Mapping):
            request["headers"] = {
                name: value for name, value in headers.items() if name.lower() in SAFE_HEADERS
            }
    user = event.get("user")
    if isinstance(user, dict):
        event["user"] = {"id": user["id"]} if "id" in user else {}
    for exception in (event.get("exception") or {}).get("values") or []:
        exception["value"] = scrub_text(exception.get("value"))
        for frame in (exception.get("stacktrace") or {}).get("frames") or []:
            frame.pop("vars", None)
    for thread in (event.get("threads") or {}).get("values") or []:
        for frame in (thread.get("stacktrace") or {}).get("frames") or []:
            frame.pop("vars", None)
    if "logentry" in event and isinstance(event["logentry"], dict):
        entry = event["logentry"]
        entry["message"] = scrub_text(entry.get("message"))
        entry["formatted"] = scrub_text(entry.get("formatted"))
        entry.pop("params", None)
    event["message"] = scrub_text(event.get("message"))
    if event["message"] is None:
        event.pop("message")
    breadcrumbs = event.get("breadcrumbs")
    crumbs = breadcrumbs.get("values") if isinstance(breadcrumbs, dict) else breadcrumbs
    for crumb in crumbs or []:
        crumb.pop("data", None)
        crumb["message"] = scrub_text(crumb.get("message"))
    event.pop("extra", None)
    return event


def init_sentry(dsn: str, *, environment: str, release: str) -> None:
    """Errors of requests and tasks to Sentry, with nothing of the patient (scrub_event)."""
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration

    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        release=release,
        integrations=[DjangoIntegration(), CeleryIntegration()],
        # sentry-sdk 3's data_collection replaces send_default_pii (False): no user identity,
        # cookies, bodies, query strings, database parameters or local variables are collected.
        data_collection={
            "user_info": False,
            "cookies": {"mode": "off"},
            "http_headers": {"request": {"mode": "allowlist", "terms": list(SAFE_HEADERS)}},
            "http_bodies": [],
            "url_query_params": {"mode": "off"},
            "database_query_data": False,
            "stack_frame_variables": False,
        },
        before_send=scrub_event,
        traces_sample_rate=0.0,
    )
