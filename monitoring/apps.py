from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    name = "monitoring"
    verbose_name = "Monitoring"

    def ready(self):
        from django.db.models.signals import post_delete, post_save

        from clinic import services as clinic_services
        from clinic.models import Clinic
        from patients import services

        # The dispatcher enqueues sends by the task's name from Celery's registry
        # (monitoring/reminders/dispatch.py); a worker imports the tasks itself, but the web
        # server and `plan_reminders --dispatch` would not have them without this import.
        from . import (
            kept,
            tasks,  # noqa: F401
        )
        from .models import TriageRow

        # Every write to a patient's records rewrites the patient's kept triage row in the
        # same transaction (docs/clinic-day.md).
        if kept.refresh_patient not in services.AFTER_WRITE:
            services.AFTER_WRITE.append(kept.refresh_patient)
        # A change of the clinic's settings (horizon, rule dates) changes every answer: the
        # rows are refreshed by a worker, not in the request.
        if kept.mark_stale not in clinic_services.AFTER_SETTINGS_CHANGE:
            clinic_services.AFTER_SETTINGS_CHANGE.append(kept.mark_stale)
        post_save.connect(_new_clinic, sender=Clinic, dispatch_uid="triage-slots-of-new-clinic")
        post_delete.connect(_row_deleted, sender=TriageRow, dispatch_uid="triage-count-of-row")


def _new_clinic(sender, instance, created, raw=False, **kwargs):
    """A new clinic starts with complete (empty) rows for today and tomorrow."""
    if created and not raw:
        from . import kept

        kept.start_clinic(instance)


def _row_deleted(sender, instance, **kwargs):
    """A patient deleted takes their kept rows along (a cascade): their counts go too."""
    from collections import Counter

    from . import kept

    kept.apply_counts(
        instance.clinic_id, instance.slot, Counter({(instance.group, instance.risk_category): -1})
    )
