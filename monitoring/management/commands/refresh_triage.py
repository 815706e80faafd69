from django.core.management.base import BaseCommand

from clinic.models import Clinic
from monitoring import kept


class Command(BaseCommand):
    help = (
        "Bring every clinic's kept triage rows up to date for today and tomorrow, as beat's "
        'periodic task does (docs/clinic-day.md, "Kept rows"). --recompute recomputes every '
        "patient even when the rows say they are current (after an upgrade, docs/operations.md)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--recompute",
            action="store_true",
            help="Recompute every patient; only the rows whose answer changed are written.",
        )

    def handle(self, *args, recompute: bool = False, **options):
        for clinic in Clinic.objects.order_by("pk"):
            if recompute:
                kept.mark_stale(clinic)
            written = kept.refresh_clinic(clinic)
            self.stdout.write(f"Clinic {clinic.pk}: {written} rows written.")
