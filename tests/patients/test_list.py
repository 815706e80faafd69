import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.factories import enroll


def test_search_finds_by_name_mrn_and_ipledge_id(client, staff, clinic):
    enroll(clinic, mrn="Z-77", given_name="Sage", family_name="Oakes", ipledge_id="555")
    enroll(clinic, mrn="Z-78", given_name="Kai", family_name="Thorne")
    client.force_login(staff)
    for query in ("oak", "Z-77", "555"):
        page = client.get(reverse("patients:list"), {"q": query}).context["page"]
        assert [p.mrn for p in page] == ["Z-77"], query


def test_the_list_shows_only_the_current_clinics_patients(client, staff, clinic, other_clinic):
    enroll(clinic, mrn="MINE")
    enroll(other_clinic, mrn="THEIRS")
    client.force_login(staff)
    page = client.get(reverse("patients:list")).context["page"]
    assert [p.mrn for p in page] == ["MINE"]


def test_the_list_sorts_and_paginates(client, staff, clinic):
    for i in range(30):
        enroll(clinic, mrn=f"S{i:02d}", family_name=f"Fam{i:02d}")
    client.force_login(staff)
    first = client.get(reverse("patients:list"), {"sort": "-mrn"}).context["page"]
    assert len(first) == 25
    assert first[0].mrn == "S29"
    second = client.get(reverse("patients:list"), {"sort": "-mrn", "page": 2}).context["page"]
    assert [p.mrn for p in second] == ["S04", "S03", "S02", "S01", "S00"]


@pytest.mark.parametrize("count", [5, 50])
def test_the_list_answers_in_a_fixed_number_of_queries(client, staff, clinic, count):
    for i in range(count):
        enroll(clinic, mrn=f"Q{i:03d}")
    client.force_login(staff)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("patients:list"))
    assert response.status_code == 200
    # session, user, memberships with clinics, count, one page of patients, and the
    # session save (savepoint, update, release): 8 whatever the number of patients.
    assert len(queries) == 8, [q["sql"] for q in queries.captured_queries]
