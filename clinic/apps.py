from django.apps import AppConfig


class ClinicConfig(AppConfig):
    """The core app keeps the label `clinic` that its tables and migrations were made under."""

    name = "clinic"
    label = "clinic"
    verbose_name = "Clinic"
