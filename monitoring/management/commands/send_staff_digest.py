from django.core.management.base import BaseCommand, CommandError

from clinic.models import Clinic
from monitoring.reminders import digest


class Command(BaseCommand):
    help = "Send a clinic's staff digest now, whatever the hour (it may then go twice today)."

    def add_arguments(self, parser):
        parser.add_argument("clinic_id", type=int)

    def handle(self, *args, clinic_id: int, **options):
        clinic = Clinic.objects.filter(pk=clinic_id).first()
        if clinic is None:
            raise CommandError(f"No clinic with id {clinic_id}.")
        if digest.send_digest(clinic, force=True):
            self.stdout.write("Digest sent.")
        else:
            self.stdout.write("No staff member with an email address: nothing sent.")
