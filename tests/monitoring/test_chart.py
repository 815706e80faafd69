"""The dose chart, the course timeline and the end-of-course summary on the patient page."""

import datetime
from decimal import Decimal

import rules
from monitoring import chart, services, timeline
from monitoring.history import load_patient_page
from tests import builders as states
from tests.factories import enroll

D0 = datetime.date(2026, 9, 1)


def one_dispense(**overrides) -> rules.History:
    """60 kg, 40 mg/day for 30 days dispensed on D0."""
    fields = {
        "risk_category": "cannot_get_pregnant",
        "enrolled_on": D0 - datetime.timedelta(days=20),
        "enrollment_weight_kg": Decimal("60"),
        "home_tests_allowed": False,
        "target_mg_per_kg": Decimal("120"),
        "prescriptions": (rules.Prescription(1, D0, Decimal("40"), 30, dispensed_on=D0),),
    }
    fields.update(overrides)
    return rules.History(**fields)


def test_the_chart_points_for_a_known_course():
    today = D0 + datetime.timedelta(days=30)  # dispensed 30 days ago
    figures = chart.dose_chart(one_dispense(), today)
    assert figures.series[0] == (D0, Decimal("0.7"))  # 40 mg / 60 kg
    assert figures.series[1] == (D0 + datetime.timedelta(days=1), Decimal("1.3"))
    assert figures.series[14] == (D0 + datetime.timedelta(days=14), Decimal("10.0"))
    assert figures.series[29] == (D0 + datetime.timedelta(days=29), Decimal("20.0"))
    assert figures.series[-1] == (today, Decimal("20.0"))  # the supply ran out
    assert len(figures.series) == 31
    assert figures.mg_per_kg == Decimal("20.0")
    # (120 - 20) mg/kg x 60 kg = 6000 mg left, at 40 mg/day: 150 days.
    assert figures.projected_completion_on == today + datetime.timedelta(days=150)
    assert figures.table[0] == figures.series[0] and figures.table[-1] == figures.series[-1]


def test_the_svg_has_the_target_line_the_projection_and_a_text_alternative():
    today = D0 + datetime.timedelta(days=30)
    svg = str(chart.dose_chart_svg(chart.dose_chart(one_dispense(), today)))
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert 'class="dose-target"' in svg and "Target 120 mg/kg" in svg
    assert 'class="dose-line"' in svg
    projected = today + datetime.timedelta(days=150)
    assert f"Projected {projected:%b} {projected.day}, {projected.year}" in svg
    assert '<title id="dose-chart-title">Cumulative dose: 20.0 of 120 mg/kg</title>' in svg
    assert "<desc" in svg and 'role="img"' in svg


def test_the_chart_stops_at_the_last_dose_and_projects_nothing():
    last = D0 + datetime.timedelta(days=9)
    figures = chart.dose_chart(one_dispense(last_dose_on=last), D0 + datetime.timedelta(days=40))
    assert figures.series[-1] == (last, Decimal("6.7"))  # 10 days x 40 mg / 60 kg
    assert figures.projected_completion_on is None
    assert "Projected" not in str(chart.dose_chart_svg(figures))


def test_nothing_dispensed_draws_an_empty_chart_that_says_so():
    svg = str(chart.dose_chart_svg(chart.dose_chart(one_dispense(prescriptions=()), D0)))
    assert "Nothing has been dispensed yet" in svg and "polyline" not in svg


def test_timeline_text_is_escaped():
    event = timeline.Event(D0, "visit", "<script>alert(1)</script>")
    svg = str(chart.timeline_svg([event], [], D0, D0 + datetime.timedelta(days=3)))
    assert "<script>" not in svg and "&lt;script&gt;" in svg


def test_the_patient_page_shows_chart_timeline_and_windows(client_for, staff, build):
    patient = build(states.in_treatment, enrolled=-80)
    body = client_for(staff).get(patient.get_absolute_url()).content.decode()
    assert 'id="dose-chart-title"' in body and "The chart's data, as a table" in body
    assert 'id="timeline-heading"' in body and 'class="window-band window-used"' in body
    page = load_patient_page(patient)
    events = timeline.course_events(page["records"])
    assert [e.on for e in events] == sorted(e.on for e in events)
    assert {"consent", "lab", "contraception", "test", "visit", "prescription", "dispense"} <= {
        e.kind for e in events
    }
    bands = timeline.course_windows(page["history"], page["today"])
    today = patient.clinic.today()
    # The confirmation test at -33 opened the first window, the monthly test at -3 the second;
    # both were used by a dispense.
    assert [(b.opens_on, b.state) for b in bands] == [
        (today - datetime.timedelta(days=33), "used"),
        (today - datetime.timedelta(days=3), "used"),
    ]


def test_an_ended_course_shows_its_summary(client_for, clinician, build):
    patient = build(states.ended, enrolled=-80)
    response = client_for(clinician).get(patient.get_absolute_url())
    body = response.content.decode()
    assert 'id="course-summary"' in body
    assert "This course has ended." in body  # not a list of blockers for a prescription
    page = load_patient_page(patient)
    first = min(p.dispensed_on for p in page["records"].prescriptions)
    last = page["course"].last_dose_on
    days = (last - first).days + 1
    assert f"{days} days" in body
    totals = rules.cumulative(page["history"], page["today"])
    assert f"{totals.mg} mg" in body and f"{totals.mg_per_kg} mg/kg" in body
    assert 'class="timeline-item timeline-end' in body


def test_no_summary_while_the_course_runs(client_for, staff, clinic):
    patient = enroll(clinic, by=staff)
    body = client_for(staff).get(patient.get_absolute_url()).content.decode()
    assert 'id="course-summary"' not in body
    assert "Nothing has been dispensed yet" in body


def test_a_mood_review_appears_on_the_timeline(clinician, build):
    patient = build(states.mood_review)
    visit = patient.visits.get(phq9_item9=1)
    services.record_mood_review(visit, by=clinician, reviewed_on=visit.visited_on, note="Safe.")
    events = timeline.course_events(load_patient_page(patient)["records"])
    kinds = [e.kind for e in events]
    assert kinds.index("mood_review") > kinds.index("visit")
    assert any(e.alert and e.kind == "visit" for e in events)


def test_an_earliest_date_in_the_past_is_never_shown_as_overdue(client_for, staff, build):
    patient = build(states.ready)  # confirmation_test_earliest is weeks ago
    body = client_for(staff).get(patient.get_absolute_url()).content.decode()
    # Done and asking nothing: "Due next" leaves it out (issue 13; test_wording_and_list.py).
    assert 'data-code="confirmation_test_earliest"' not in body
    assert "(passed)" not in body
