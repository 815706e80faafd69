from django.core.management.base import BaseCommand

from monitoring.reminders import dispatch, planner


class Command(BaseCommand):
    help = "Run the reminder planner once (with --dispatch, also claim and enqueue due rows)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--dispatch", action="store_true", dest="and_dispatch", help="Enqueue due reminders."
        )

    def handle(self, *args, and_dispatch: bool = False, **options):
        result = planner.plan_all()
        self.stdout.write(f"{result.patients} patients checked, {result.created} reminders added.")
        if and_dispatch:
            done = dispatch.dispatch()
            self.stdout.write(f"{done.enqueued} reminders enqueued.")
            if done.handed_back:
                self.stderr.write(
                    f"{done.handed_back} reminders could not be enqueued (the broker is not "
                    "reachable); they stay pending and go out once it is back."
                )
