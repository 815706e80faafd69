"""Test doubles for the reminder tests."""

import datetime as dt
import smtplib

from django.core.mail.backends.locmem import EmailBackend

NOW = dt.datetime(2027, 5, 3, 16, 0, tzinfo=dt.UTC)  # 12:00 in New York, a Monday


class ScriptedBackend(EmailBackend):
    """The locmem backend, but each send first takes the next error from `script` (None = ok)."""

    script: list = []

    def send_messages(self, messages):
        if ScriptedBackend.script:
            error = ScriptedBackend.script.pop(0)
            if error is not None:
                raise error
        return super().send_messages(messages)


def refused(code: int, address: str = "alex@example.org"):
    return smtplib.SMTPRecipientsRefused({address: (code, b"scripted answer")})
