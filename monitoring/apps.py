from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    name = "monitoring"
    verbose_name = "Monitoring"

    def ready(self):
        from clinic.core import services as clinic_services
        from patients import services

        # The dispatcher enqueues sends by the task's name from Celery's registry
        # (monitoring/reminders/dispatch.py); a worker imports the tasks itself, but the web
        # server and `plan_reminders --dispatch` would not have them without this import.
        from . import tasks  # noqa: F401
        from .worklist import mark_stale, refresh_patient

        # Every write to a patient's records rewrites the patient's kept triage row in the
        # same transaction (docs/clinic-day.md).
        if refresh_patient not in services.AFTER_WRITE:
            services.AFTER_WRITE.append(refresh_patient)
        # A change of the clinic's settings (horizon, rule dates) changes every answer.
        if mark_stale not in clinic_services.AFTER_SETTINGS_CHANGE:
            clinic_services.AFTER_SETTINGS_CHANGE.append(mark_stale)
