"""Write the search key of patients who have none (patients/search.py).

Saving a patient writes its key; a patient the previous release enrolled while an upgrade was
being installed (migrations run first, docs/operations.md) has none until this runs. It prints
counts only, never a patient's name."""

from django.core.management.base import BaseCommand
from django.db import transaction

from patients import search
from patients.models import SEARCHED_FIELDS, Patient

BATCH = 2000


class Command(BaseCommand):
    help = "Write the search key of patients who have none (after an upgrade)."

    def add_arguments(self, parser):
        parser.add_argument("--all", action="store_true", help="Rewrite every patient's key.")

    def handle(self, *args, **options):
        patients = (
            Patient.objects.all() if options["all"] else Patient.objects.filter(search_key="")
        )
        fields = sorted(SEARCHED_FIELDS)
        ids = list(patients.order_by("pk").values_list("pk", flat=True))
        for start in range(0, len(ids), BATCH):
            with transaction.atomic():
                chunk = Patient.objects.filter(pk__in=ids[start : start + BATCH])
                for pk, *values in chunk.values_list("pk", *fields):
                    key = search.key_for(**dict(zip(fields, values, strict=True)))
                    Patient.objects.filter(pk=pk).update(search_key=key)
        self.stdout.write(f"Search keys written: {len(ids)} patients.")
