"""Reading the kept triage rows in tests (docs/clinic-day.md, "Kept rows")."""

from monitoring.kept import slot_of
from monitoring.models import TriageRow


def kept_row(patient, on=None) -> TriageRow:
    """The patient's kept row for `on` (default: the clinic's today)."""
    return TriageRow.objects.get(patient=patient, slot=slot_of(on or patient.clinic.today()))
