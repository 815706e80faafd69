"""List the stored values that hold characters the text fields now refuse (clinic.text):
rows written before the check existed, or by a door that skipped it.

Each line names the model, the row's id and the field, never the value (it may be a patient's
name). Exits with status 1 when any is found, so a deploy script or a cron job can alert on it.
Every field whose model declares a clinic.text validator is read, in every installed app.
"""

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError

from clinic.text import TextValidator, first_refused

CHUNK = 2000


def checked_fields(model) -> list[tuple[str, TextValidator]]:
    fields = []
    for field in model._meta.concrete_fields:
        checks = [v for v in field.validators if isinstance(v, TextValidator)]
        if checks:
            fields.append((field.attname, checks[0]))
    return fields


def unsafe_values():
    """(model label, row id, field name) of every stored value holding a refused character."""
    for model in apps.get_models():
        fields = checked_fields(model)
        if not fields:
            continue
        names = [name for name, _ in fields]
        rows = model._default_manager.order_by("pk").values_list("pk", *names)
        for pk, *values in rows.iterator(chunk_size=CHUNK):
            for (name, check), value in zip(fields, values, strict=True):
                if isinstance(value, str) and first_refused(value, check.refused) is not None:
                    yield model._meta.label, pk, name


class Command(BaseCommand):
    help = (
        "List rows whose text holds control, invisible or direction characters (model, id, "
        "field; never the value). Exits 1 when any is found."
    )

    def handle(self, *args, **options):
        found = 0
        for label, pk, name in unsafe_values():
            found += 1
            self.stdout.write(f"{label} id={pk} field={name}")
        if found:
            raise CommandError(
                f"{found} stored value{'s' if found != 1 else ''} hold characters the text fields "
                "refuse; correct them on the record's page or in the admin.",
                returncode=1,
            )
        self.stdout.write("No stored text holds control, invisible or direction characters.")
