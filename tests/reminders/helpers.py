"""Test doubles for the reminder tests."""

import smtplib

from django.core.mail.backends.locmem import EmailBackend


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
