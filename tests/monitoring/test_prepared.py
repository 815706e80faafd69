"""A query compiled once (clinic/prepared.py) answers exactly as its queryset, its plain
twin, for every shape the application prepares and for values the first call did not use."""

import pytest
from django.db.models import Sum

import rules
from clinic.prepared import Prepared
from monitoring import kept, worklist
from monitoring.models import TriageCount, TriageRow
from patients.models import RiskCategory
from tests import builders as states


def test_the_first_rows_of_each_group_equal_the_querysets(build, clinic, other_clinic):
    build(states.window_closing)
    build(states.ready)
    build(states.no_contraception)
    build(states.ready, can=False)
    compared = 0
    for target in (clinic, other_clinic):
        reading = kept.read(target)
        for (with_category, safety), query in worklist.FIRST_ROWS_QUERIES.items():
            groups = [rules.constants.SAFETY] if safety else rules.TRIAGE_LISTED_GROUPS
            for group in groups:
                for category in RiskCategory.values if with_category else [None]:
                    rows = TriageRow.objects.filter(
                        clinic=target, slot=reading.slot, group=group
                    ).order_by(*worklist.ORDER)
                    if category:
                        rows = rows.filter(risk_category=category)
                    columns = worklist.SAFETY_COLUMNS if safety else worklist.TODAY_COLUMNS
                    twin = list(rows.values_list(*columns)[: worklist.FIRST_ROWS])
                    values = {"clinic_id": target.pk, "slot": reading.slot, "group": group}
                    if category:
                        values["category"] = category
                    assert query(**values) == twin, (group, category)
                    compared += len(twin)
    assert compared >= 4  # each patient's row was compared, unfiltered and by its category


def test_the_counts_equal_the_querysets(build, clinic):
    build(states.window_closing)
    build(states.ready, can=False)
    reading = kept.read(clinic)
    for category in (None, *RiskCategory.values):
        counted = TriageCount.objects.filter(clinic=clinic, slot=reading.slot)
        if category:
            counted = counted.filter(risk_category=category)
        values = {"clinic_id": clinic.pk, "slot": reading.slot}
        if category:
            values["category"] = category
        twin = sorted(counted.values_list("group").annotate(n=Sum("n")).order_by())
        assert sorted(kept.COUNTS_QUERIES[bool(category)](**values)) == twin


def test_a_value_the_stand_in_never_reached_is_refused(db):
    """A shape whose varying value is not a parameter (here: ignored by the build) would run
    with the stand-in: it is refused when compiled."""

    query = Prepared(lambda clinic_id: TriageRow.objects.values_list("pk"), ints=("clinic_id",))
    with pytest.raises(ValueError):
        query(clinic_id=1)
