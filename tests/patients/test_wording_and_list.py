"""Small words a user notices: iPLEDGE spelled as the program spells it, "1 day" not "1 days",
who re-confirmed contraception, "Due next" without dates that passed and ask nothing, the
patient list's birth date, and the course strip's colours in words."""

import datetime
import re
from decimal import Decimal

import pytest
from django.urls import reverse

from monitoring import services as monitoring_services
from patients import services
from tests.builders import Builder, ready_first_prescription
from tests.factories import enroll


def _text(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


@pytest.fixture
def builder(clinic, clinician, staff):
    return Builder(clinic, clinician, staff, clinic.today())


def test_the_enrollment_form_spells_ipledge_id(client_for, staff):
    html = client_for(staff).get(reverse("patients:create")).content.decode()
    assert "iPLEDGE ID" in html
    assert "IPLEDGE ID" not in html


def test_a_one_day_supply_reads_1_day(client_for, clinic, clinician, staff, patient, builder):
    ready_first_prescription(builder, patient, confirmation_on=-1)
    monitoring_services.write_prescription(
        patient,
        by=clinician,
        written_on=clinic.today(),
        daily_dose_mg=Decimal(40),
        days_supply=1,
    )
    text = _text(client_for(staff).get(patient.get_absolute_url()))
    assert "1 day" in text
    assert "1 days" not in text


def test_the_patient_page_names_who_confirmed_contraception(client_for, clinic, staff, patient):
    clinician_user = patient.created_by  # any user; give them a name
    clinician_user.first_name, clinician_user.last_name = "Ira", "Banks"
    clinician_user.save()
    services.record_contraception(
        patient,
        by=clinician_user,
        confirmed_on=clinic.today(),
        source="staff",
        methods=["iud", "male_condom"],
        abstinence=False,
        started_on=None,
    )
    text = _text(client_for(staff).get(patient.get_absolute_url()))
    assert "Contraception confirmed by Ira Banks" in text  # the timeline
    assert "Ira Banks" in text.split("Contraception confirmations")[1]  # the table's "By"


def test_due_next_drops_an_earliest_date_that_passed(client_for, clinic, staff, patient, builder):
    # Confirmation test done yesterday: its earliest date passed and asks nothing any more.
    ready_first_prescription(builder, patient, confirmation_on=-1)
    response = client_for(staff).get(patient.get_absolute_url())
    status = response.context["status"]
    passed = [d for d in status.due if d.code == "confirmation_test_earliest"]
    assert passed and passed[0].due_on < clinic.today()
    html = response.content.decode()
    assert 'data-code="confirmation_test_earliest"' not in html
    assert "(passed)" not in html
    assert 'data-code="window_closes"' in html  # a date still ahead stays


def test_a_missed_deadline_stays_as_overdue(client_for, clinic, staff):
    from monitoring.templatetags.monitoring_tags import drop_passed
    from rules import Due

    today = clinic.today()
    due = [
        Due("monthly_test_due", today - datetime.timedelta(days=1)),
        Due("confirmation_test_earliest", today - datetime.timedelta(days=1)),
        Due("retreatment_earliest", today),
    ]
    assert [d.code for d in drop_passed(due, today)] == ["monthly_test_due", "retreatment_earliest"]


def test_the_patient_list_shows_the_birth_date_to_tell_namesakes_apart(client_for, clinic, staff):
    enroll(
        clinic,
        by=staff,
        given_name="Casey",
        family_name="Lockhart",
        birth_date=datetime.date(1999, 3, 4),
    )
    enroll(
        clinic,
        by=staff,
        given_name="Casey",
        family_name="Lockhart",
        birth_date=datetime.date(2004, 11, 20),
    )
    response = client_for(staff).get(reverse("patients:list"))
    html = response.content.decode()
    assert "<th>Born</th>" in html
    assert "03/04/1999" in html and "11/20/2004" in html
    today = clinic.today()
    age = today.year - 1999 - ((today.month, today.day) < (3, 4))
    assert f"(age {age})" in html


def test_the_course_strip_has_a_legend_for_its_colours(client_for, clinic, staff, patient, builder):
    ready_first_prescription(builder, patient, confirmation_on=-1)
    html = client_for(staff).get(patient.get_absolute_url()).content.decode()
    legend = html[html.index("timeline-legend") :]
    legend = legend[: legend.index("</p>")]
    for kind, label in [("consent", "Consent"), ("test", "Pregnancy test"), ("lab", "Lab")]:
        assert f'data-kind="{kind}"' in legend and label in legend
    assert 'data-kind="dispense"' not in legend  # only the kinds on the strip
