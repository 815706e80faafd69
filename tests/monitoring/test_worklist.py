"""Today: every patient in one triage group, in order, worded for the reader, at a fixed cost."""

import csv
import datetime
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from monitoring import worklist
from monitoring.models import Visit
from monitoring.tasks import refresh_clinic_triage
from tests import builders as states
from tests.factories import enroll, member

URL = reverse("monitoring:worklist")


def rows(response, group):
    for key, _title, found, _total in response.context["sections"]:
        if key == group:
            return [item for item, _step in found]
    raise AssertionError(f"no group {group}")


def steps(response, group):
    for key, _title, found, _total in response.context["sections"]:
        if key == group:
            return [step for _item, step in found]
    raise AssertionError(f"no group {group}")


def pks(found):
    """Patient ids of a group's items, or of its (item, next step) rows."""
    return [(row[0] if isinstance(row, tuple) else row).patient.pk for row in found]


def counts(response) -> dict:
    return {key: n for key, _title, n in response.context["summary"]}


def overdue_by(days):
    """In treatment, the first supply dispensed so that the monthly test is `days` overdue."""

    def scenario(b, patient):
        # supply end = dispensed + 29; the monthly test is due two days before it.
        dispensed = -(27 + days)
        states.ready_first_prescription(b, patient, confirmation_on=dispensed - 1)
        b.prescribe(patient, dispensed - 1, dispensed=dispensed)

    return scenario


def test_a_patient_mid_supply_is_on_track_and_not_listed(client_for, staff, build):
    """Dispensed a 30-day supply today: the gate refuses a prescription today, yet nothing is to
    be done for four weeks, so Today does not list the patient."""
    patient = build(overdue_by(-27), enrolled=-80)  # dispensed today
    response = client_for(staff).get(URL)
    listed = {pk for key, _t, found, _n in response.context["sections"] for pk in pks(found)}
    assert patient.pk not in listed
    assert counts(response)["on_track"] == 1
    assert patient.get_absolute_url() not in response.content.decode()


def test_windows_closing_are_sorted_by_closing_date(client_for, staff, clinician, build, entered):
    later = entered(build(states.ready))  # closes today + 5
    sooner = entered(build(states.window_closing))  # closes today + 1
    response = client_for(staff).get(URL)
    found = rows(response, "window_closing")
    assert pks(found) == [sooner.pk, later.pk]
    today = later.clinic.today()
    assert [r.sort_on for r in found] == [
        today + datetime.timedelta(days=1),
        today + datetime.timedelta(days=5),
    ]
    assert "closes tomorrow" in response.content.decode()
    # Nothing blocks: staff ask the prescriber, clinicians write it.
    assert steps(response, "window_closing")[0] == "Ask the prescriber to write the prescription."
    assert steps(client_for(clinician).get(URL), "window_closing")[0] == ("Write the prescription.")


def test_staff_are_never_told_to_write_a_prescription(client_for, staff, build, entered):
    entered(build(states.ready))
    build(states.window_closing)
    build(states.no_contraception)
    page = client_for(staff).get(URL).content.decode()
    assert "Write the prescription" not in page
    assert "Ask the prescriber" in page


def test_overdue_tasks_are_sorted_most_overdue_first(client_for, staff, build):
    """Mid-supply with the monthly test overdue: the supply runs out within the horizon, so the
    patient needs a prescription; the overdue test is the first blocker."""
    two = build(overdue_by(2), enrolled=-80)
    nine = build(overdue_by(9), enrolled=-80)
    response = client_for(staff).get(URL)
    found = rows(response, "needs_prescription")
    assert pks(found) == [nine.pk, two.pk]
    assert [r.code for r in found] == ["visit_missing", "visit_missing"]  # the first blocker
    assert all("No clinic visit recorded" in r.what for r in found)


def test_a_task_due_within_the_horizon_is_due_soon(client_for, staff, build):
    soon = build(overdue_by(-12), enrolled=-80)  # monthly test due in 12 days: not yet
    client = client_for(staff)
    assert soon.pk not in pks(rows(client.get(URL), "due_soon"))
    from clinic.services import update_clinic_settings

    update_clinic_settings(soon.clinic, by=staff, data={"triage_horizon_days": 14})
    # The request that changed the setting recomputed nothing: Today says its lists are being
    # brought up to date, until the worker has refreshed them.
    stale = client.get(URL)
    assert soon.pk not in pks(rows(stale, "due_soon"))
    assert "being brought up to date" in stale.content.decode()
    refresh_clinic_triage(soon.clinic_id)  # the task the change asked for, as a worker runs it
    fresh = client.get(URL)
    assert "being brought up to date" not in fresh.content.decode()
    found = rows(fresh, "due_soon")
    assert pks(found) == [soon.pk]
    assert found[0].code in {"monthly_test_due", "visit_due"}
    assert found[0].days == 12


def test_blocked_patients_show_their_first_blocker(client_for, staff, build):
    patient = build(states.no_contraception)
    response = client_for(staff).get(URL)
    found = rows(response, "window_closing")
    (item,) = [r for r in found if r.patient.pk == patient.pk]
    assert item.code == "contraception_unconfirmed"
    assert "Confirm two forms of contraception" in item.next_step("staff")
    assert patient.get_absolute_url() in response.content.decode()


def test_an_ended_course_is_post_treatment_with_its_first_task(client_for, staff, build):
    patient = build(states.ended, enrolled=-80)
    response = client_for(staff).get(URL)
    (item,) = rows(response, "post_treatment")
    last_dose = patient.clinic.today() - datetime.timedelta(days=1)
    assert item.patient.pk == patient.pk
    assert (item.code, item.sort_on) == ("end_of_treatment_test_due", last_dose)
    assert item.overdue


def test_safety_comes_first_in_red_for_staff_and_clinicians(client_for, clinician, staff, build):
    patient = build(states.mood_review)
    positive = build(states.positive_test)
    build(states.window_closing)
    visit = Visit.objects.get(patient=patient, phq9_item9=1)
    response = client_for(clinician).get(URL)
    keys = [key for key, _t, _r, _n in response.context["sections"]]
    assert keys[0] == "safety"
    assert set(pks(rows(response, "safety"))) == {patient.pk, positive.pk}
    page = response.content.decode()
    assert reverse("monitoring:mood_review", args=[visit.pk]) in page
    assert page.index('id="group-safety"') < page.index('id="group-window_closing"')
    staff_response = client_for(staff).get(URL)
    assert set(pks(rows(staff_response, "safety"))) == {patient.pk, positive.pk}
    assert "Tell a clinician today" in " ".join(steps(staff_response, "safety"))
    assert reverse("monitoring:mood_review", args=[visit.pk]) not in (
        staff_response.content.decode()
    )


def test_each_visit_waiting_for_a_mood_review_links_to_its_own_review(
    client_for, clinician, build, builder
):
    from monitoring import services

    patient = build(states.mood_review)  # item 9 at the visit of day -1
    waiting = Visit.objects.get(patient=patient, phq9_item9=1)
    reviewed = builder.visit(patient, 0, phq2=4, phq9=9, item9=2)
    services.record_mood_review(reviewed, by=clinician, reviewed_on=builder.today, note="Seen")
    (item,) = rows(client_for(clinician).get(URL), "safety")
    assert item.mood_visits == (waiting.pk,)


def test_filters_by_risk_category_and_group(client_for, staff, build):
    can = build(states.window_closing)
    cannot = build(states.newly_enrolled, can=False)  # baseline labs missing
    client = client_for(staff)
    response = client.get(URL, {"category": "cannot_get_pregnant"})
    every = {pk for _k, _t, found, _n in response.context["sections"] for pk in pks(found)}
    assert every == {cannot.pk}
    response = client.get(URL, {"group": "to_enter"})
    assert [key for key, _t, _r, _n in response.context["sections"]] == ["to_enter"]
    assert pks(rows(response, "to_enter")) == [can.pk]
    # Unknown filter values are ignored, never a 500.
    assert client.get(URL, {"category": "x", "group": "<script>", "page": "z"}).status_code == 200


def test_a_group_shows_its_first_rows_with_a_link_to_the_rest(client_for, staff, clinic):
    for _ in range(worklist.GROUP_PAGE_SIZE + 3):  # more than one page, and than the overview
        enroll(clinic, by=staff)
    client = client_for(staff)
    response = client.get(URL)
    assert len(rows(response, "needs_prescription")) == worklist.FIRST_ROWS
    assert counts(response)["needs_prescription"] == worklist.GROUP_PAGE_SIZE + 3
    assert "Show all 53" in response.content.decode()
    first = client.get(URL, {"group": "needs_prescription"})
    assert len(rows(first, "needs_prescription")) == worklist.GROUP_PAGE_SIZE
    second = client.get(URL, {"group": "needs_prescription", "page": 2})
    assert len(rows(second, "needs_prescription")) == 3


def test_csv_export_of_one_group(client_for, staff, build):
    patient = build(states.window_closing)
    response = client_for(staff).get(URL, {"format": "csv", "group": "to_enter"})
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    content = b"".join(response.streaming_content)
    # Excel takes a CSV for UTF-8 only with a byte-order mark: without it accents are garbled.
    assert content.startswith(b"\xef\xbb\xbf" + worklist.CSV_HEADER[0].encode())
    table = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    assert table[0] == list(worklist.CSV_HEADER)
    assert [line[2] for line in table[1:]] == [patient.mrn]
    assert table[1][0] == "To enter in iPLEDGE"
    assert table[1][6] == "tomorrow"


def test_csv_cells_cannot_run_as_formulas(client_for, staff, clinic):
    enroll(
        clinic, by=staff, given_name='=HYPERLINK("http://x")', family_name="@SUM(A1)", mrn="+123"
    )
    response = client_for(staff).get(URL, {"format": "csv", "group": "needs_prescription"})
    (line,) = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))[1:]
    assert line[1] == '\'=HYPERLINK("http://x") @SUM(A1)'
    assert line[2] == "'+123"
    assert worklist.safe_cell("-2") == "'-2" and worklist.safe_cell("plain") == "plain"


def test_another_clinics_patients_never_appear(client_for, staff, build, other_clinic):
    mine = build(states.window_closing)
    b_staff = member(other_clinic, "staff")
    theirs = [enroll(other_clinic, by=b_staff) for _ in range(2)]
    response = client_for(staff).get(URL)
    every = {pk for _k, _t, found, _n in response.context["sections"] for pk in pks(found)}
    assert mine.pk in every
    assert not every & {p.pk for p in theirs}
    assert sum(counts(response).values()) == 1
    exported = b"".join(client_for(staff).get(URL, {"format": "csv"}).streaming_content)
    assert all(p.mrn not in exported.decode() for p in theirs)


def test_staff_and_clinicians_land_on_today(client_for, staff, clinic_admin):
    assert client_for(staff).get("/")["Location"] == URL
    assert client_for(clinic_admin).get("/")["Location"] == reverse("audit_log")


def crowd(clinic, staff, count):
    """`count` patients: a few in real states through the services, the rest enrolled with a
    visit each (bulk-created: the cost under test is reading, not writing)."""
    builder = states.Builder(clinic, staff, staff, clinic.today())
    patients = [enroll(clinic, by=staff) for _ in range(count)]
    Visit.objects.bulk_create(
        Visit(patient=p, visited_on=p.enrolled_on, phq2=0, comprehension_completed=True)
        for p in patients
    )
    states.no_contraception(builder, patients[0])
    return patients


@pytest.mark.parametrize("count", [10, 200])
def test_today_costs_a_fixed_number_of_queries(client_for, staff, clinic, count):
    crowd(clinic, staff, count)
    client = client_for(staff)
    client.get(URL)  # the first request may create the session row
    with CaptureQueriesContext(connection) as queries:
        response = client.get(URL)
    assert response.status_code == 200
    assert sum(counts(response).values()) == count
    # The request's own: session, user, memberships with clinics, and whatever the login
    # middleware reads; then patients with their clinic (1) and load_histories (10); the
    # session save. The same for 10 and 200 patients.
    fixed = len(queries)
    assert fixed <= 22, [q["sql"] for q in queries.captured_queries]
    crowd(clinic, staff, 5)
    with CaptureQueriesContext(connection) as again:
        client.get(URL)
    assert len(again) == fixed


def test_today_rows_escape_what_patients_and_staff_typed(client_for, staff, clinic):
    """Today writes its table rows in Python (docs/quality.md P1): every typed text is escaped
    as the template language would, and each row links to its patient."""
    patient = enroll(
        clinic, by=staff, given_name='<b>Al"ex</b>', family_name="O'Brien & Co", mrn="<i>M1</i>"
    )
    page = client_for(staff).get(URL).content.decode()
    assert "<b>" not in page and "<i>M1" not in page
    assert "O&#x27;Brien &amp; Co, &lt;b&gt;Al&quot;ex&lt;/b&gt;" in page
    assert "&lt;i&gt;M1&lt;/i&gt; · born May 17, 2001 · Can get pregnant" in page
    assert f'<tr data-patient="{patient.pk}" data-code="' in page
    assert f'href="{reverse("patients:detail", args=[patient.pk])}"' in page
