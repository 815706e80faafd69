"""`manage.py refresh_triage`: what beat's periodic task does, and after an upgrade a full
recompute that writes only what changed (docs/operations.md, "How to upgrade")."""

from io import StringIO

from django.core.management import call_command

from monitoring import kept
from monitoring.models import TriageRow
from tests import builders as states
from tests.triage import kept_row


def run(*args) -> str:
    out = StringIO()
    call_command("refresh_triage", *args, stdout=out)
    return out.getvalue()


def test_it_writes_nothing_for_current_rows_and_rewrites_what_changed(build, clinic):
    patient = build(states.window_closing)
    assert f"Clinic {clinic.pk}: 0 rows written." in run()
    assert f"Clinic {clinic.pk}: 0 rows written." in run("--recompute")
    # A row the previous release left wrong is found only by a recompute.
    TriageRow.objects.filter(patient=patient).update(what="left by the previous release")
    assert f"Clinic {clinic.pk}: 0 rows written." in run()
    assert f"Clinic {clinic.pk}: 2 rows written." in run("--recompute")
    assert kept_row(patient).what != "left by the previous release"
    assert kept.read(clinic).current
