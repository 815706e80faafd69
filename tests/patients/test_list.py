import re

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
        page = client.post(reverse("patients:list"), {"q": query}, follow=True).context["page"]
        assert [p.mrn for p in page] == ["Z-77"], query


def test_the_search_term_never_reaches_a_url(client, staff, clinic):
    """A name in the URL would be in every access log (docs/deploy-settings.md, "Logs")."""
    enroll(clinic, mrn="Z-77", given_name="Sage", family_name="Oakes")
    for i in range(30):
        enroll(clinic, mrn=f"OAK{i:02d}", family_name=f"Oakley{i:02d}")
    client.force_login(staff)
    answer = client.post(reverse("patients:list"), {"q": "Oak", "sort": "-mrn"})
    assert answer.status_code == 302
    assert "oak" not in answer.url.lower() and "?s=" in answer.url
    first = client.get(answer.url)
    html = first.content.decode()
    assert [p.mrn for p in first.context["page"]][:2] == ["Z-77", "OAK29"]
    assert 'value="Oak"' in html  # the box still shows the term
    assert "Oak" not in "".join(re.findall(r'href="([^"]*)"', html))
    # The next page and another sort keep the search, without the term in their links.
    second = client.get(answer.url + "&page=2").context["page"]
    assert [p.mrn for p in second] == ["OAK05", "OAK04", "OAK03", "OAK02", "OAK01", "OAK00"]
    by_name = client.get(answer.url.replace("sort=-mrn", "sort=name")).context["page"]
    assert len(by_name.paginator.object_list) == 31
    # The back button returns to the same URL, which still shows the search.
    assert [p.mrn for p in client.get(answer.url).context["page"]] == [
        p.mrn for p in first.context["page"]
    ]


def test_a_search_from_another_session_is_not_shown(client, staff, clinic):
    enroll(clinic, mrn="Z-77", given_name="Sage", family_name="Oakes")
    enroll(clinic, mrn="Z-78", given_name="Kai", family_name="Thorne")
    client.force_login(staff)
    url = client.post(reverse("patients:list"), {"q": "Oakes"}).url
    client.logout()
    client.force_login(staff)
    answer = client.get(url)
    assert len(answer.context["page"]) == 2
    assert "That search is no longer kept" in answer.content.decode()


def test_a_search_too_long_is_a_form_error_naming_the_field(client, staff, clinic):
    client.force_login(staff)
    answer = client.post(reverse("patients:list"), {"q": "x" * 101})
    assert answer.status_code == 400
    assert "Search: Ensure this value has at most 100 characters" in answer.content.decode()


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
    # session, user, memberships with clinics, the kept triage slots, the kept counts (the
    # clinic's total: no count of its patients), one page of patients with their groups, and
    # the session save (savepoint, update, release): 9 whatever the number of patients.
    assert len(queries) == 9, [q["sql"] for q in queries.captured_queries]
