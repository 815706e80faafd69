"""Within a group, Today lists patients by date and then by name, read from the kept rows' own
copy of the name (docs/clinic-day.md); renaming a patient moves them at once."""

from monitoring import enrollment, worklist
from tests.builders import window_closing
from tests.triage import kept_row


def _names(clinic, group):
    items = worklist.today_page(clinic).items
    return [(i.patient.family_name, i.patient.given_name) for i in items[group]]


def test_same_day_patients_are_listed_by_name_and_a_rename_moves_them(builder, staff, clinic):
    first = builder.enroll(family_name="Zimmer", given_name="Ada")
    second = builder.enroll(family_name="Abbot", given_name="Ben")
    for patient in (first, second):
        window_closing(builder, patient)
    group = kept_row(first).group
    assert kept_row(second).group == group
    assert _names(clinic, group) == [("Abbot", "Ben"), ("Zimmer", "Ada")]

    enrollment.update_patient(
        second, by=staff, data={"family_name": "Zuber"}, may_allow_home_tests=False
    )
    row = kept_row(second)
    assert (row.family_name, row.given_name) == ("Zuber", "Ben")
    assert _names(clinic, group) == [("Zimmer", "Ada"), ("Zuber", "Ben")]
