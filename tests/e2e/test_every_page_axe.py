"""axe-core on every page of every role (issue 21, item 10), not only the journeys' pages.

The pages come from the URLconf itself: every named route is visited by every role, its
arguments filled from a clinic seeded with the demo scenarios, so a page added tomorrow is
scanned without anyone listing it here. A route that is not a page for that role (a POST-only
action, a JSON or calendar answer, a refusal) is skipped; any page answering 500 fails, and so
does any serious or critical axe violation. One browser, one login per role.

With A11Y_REPORT=1 the figures per role (pages scanned, violations by impact) are printed.
"""

import os
import random
from collections import Counter, defaultdict

import pytest
from django.contrib.auth import get_user_model
from django.urls import NoReverseMatch, URLPattern, URLResolver, get_resolver, reverse

from clinic.team import invitation_token, invite_member
from demo.seeding import SCENARIOS, build_patient
from demo.states import Builder
from monitoring.models import Prescription, Visit
from monitoring.reminders import signing
from patients.models import PregnancyTest
from tests.e2e.conftest import FAILING_IMPACTS, PASSWORD
from tests.factories import ClinicFactory, member

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# Routes that are not pages of the app: Django's own admin is scanned for the superuser through
# its index and changelists only (its object pages are Django's, one template per kind), the
# health probes and the API answer JSON, passkey ceremonies answer JSON to a script, and the
# empty logged-in view answers 204 with no page at all.
RULES = Counter()  # every role's violations by rule, for the report
SCANNED = defaultdict(list)  # role -> the pages scanned, for the report

NOT_PAGES = (
    "health",
    "api:",
    "otp_webauthn:",
    "logout",
    "self_service:calendar",
    "session_status",
)


def named_routes(patterns=None, namespace=None):
    """(url name, its argument names) for every named route of the URLconf."""
    for p in patterns if patterns is not None else get_resolver().url_patterns:
        if isinstance(p, URLResolver):
            inner = namespace
            if p.namespace:
                inner = f"{namespace}:{p.namespace}" if namespace else p.namespace
            yield from named_routes(p.url_patterns, inner)
        elif isinstance(p, URLPattern) and p.name:
            name = f"{namespace}:{p.name}" if namespace else p.name
            yield name, tuple(p.pattern.regex.groupindex)


def seeded_clinic():
    """A clinic with one patient in each demo scenario, a patient who opted out of emails,
    and the users of every role."""
    clinic = ClinicFactory(name="Riverside Dermatology", contact_phone="555-0100")
    users = {
        role: member(clinic, role, username=role, first_name=role.title(), last_name="Tester")
        for role in ("staff", "clinician", "clinic_admin")
    }
    users["superuser"] = get_user_model().objects.create_superuser(
        "root", "root@example.org", PASSWORD
    )
    b = Builder(clinic, users["clinician"], users["staff"], clinic.today(), "A11Y")
    rng = random.Random(21)  # nosec B311  # synthetic data
    patients = {}
    for index in range(1, len(SCENARIOS) + 1):
        name, patient = build_patient(b, index, random.Random(rng.random()))  # nosec B311
        patients[name] = patient
    patients["in_treatment"].email_opt_out = True
    patients["in_treatment"].save(update_fields=["email_opt_out"])
    b.prescribe(patients["ready"], 0)  # written, not yet picked up: the dispense page
    invited = invite_member(
        clinic=clinic, by=users["clinic_admin"], email="new.member@example.org", role="staff"
    )
    return clinic, users, patients, invitation_token(invited)


def arguments(patients, invitation: str) -> tuple[dict, dict]:
    """The arguments each route name takes, from the seeded clinic's objects."""
    treated = patients["in_treatment"]
    mood = Visit.objects.filter(patient=patients["mood_review_required"]).latest("pk")
    undispensed = Prescription.objects.filter(dispensed_on__isnull=True).first()
    test = PregnancyTest.objects.filter(patient=treated).latest("pk")
    by_kwarg = {
        "pk": treated.pk,
        "visit_pk": mood.pk,
        "prescription_pk": undispensed.pk if undispensed else None,
        "test_pk": test.pk,
    }
    special = {
        "self_service:page": {"token": signing.page_token(treated)},
        "self_service:unsubscribe": {"token": signing.unsubscribe_token(treated)},
        "accept_invite": {"token": invitation},
    }
    page = signing.page_token(treated)
    for name, kwargs in named_routes():
        if name.startswith("self_service:") and name not in special and kwargs == ("token",):
            special[name] = {"token": page}  # the page's own forms (POST only)
    return by_kwarg, special


def page_urls(patients, invitation: str) -> list[tuple[str, str]]:
    by_kwarg, special = arguments(patients, invitation)
    urls = []
    for name, kwargs in named_routes():
        if name.startswith(NOT_PAGES) or (name.startswith("admin:") and kwargs):
            continue
        if name in special:
            values = special[name]
        elif all(by_kwarg.get(k) is not None for k in kwargs):
            values = {k: by_kwarg[k] for k in kwargs}
        else:
            # A route whose argument no seeded object provides (e.g. an invitation's token):
            # listed so the report shows it was not scanned.
            urls.append((name, ""))
            continue
        try:
            urls.append((name, reverse(name, kwargs=values)))
        except NoReverseMatch:
            urls.append((name, ""))
    return urls


def visit(page, url: str):
    """The response to a GET, or None when the answer is not an HTML page (a POST-only action,
    JSON, a calendar). Asked first without the page (same cookies): Chromium shows a bodiless
    405 as its own error page, and the next navigation from there can fail."""
    probe = page.request.get(url)
    kind = probe.headers.get("content-type", "").split(";")[0]
    if probe.status >= 500:
        return probe
    if probe.status == 405 or kind != "text/html":
        return None
    response = page.goto(url)
    page.wait_for_load_state()
    return response


def scan(page) -> tuple[list[str], Counter]:
    """Serious or critical problems (a line each, and their first elements), and every
    violation counted by impact."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page).response
    impacts = Counter(v["impact"] for v in results["violations"])
    RULES.update(f"{v['impact']} {v['id']}" for v in results["violations"])
    problems = []
    for violation in results["violations"]:
        if violation["impact"] in FAILING_IMPACTS:
            problems.append(f"{violation['impact']}: {violation['id']} ({violation['help']})")
            for node in violation["nodes"][:3]:
                problems.append(f"    at {' '.join(map(str, node['target']))}")
    return problems, impacts


def test_every_page_of_every_role_passes_axe(browser, live_server, log_in):
    clinic, users, patients, invitation = seeded_clinic()
    urls = page_urls(patients, invitation)
    assert len(urls) > 30, urls  # the URLconf was read

    figures = {}
    failures = []
    unreached = sorted(name for name, url in urls if not url)
    roles = ("visitor", "staff", "clinician", "clinic_admin", "superuser", "patient")
    for role in roles:
        context = browser.new_context(
            viewport={"width": 1280, "height": 900}, locale="en-US", base_url=live_server.url
        )
        page = context.new_page()
        if role == "patient":
            # The patient has no login: their pages are the emailed links.
            targets = [(n, u) for n, u in urls if u and n.startswith("self_service:")]
        elif role == "visitor":
            # Not logged in: the login page, an invitation being accepted, and where every
            # other address sends them.
            targets = [(n, u) for n, u in urls if u and not n.startswith("self_service:")]
        else:
            log_in(users[role], on=page)
            # Accepting an invitation is for someone not logged in (it ends the session).
            targets = [
                (n, u)
                for n, u in urls
                if u and not n.startswith("self_service:") and n != "accept_invite"
            ]
            if role == "staff":
                # The patient page reads differently in each state: every seeded patient.
                targets += [
                    (f"patients:detail[{scenario}]", reverse("patients:detail", args=[p.pk]))
                    for scenario, p in patients.items()
                ]
        scanned, by_impact, statuses, seen = 0, Counter(), defaultdict(int), set()
        for name, path in targets:
            response = visit(page, live_server.url + path)
            if response is None:
                continue
            status = response.status
            if status >= 500:
                failures.append(f"[{role}] {name} {path}: HTTP {status}")
                continue
            # One scan per distinct page: a refusal (403, 404) or the login page a visitor is
            # sent to looks the same whichever address led there.
            where = page.url.split("?")[0]
            logged_out = where == f"{live_server.url}/login/"
            if role not in ("visitor", "patient") and name != "login" and logged_out:
                # Logged out on the way: the rest of this role's pages would go unscanned.
                failures.append(f"[{role}] {name} {path}: sent to the login page")
                break
            key = status if status != 200 else where
            if key in seen:
                continue
            seen.add(key)
            SCANNED[role].append(f"{name} {status}")
            problems, impacts = scan(page)
            statuses[status] += 1
            scanned += 1
            by_impact.update(impacts)
            if problems:
                lines = "\n  ".join(problems)
                failures.append(f"[{role}] {name} {path} (HTTP {status}):\n  {lines}")
        figures[role] = (scanned, dict(statuses), dict(by_impact))
        context.close()

    if os.environ.get("A11Y_REPORT") == "1":
        print("\naxe-core, every page of every role (violations by impact, all rules):")
        for role, (scanned, statuses, by_impact) in figures.items():
            print(f"  {role:13} {scanned:3} pages {statuses}  {by_impact or 'none'}")
        print(f"  not scanned (no seeded object for their arguments): {unreached}")
        print(f"  by rule: {dict(RULES.most_common())}")
        for role, pages in SCANNED.items():
            print(f"  {role} scanned: {', '.join(pages)}")
    for role, (scanned, _statuses, _impacts) in figures.items():
        assert scanned, f"no page scanned for {role}"
    assert not failures, "\n".join(failures)
