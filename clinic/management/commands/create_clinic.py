"""Create a clinic and its first clinic admin (docs/deploy.md), without the Django admin.

    manage.py create_clinic --name "Riverside Dermatology" --time-zone America/Chicago \\
        --admin-username jdoe --admin-email jdoe@riverside.example

The admin is emailed an invitation link (the Team page's), which is also printed here. With
--with-password the admin's password is read from CLINIC_ADMIN_PASSWORD or asked at a prompt
instead: never from an argument, which `ps` and the shell's history would keep. Running it again
with the same arguments changes nothing (an admin who has not yet set a password gets a new
link, and the earlier one stops working); any other clash, or a mail server that refuses the
invitation, is an error naming the argument or the cause, and nothing is created.
"""

import getpass
import os

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from clinic.provisioning import create_clinic
from clinic.team import InvitationNotSent

PASSWORD_VARIABLE = "CLINIC_ADMIN_PASSWORD"  # noqa: S105  # nosec B105  # a name, not a secret

# The service's field names as the command's user typed them.
ARGUMENTS = {
    "name": "--name",
    "time_zone": "--time-zone",
    "admin_username": "--admin-username",
    "admin_email": "--admin-email",
    "password": f"the password ({PASSWORD_VARIABLE} or the prompt)",
}


class Command(BaseCommand):
    help = "Create a clinic and its first clinic admin, who is emailed an invitation link."

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True, help="The clinic's name, as staff see it.")
        parser.add_argument(
            "--time-zone", required=True, help="The clinic's time zone, e.g. America/New_York."
        )
        parser.add_argument("--admin-username", required=True)
        parser.add_argument("--admin-email", required=True)
        parser.add_argument(
            "--with-password",
            action="store_true",
            help=f"Set the admin's password from {PASSWORD_VARIABLE}, or a prompt, instead of "
            "sending an invitation.",
        )

    def handle(self, *args, **options):
        password = self.read_password() if options["with_password"] else None
        try:
            outcome = create_clinic(
                name=options["name"],
                time_zone=options["time_zone"],
                admin_username=options["admin_username"],
                admin_email=options["admin_email"],
                password=password,
            )
        except ValidationError as error:
            raise CommandError(self.explain(error)) from None
        except InvitationNotSent as refused:
            cause = refused.__cause__
            raise CommandError(
                f"The invitation email could not be sent ({type(cause).__name__}: {cause}). "
                "Nothing was created. Check EMAIL_HOST, EMAIL_PORT and the relay's answer, then "
                "run the command again (or use --with-password)."
            ) from None
        clinic, admin = outcome.clinic, outcome.admin
        if outcome.created:
            self.stdout.write(
                f"Created clinic “{clinic.name}” (id {clinic.pk}, {clinic.time_zone}) with "
                f"clinic admin {admin.username} <{admin.email}>."
            )
        else:
            self.stdout.write(
                f"Clinic “{clinic.name}” (id {clinic.pk}) and its clinic admin "
                f"{admin.username} exist already; nothing changed."
            )
        if outcome.link:
            self.stdout.write(
                f"Invitation emailed to {admin.email}. The link works once, for "
                f"{settings.INVITE_MAX_AGE_HOURS} hours:\n{outcome.link}"
            )
        elif outcome.created:
            self.stdout.write("The password is set; a second factor is set up at the first login.")

    def read_password(self) -> str:
        password = os.environ.get(PASSWORD_VARIABLE)
        if password:
            return password
        if not self.stdin_is_a_terminal():
            raise CommandError(
                f"--with-password: set {PASSWORD_VARIABLE}, or run the command in a terminal "
                "to be asked for the password."
            )
        first = getpass.getpass("Clinic admin's password: ")
        if first != getpass.getpass("The same password again: "):
            raise CommandError("The two passwords differ; nothing was created.")
        return first

    def stdin_is_a_terminal(self) -> bool:
        return os.isatty(0)

    def explain(self, error: ValidationError) -> str:
        lines = [
            f"{ARGUMENTS.get(field, field)}: {' '.join(messages)}"
            for field, messages in error.message_dict.items()
        ]
        return "\n".join(lines) + "\nNothing was created."
