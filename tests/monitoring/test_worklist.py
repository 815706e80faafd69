"""Today's worklist: who is on which list, in which order, for whom, and at what cost."""

import csv
import datetime
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from clinic import demo
from monitoring import worklist
from monitoring.models import Visit
from tests.factories import enroll, member

URL = reverse("monitoring:worklist")


def rows(response, section):
    for key, _title, found in response.context["sections"]:
        if key == section:
            return found
    raise AssertionError(f"no section {section}")


def pks(found):
    return [row.patient.pk for row in found]


def overdue_by(days):
    """In treatment, the first supply dispensed so that the monthly test is `days` overdue."""

    def scenario(b, patient):
        # supply end = dispensed + 29; the monthly test is due two days before it.
        dispensed = -(27 + days)
        demo.ready_first_prescription(b, patient, confirmation_on=dispensed - 1)
        b.prescribe(patient, dispensed - 1, dispensed=dispensed)

    return scenario


def test_windows_closing_are_sorted_by_closing_date(client_for, staff, build):
    later = build(demo.scenario_ready)  # closes today + 5
    sooner = build(demo.scenario_window_closing)  # closes today + 1
    found = rows(client_for(staff).get(URL), worklist.CLOSING)
    assert pks(found) == [sooner.pk, later.pk]
    today = later.clinic.today()
    assert [r.on for r in found] == [
        today + datetime.timedelta(days=1),
        today + datetime.timedelta(days=5),
    ]
    assert "Write the prescription" in found[0].next_step


def test_overdue_items_are_sorted_by_days_overdue(client_for, staff, build):
    two = build(overdue_by(2), enrolled=-80)
    nine = build(overdue_by(9), enrolled=-80)
    found = [
        r
        for r in rows(client_for(staff).get(URL), worklist.OVERDUE)
        if r.code == "monthly_test_due"
    ]
    assert pks(found) == [nine.pk, two.pk]
    assert [r.days_overdue for r in found] == [9, 2]
    assert found[0].next_step == "Book the monthly pregnancy test."


def test_due_this_week_comes_from_the_engines_due_list(client_for, staff, build):
    soon = build(overdue_by(-3), enrolled=-80)  # monthly test due in 3 days
    found = rows(client_for(staff).get(URL), worklist.DUE)
    mine = [r for r in found if r.patient.pk == soon.pk]
    assert {r.code for r in mine} >= {"monthly_test_due", "visit_due"}
    assert all(r.days == 3 for r in mine if r.code == "monthly_test_due")
    assert [r.on for r in found] == sorted(r.on for r in found)


def test_blocked_patients_show_their_first_blocker(client_for, staff, build):
    patient = build(demo.scenario_no_contraception)
    response = client_for(staff).get(URL)
    (row,) = [r for r in rows(response, worklist.BLOCKED) if r.patient.pk == patient.pk]
    assert row.code == "contraception_unconfirmed"
    assert row.next_step == "Confirm two forms of contraception with the patient."
    assert patient.get_absolute_url() in response.content.decode()


def test_an_ended_course_moves_to_post_treatment_with_its_due_dates(
    client_for, staff, clinician, build
):
    patient = build(demo.scenario_ended, enrolled=-80)
    response = client_for(staff).get(URL)
    assert patient.pk not in pks(rows(response, worklist.BLOCKED))
    (row,) = rows(response, worklist.POST_TREATMENT)
    last_dose = patient.clinic.today() - datetime.timedelta(days=1)
    assert row.patient.pk == patient.pk
    assert "Post-treatment pregnancy test" in row.what
    assert f"{last_dose + datetime.timedelta(days=30):%d %b %Y}" in row.what
    assert row.on == last_dose  # the end-of-treatment test comes first
    assert "end_of_treatment_test_due" in [r.code for r in rows(response, worklist.OVERDUE)]


def test_mood_reviews_wait_for_clinicians_only(client_for, clinician, staff, build):
    patient = build(demo.scenario_mood_review)
    visit = Visit.objects.get(patient=patient, phq9_item9=1)
    response = client_for(clinician).get(URL)
    (row,) = rows(response, worklist.MOOD)
    assert row.patient.pk == patient.pk and row.visit_id == visit.pk
    assert reverse("monitoring:mood_review", args=[visit.pk]) in response.content.decode()
    staff_response = client_for(staff).get(URL)
    assert worklist.MOOD not in [key for key, _t, _r in staff_response.context["sections"]]


def test_filters_by_risk_category_and_list(client_for, staff, build):
    can = build(demo.scenario_window_closing)
    cannot = build(demo.scenario_new, can=False)  # blocked: baseline labs missing
    client = client_for(staff)
    response = client.get(URL, {"category": "cannot_get_pregnant"})
    every = {pk for _k, _t, found in response.context["sections"] for pk in pks(found)}
    assert every == {cannot.pk}
    response = client.get(URL, {"section": "closing"})
    assert [key for key, _t, _r in response.context["sections"]] == ["closing"]
    assert pks(rows(response, "closing")) == [can.pk]
    # Unknown filter values are ignored, never a 500.
    assert client.get(URL, {"category": "x", "section": "<script>"}).status_code == 200


def test_csv_export_of_one_list(client_for, staff, build):
    patient = build(demo.scenario_window_closing)
    response = client_for(staff).get(URL, {"format": "csv", "section": "closing"})
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    table = list(csv.reader(io.StringIO(response.content.decode())))
    assert table[0] == list(worklist.CSV_HEADER)
    assert [line[2] for line in table[1:]] == [patient.mrn]
    assert table[1][0] == worklist.SECTIONS["closing"]


def test_csv_cells_cannot_run_as_formulas(client_for, staff, clinic):
    enroll(
        clinic, by=staff, given_name='=HYPERLINK("http://x")', family_name="@SUM(A1)", mrn="+123"
    )
    response = client_for(staff).get(URL, {"format": "csv", "section": "blocked"})
    (line,) = list(csv.reader(io.StringIO(response.content.decode())))[1:]
    assert line[1] == '\'=HYPERLINK("http://x") @SUM(A1)'
    assert line[2] == "'+123"
    assert worklist.safe_cell("-2") == "'-2" and worklist.safe_cell("plain") == "plain"


def test_another_clinics_patients_never_appear(client_for, staff, build, other_clinic):
    mine = build(demo.scenario_window_closing)
    b_staff = member(other_clinic, "staff")
    theirs = [enroll(other_clinic, by=b_staff) for _ in range(2)]
    response = client_for(staff).get(URL)
    every = {pk for _k, _t, found in response.context["sections"] for pk in pks(found)}
    assert mine.pk in every
    assert not every & {p.pk for p in theirs}
    exported = client_for(staff).get(URL, {"format": "csv"}).content.decode()
    assert all(p.mrn not in exported for p in theirs)


def test_staff_and_clinicians_land_on_the_worklist(client_for, staff, clinic_admin):
    assert client_for(staff).get("/")["Location"] == URL
    assert client_for(clinic_admin).get("/")["Location"] == reverse("audit_log")


def crowd(clinic, staff, count):
    """`count` patients: a few in real states through the services, the rest enrolled with a
    visit each (bulk-created: the cost under test is reading, not writing)."""
    builder = demo.Builder(clinic, staff, staff, clinic.today())
    patients = [enroll(clinic, by=staff) for _ in range(count)]
    Visit.objects.bulk_create(
        Visit(patient=p, visited_on=p.enrolled_on, phq2=0, comprehension_completed=True)
        for p in patients
    )
    demo.scenario_no_contraception(builder, patients[0])
    return patients


@pytest.mark.parametrize("count", [10, 200])
def test_the_worklist_costs_a_fixed_number_of_queries(client_for, staff, clinic, count):
    crowd(clinic, staff, count)
    client = client_for(staff)
    client.get(URL)  # the first request may create the session row
    with CaptureQueriesContext(connection) as queries:
        response = client.get(URL)
    assert response.status_code == 200
    assert len(pks(rows(response, worklist.BLOCKED))) == count
    # session, user, memberships with clinics; patients with their clinic (1); then
    # load_histories: courses, consents, contraception, tests, labs, visits, mood reviews,
    # prescriptions, comprehension reports (9); the session save (savepoint, update, release).
    assert len(queries) == 16, [q["sql"] for q in queries.captured_queries]


def test_each_visit_waiting_for_a_mood_review_links_to_its_own_review(
    client_for, clinician, build, builder
):
    from monitoring import services

    patient = build(demo.scenario_mood_review)  # item 9 at the visit of day -1
    waiting = Visit.objects.get(patient=patient, phq9_item9=1)
    reviewed = builder.visit(patient, 0, phq2=4, phq9=9, item9=2)
    services.record_mood_review(reviewed, by=clinician, reviewed_on=builder.today, note="Seen")
    (row,) = rows(client_for(clinician).get(URL), worklist.MOOD)
    assert (row.visit_id, row.on) == (waiting.pk, waiting.visited_on)
