"""Finding a patient the way pages show them (patients/search.py): "Last, First" as the list
writes it, "First Last", part of either, an MRN, an iPLEDGE ID, a date of birth as US clinics
type it; case and accents aside. One box in the navigation, the term never in a URL, the list
in a fixed number of queries, and one patient found opens their page."""

import datetime
import importlib
import io
import re

import pytest
from django.apps import apps
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from monitoring import enrollment
from patients import search
from patients.models import Patient
from tests.factories import enroll

BORN = datetime.date(2001, 5, 17)


@pytest.fixture
def people(clinic):
    """Reese Ashdown, José Muñoz, and a namesake in another clinic."""
    return {
        "reese": enroll(
            clinic,
            mrn="MRN-40107",
            given_name="Reese",
            family_name="Ashdown",
            birth_date=BORN,
            ipledge_id="2047719381",
        ),
        "jose": enroll(
            clinic,
            mrn="MRN-40114",
            given_name="José",
            family_name="Muñoz-Straße",
            birth_date=datetime.date(1999, 12, 3),
            ipledge_id="ID7781",
        ),
        "devon": enroll(
            clinic,
            mrn="MRN-40121",
            given_name="Devon",
            family_name="Ashdown",
            birth_date=datetime.date(2001, 5, 18),
        ),
    }


@pytest.fixture
def find(client, staff, people):
    client.force_login(staff)

    def found(term: str) -> list[str]:
        answer = client.post(reverse("patients:list"), {"q": term}, follow=True)
        assert answer.status_code == 200, term
        return sorted(p.given_name for p in answer.context["page"])

    return found


@pytest.mark.parametrize(
    "term",
    [
        "Ashdown, Reese",  # as the list shows the name
        "ashdown,reese",
        "  ASHDOWN ,  reese ",
        "Reese Ashdown",  # as the patient says it
        "reese ashd",
        "Ashdown, Rees",
        "Reese",
    ],
)
def test_a_name_finds_in_either_order_with_or_without_the_comma(find, term):
    assert find(term) == ["Reese"]


@pytest.mark.parametrize("term", ["Ashdown, Reesey", "Reese Devon", "Ashdown Ashdown"])
def test_a_name_that_is_not_there_finds_nobody(find, term):
    assert find(term) == []


def test_part_of_a_family_name_finds_everyone_who_has_it(find):
    assert find("Ashdown") == ["Devon", "Reese"]
    assert find("shdo") == ["Devon", "Reese"]


@pytest.mark.parametrize(
    "term", ["jose", "JOSE", "José", "munoz", "Muñoz", "munoz-strasse", "Munoz-Strasse, Jose"]
)
def test_case_and_accents_do_not_matter(find, term):
    assert find(term) == ["José"]


@pytest.mark.parametrize("term", ["MRN-40107", "mrn-40107", " MRN-40107 ", "ＭＲＮ-40107"])
def test_an_mrn_finds_its_patient(find, term):
    assert find(term) == ["Reese"]


@pytest.mark.parametrize("term", ["2047719381", "ID7781", "id7781"])
def test_an_ipledge_id_finds_its_patient(find, term):
    assert len(find(term)) == 1


@pytest.mark.parametrize("term", ["05/17/2001", "5/17/2001", "2001-05-17", "05-17-2001"])
def test_a_date_of_birth_finds_the_patients_born_that_day(find, term):
    assert find(term) == ["Reese"]


@pytest.mark.parametrize("term", ["05/16/2001", "5/17/2002", "2001-5-19"])
def test_the_day_before_or_after_finds_nobody(find, term):
    assert find(term) == []


@pytest.mark.parametrize("term", ["17/05/2001", "02/30/2001", "2001-13-01"])
def test_a_date_that_is_no_date_says_so_naming_the_field(client, staff, people, term):
    client.force_login(staff)
    answer = client.post(reverse("patients:list"), {"q": term})
    assert answer.status_code == 400
    text = answer.content.decode()
    assert f"Search: {term} is not a date: type a date of birth as MM/DD/YYYY" in text


def test_another_clinics_patient_is_never_found(client, staff, clinic, other_clinic, people):
    enroll(other_clinic, mrn="MRN-40107", given_name="Reese", family_name="Ashdown")
    client.force_login(staff)
    page = client.post(reverse("patients:list"), {"q": "Reese"}, follow=True).context["page"]
    assert [p.clinic_id for p in page] == [clinic.pk]


def test_the_navigation_box_is_on_every_staff_page_and_posts(client, staff, people):
    client.force_login(staff)
    html = client.get(reverse("monitoring:worklist")).content.decode()
    box = re.search(r'<form method="post" action="([^"]+)"[^>]*id="find-patient"', html)
    assert box and box.group(1) == reverse("patients:list")


def test_one_patient_found_from_the_navigation_opens_their_page(client, staff, people):
    client.force_login(staff)
    answer = client.post(reverse("patients:list"), {"q": "Ashdown, Reese", "jump": "1"})
    assert answer.status_code == 302
    assert answer.url == people["reese"].get_absolute_url()
    several = client.post(reverse("patients:list"), {"q": "Ashdown", "jump": "1"})
    assert several.url.startswith(reverse("patients:list") + "?s=")
    assert "ashdown" not in several.url.lower()


def test_the_key_follows_an_edit_of_the_name(client, staff, people, find):
    enrollment.update_patient(
        people["reese"], by=staff, data={"family_name": "Whitfield"}, may_allow_home_tests=False
    )
    assert find("Whitfield, Reese") == ["Reese"]
    assert find("Ashdown, Reese") == []


@pytest.mark.parametrize("count", [3, 40])
def test_a_search_answers_in_a_fixed_number_of_queries(client, staff, clinic, count):
    for i in range(count):
        enroll(clinic, mrn=f"Q{i:03d}", given_name="Ana", family_name=f"Ashby{i:03d}")
    client.force_login(staff)
    url = client.post(reverse("patients:list"), {"q": "ashby"}).url
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert len(response.context["page"]) == min(count, 25)
    # session, user, memberships with clinics, the kept triage slots, count, one page of
    # patients, and the session save (savepoint, update, release): 9 whatever the number of
    # patients.
    assert len(queries) == 9, [q["sql"] for q in queries.captured_queries]


def test_the_migration_and_the_command_write_keys_for_patients_without_one(people, find):
    Patient.objects.update(search_key="")  # as enrolled before the key, or by the old release
    assert find("Ashdown, Reese") == []
    migration = importlib.import_module("patients.migrations.0005_patient_search_key")
    migration.fill_keys(apps, None)
    assert find("Ashdown, Reese") == ["Reese"]
    Patient.objects.update(search_key="")
    out = io.StringIO()
    call_command("fill_search_keys", stdout=out)
    assert out.getvalue() == "Search keys written: 3 patients.\n"  # a count, never a name
    assert find("Ashdown, Reese") == ["Reese"]
    assert set(Patient.objects.values_list("search_key", flat=True)) == {
        search.key_for(
            given_name=p.given_name,
            family_name=p.family_name,
            mrn=p.mrn,
            ipledge_id=p.ipledge_id,
            birth_date=p.birth_date,
        )
        for p in Patient.objects.all()
    }


def test_the_key_is_made_of_folded_parts_between_bars():
    key = search.key_for(
        given_name="José", family_name="Muñoz", mrn="MRN-1", ipledge_id="", birth_date=BORN
    )
    assert key == "|jose munoz|munoz jose|mrn-1|2001-05-17|"


def test_a_search_matching_too_many_lists_the_first_ones_and_says_so(
    client, staff, clinic, monkeypatch
):
    """A common name is counted only up to SEARCH_SHOWN (reading every match of a 100,000
    patient clinic to count them is what made search slow): the list stops there and asks for
    a narrower search."""
    from monitoring import patient_views

    monkeypatch.setattr(patient_views, "SEARCH_SHOWN", 3)
    for i in range(5):
        enroll(clinic, mrn=f"T{i:03d}", given_name="Ana", family_name=f"Thorne{i:03d}")
    client.force_login(staff)
    url = client.post(reverse("patients:list"), {"q": "thorne"}).url
    response = client.get(url)
    assert response.context["page"].paginator.count == 3
    assert "More than 3 patients match" in response.content.decode()
    narrow = client.post(reverse("patients:list"), {"q": "thorne001"}).url
    response = client.get(narrow)
    assert response.context["page"].paginator.count == 1
    assert "patients match" not in response.content.decode()
