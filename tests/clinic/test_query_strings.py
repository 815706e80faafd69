"""Every list page's and API list's query string, walked with odd values: never a 500 (issue 20,
item 7; docs/security.md, "Query strings, schema and exports").

The values are those a probe or a mistyped link sends: digits that are not ASCII (Python's
str.isdigit() says yes to "²", int() says no), NUL (PostgreSQL refuses it in any text
parameter), very long strings, negative and huge numbers, impossible dates and a parameter
given twice. Run on SQLite by default; with DATABASE_URL naming PostgreSQL the NUL cases reach
the database that refuses them.
"""

import pytest
from django.test import Client
from django.urls import reverse

from tests.auth import verified_login

ODD_VALUES = [
    "",
    " ",
    "²",  # isdigit() but not a digit int() reads
    "٣",  # an Arabic-Indic three: int() reads it
    "１",  # fullwidth one
    "\x00",
    "a\x00b",
    "x" * 5000,
    "-1",
    "0",
    "99999999999999999999999",
    "1e309",
    "NaN",
    "2026-02-30",
    "0001-01-01",
    "9999-12-31",
    "10000-01-01",
    "-2026-01-01",
    "<script>alert(1)</script>",
    "a\r\nb",
    "\u202eevil",
]

# (URL name, kwargs key, the user who reads it, its GET parameters): every view that reads
# request.GET or query_params (grep them), each as the role that may see it.
PAGES = [
    ("audit_log", None, "clinic_admin", ["actor", "action", "model", "patient", "since", "page"]),
    ("monitoring:worklist", None, "staff", ["category", "group", "format", "page"]),
    ("patients:list", None, "staff", ["q", "category", "sort", "page"]),
    ("reminders:list", None, "staff", ["status", "page"]),
    ("api:worklist", None, "staff", ["on"]),
    ("api:status", "id", "staff", ["on"]),
    ("otp_verify", None, "clinician_unverified", ["next"]),
    ("login", None, None, ["next"]),
]
# Pages that only show one group, or only stream a CSV, with another parameter.
COMPANIONS = {
    "monitoring:worklist": [{"format": "csv"}, {"group": "overdue"}],
    "audit_log": [{"action": "1"}],
}


@pytest.fixture
def clients(clinic_admin, staff, clinician):
    """Clients that answer a server error with a 500 instead of raising it, so one walk
    reports every failing value."""

    def logged_in(user):
        made = Client(raise_request_exception=False)
        verified_login(made, user)
        return made

    unverified = Client(raise_request_exception=False)
    unverified.force_login(clinician)
    return {
        "clinic_admin": logged_in(clinic_admin),
        "staff": logged_in(staff),
        "clinician_unverified": unverified,
        None: Client(raise_request_exception=False),
    }


def url_of(name, key, patient):
    return reverse(name, kwargs={key: patient.pk} if key else None)


def walk(clients, patient, values):
    """Every (page, parameter, value), alone, with a companion and given twice: the answers
    that were server errors."""
    errors = []
    for name, key, who, parameters in PAGES:
        client, url = clients[who], url_of(name, key, patient)
        for parameter in parameters:
            for value in values:
                queries = [{parameter: value}, {parameter: ["1", value]}]
                queries += [{**other, parameter: value} for other in COMPANIONS.get(name, [])]
                for query in queries:
                    response = client.get(url, query)
                    if response.status_code >= 500:
                        errors.append(f"{response.status_code} {name} {query!r:.80}")
    return errors


def test_no_query_string_is_a_server_error(clients, patient):
    errors = walk(clients, patient, ODD_VALUES)
    assert not errors, f"{len(errors)} server errors:\n" + "\n".join(errors[:40])


def test_nul_in_a_query_string_is_no_server_error_on_any_database(clients, patient):
    """The NUL cases alone, quick enough to run on PostgreSQL as well (docs/security.md)."""
    errors = walk(clients, patient, ["\x00", "a\x00b", "²"])
    assert not errors, "\n".join(errors)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"action": "²"}, "Action: choose one of the actions listed."),
        ({"action": "7"}, "Action: choose one of the actions listed."),
        ({"patient": "²"}, "Patient: not a patient number."),
        ({"patient": "-1"}, "Patient: not a patient number."),
        ({"action": "1", "patient": "99999999999999999999999"}, "Patient: not a patient number."),
        ({"actor": "a\x00b"}, "Who: a name cannot hold a NUL character."),
        ({"model": "\x00"}, "Record: choose one of the record types listed."),
        ({"model": "auditlog"}, "Record: choose one of the record types listed."),
        ({"since": "2026-02-30"}, "Since: enter a valid date (year-month-day)."),
        ({"since": "0001-01-01"}, "Since: enter a date from 2000 on."),
    ],
)
def test_a_bad_audit_filter_is_named_and_ignored(clients, query, message):
    response = clients["clinic_admin"].get(reverse("audit_log"), query)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert "This filter was ignored" in response.content.decode()
