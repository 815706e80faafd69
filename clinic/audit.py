"""Audit helpers on top of django-auditlog.

Writes are logged by auditlog's registration of each model; this module adds the actor for
writes that do not come through a logged-in browser request (API tokens, tasks, commands) and
the access event for each view of a patient's record (docs/quality.md A6).
"""

import contextlib

from auditlog.context import set_actor
from auditlog.signals import accessed


@contextlib.contextmanager
def acting_as(user):
    """Attribute audit entries written inside the block to `user`."""
    if user is None or not getattr(user, "is_authenticated", False):
        yield
        return
    with set_actor(user):
        yield


def log_view(user, instance) -> None:
    """One access event for a view of a record."""
    with acting_as(user):
        accessed.send(sender=instance.__class__, instance=instance)


def log_export(user, clinic, patients: list, what: str) -> None:
    """One access event for an export: which patients it carried out of the app, and what.

    A CSV of 10,000 rows is one line on the audit page, not 10,000; the patient ids are in it,
    so "who exported this patient" can still be answered."""
    from auditlog.models import LogEntry
    from django.contrib.contenttypes.models import ContentType

    LogEntry.objects.create(
        content_type=ContentType.objects.get_for_model(clinic),
        object_pk=str(clinic.pk),
        object_id=clinic.pk,
        object_repr=f"{what}: {len(patients)} patient{'s' if len(patients) != 1 else ''}",
        action=LogEntry.Action.ACCESS,
        actor=user if getattr(user, "is_authenticated", False) else None,
        actor_email=getattr(user, "email", None) or None,
        additional_data={"clinic_id": clinic.pk, "export": what, "patient_ids": list(patients)},
    )


def person(user) -> str:
    """A user as the audit page and the record pages name them: full name, else username."""
    return user.get_full_name() or user.get_username()
