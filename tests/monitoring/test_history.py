"""The rules snapshot is read in a fixed number of queries and says what the rows say."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from clinic import demo
from monitoring.history import load_histories, load_history
from patients.models import Patient

# courses, consents, contraception, pregnancy tests, labs, visits, their mood reviews,
# prescriptions, comprehension reports
SNAPSHOT_QUERIES = 9


def test_one_history_costs_nine_queries_however_many_records(build):
    patient = build(demo.scenario_in_treatment, enrolled=-80)
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
        build(demo.scenario_mood_review)
    patients = list(Patient.objects.select_related("clinic"))
    with CaptureQueriesContext(connection) as queries:
        histories = load_histories(patients)
    assert len(queries) == SNAPSHOT_QUERIES
    assert len(histories) == count
    assert all(any(v.phq9_item9 for v in h.visits) for _, h in histories.values())


def test_records_of_an_earlier_course_stay_out_of_the_snapshot(build, builder):
    from monitoring.models import Course

    patient = build(demo.scenario_ready)
    Course.objects.create(patient=patient, opened_on=builder.today, target_mg_per_kg=120)
    course, history = load_history(patient)
    assert course.opened_on == builder.today
    assert history.pregnancy_tests == () and history.visits == ()
    assert len(history.consents) == 2  # consents stay valid for the patient
