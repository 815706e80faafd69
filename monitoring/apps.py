from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    name = "monitoring"
    verbose_name = "Monitoring"

    def ready(self):
        from clinic.core import services as clinic_services
        from patients import services

        from .worklist import mark_stale, refresh_patient

        # Every write to a patient's records rewrites the patient's kept triage row in the
        # same transaction (docs/clinic-day.md).
        if refresh_patient not in services.AFTER_WRITE:
            services.AFTER_WRITE.append(refresh_patient)
        # A change of the clinic's settings (horizon, rule dates) changes every answer.
        if mark_stale not in clinic_services.AFTER_SETTINGS_CHANGE:
            clinic_services.AFTER_SETTINGS_CHANGE.append(mark_stale)
