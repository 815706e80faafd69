"""The rules snapshot is read in a fixed number of queries and says what the rows say."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from monitoring.history import load_histories, load_history
from patients.models import Patient
from tests import builders as states

# courses, consents, contraception, pregnancy tests, labs, visits, their mood reviews,
# prescriptions, comprehension reports, risk category changes
SNAPSHOT_QUERIES = 10


def test_one_history_costs_ten_queries_however_many_records(build):
    patient = build(states.in_treatment, enrolled=-80)
    patient = Patient.objects.select_related("clinic").get(pk=patient.pk)
    with CaptureQueriesContext(connection) as queries:
        course, history = load_history(patient)
    assert len(queries) == SNAPSHOT_QUERIES
    assert len(history.prescriptions) == 2
    assert {t.kind for t in history.pregnancy_tests} == {"screening", "confirmation", "monthly"}
    assert all(p.dispensed_on for p in history.prescriptions)


@pytest.mark.parametrize("count", [3, 12])
def test_many_histories_cost_the_same_queries(build, count):
    for _ in range(count):
        build(states.mood_review)
    patients = list(Patient.objects.select_related("clinic"))
    with CaptureQueriesContext(connection) as queries:
        histories = load_histories(patients)
    assert len(queries) == SNAPSHOT_QUERIES
    assert len(histories) == count
    assert all(any(v.phq9_item9 for v in h.visits) for _, h in histories.values())


def test_records_of_an_earlier_course_stay_out_of_the_snapshot(build, builder):
    from monitoring.models import Course

    patient = build(states.ready)
    Course.objects.create(patient=patient, opened_on=builder.today, target_mg_per_kg=120)
    course, history = load_history(patient)
    assert course.opened_on == builder.today
    assert history.pregnancy_tests == () and history.visits == ()
    assert len(history.consents) == 2  # consents stay valid for the patient


def test_the_dated_risk_category_reaches_the_rules(build, builder, clinician):
    """A change from cannot to can on day X: X - 1 is judged as cannot, X as can."""
    import datetime

    import rules
    from patients.services import change_risk_category

    patient = build(states.cannot_ready, can=False)
    changed_on = builder.today
    change_risk_category(
        patient, by=clinician, new="can_get_pregnant", changed_on=changed_on, reason="Re-assessed"
    )
    _, history = load_history(Patient.objects.select_related("clinic").get(pk=patient.pk))
    before = rules.status(history, changed_on - datetime.timedelta(days=1))
    on_the_day = rules.status(history, changed_on)
    assert "pregnancy_test_missing" not in {b.code for b in before.blockers}
    assert "pregnancy_test_missing" in {b.code for b in on_the_day.blockers}


def test_the_pages_get_the_records_in_each_models_order_whatever_order_they_were_entered(
    build, builder, clinician
):
    """load_records sorts in Python, not in SQL (history._in_model_order): labs entered newest
    first still come oldest first, and risk category changes newest first, as Meta.ordering
    says."""
    import datetime

    from monitoring.history import load_records
    from patients.services import change_risk_category

    patient = build(states.ready)
    builder.lab(patient, "alt", -2, "61", "U/L")
    builder.lab(patient, "alt", -30, "62", "U/L")
    builder.lab(patient, "alt", -2, "63", "U/L")  # the same day: the id breaks the tie
    for new, days_ago in (("cannot_get_pregnant", 10), ("can_get_pregnant", 3)):
        change_risk_category(
            patient,
            by=clinician,
            new=new,
            changed_on=builder.today - datetime.timedelta(days=days_ago),
            reason="Re-assessed",
        )
    patient = Patient.objects.select_related("clinic").get(pk=patient.pk)
    records = load_records([patient])[patient.pk]
    for rows in (records.labs, records.risk_changes, records.tests, records.consents):
        in_sql_order = type(rows[0]).objects.filter(pk__in=[r.pk for r in rows])
        assert [r.pk for r in rows] == [r.pk for r in in_sql_order]
    mine = [lab.value for lab in records.labs if lab.value in (61, 62, 63)]
    assert mine == [62, 61, 63]
    assert [c.new for c in records.risk_changes] == ["can_get_pregnant", "cannot_get_pregnant"]
