"""The access matrix (docs/quality.md A1, A2), generated from the URL configuration.

Every URL pattern is tried with each method it serves, by every actor: clinician, staff and
admin of clinic A, clinician and admin of clinic B, a user of both clinics (having chosen B, and
not having chosen yet), an anonymous visitor and the holder of another patient's link. The
objects in the URLs belong to clinic A. A pattern missing from SPEC fails the test, so a new URL
needs its expected answers written down. After each refused write, no row has changed.
"""

import datetime

import pytest
from auditlog.models import LogEntry
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from clinic.models import Membership
from monitoring.models import Course, LabResult, MoodReview, Prescription, Reminder, Visit
from monitoring.reminders import signing
from patients.models import Consent, ContraceptionConfirmation, Patient, PregnancyTest
from tests.auth import verified_login
from tests.builders import Builder, ready_first_prescription
from tests.factories import enroll, member

# Roles: c clinician, s staff, a clinic admin. Per method, the roles of clinic A let in.
# "public" answers everyone the same (login page, health check, token exchange); "member" lets
# in every logged-in member (home, choosing or switching a clinic, the second factor's pages);
# logging out sends everyone to the login page.
# A slot names the clinic A object put into the URL; "token" is a patient link forged from
# another patient's signature.
CSA, CS, C, A = "csa", "cs", "c", "a"
SPEC = {
    "home": (None, {"GET": "member"}),
    "login": (None, {"GET": "public", "POST": "public"}),
    "logout": (None, {"POST": "logout"}),
    "switch_clinic": (None, {"POST": "member"}),
    "audit_log": (None, {"GET": A}),
    "clinic_settings": (None, {"GET": A, "POST": A}),
    "health": (None, {"GET": "public"}),
    "health_live": (None, {"GET": "public"}),
    "health_ready": (None, {"GET": "probe"}),
    "choose_clinic": (None, {"GET": "member"}),
    "keep_alive": (None, {"POST": "member"}),
    "session_status": (None, {"GET": "member"}),
    "password_change": (None, {"GET": "member", "POST": "member"}),
    # Reachable logged out; the same answers for everyone (an unknown address looks like any).
    "password_reset": (None, {"GET": "public", "POST": "public"}),
    "password_reset_done": (None, {"GET": "public"}),
    "password_reset_confirm": (None, {"GET": "public", "POST": "public"}),
    "password_reset_complete": (None, {"GET": "public"}),
    "accept_invite": ("token", {"GET": "public", "POST": "public"}),
    "otp_verify": (None, {"GET": "member", "POST": "member"}),
    "otp_setup": (None, {"GET": "member", "POST": "member"}),
    "otp_backup_codes": (None, {"POST": "member"}),
    # Passkey ceremonies (django-otp-webauthn): JSON for any logged-in member, a 422 without a
    # ceremony begun; the anonymous are sent to log in (a passkey never replaces the password).
    "otp_webauthn:credential-registration-begin": (None, {"POST": "member"}),
    "otp_webauthn:credential-registration-complete": (None, {"POST": "member"}),
    "otp_webauthn:credential-authentication-begin": (None, {"POST": "member"}),
    "otp_webauthn:credential-authentication-complete": (None, {"POST": "member"}),
    "otp_webauthn:js-i18n-catalog": (None, {"GET": "member"}),
    "team": (None, {"GET": A}),
    "team_invite": (None, {"POST": A}),
    "team_role": ("membership", {"POST": A}),
    "team_deactivate": ("membership", {"GET": A, "POST": A}),
    "team_reset_otp": ("membership", {"GET": A, "POST": A}),
    "team_reactivate": ("membership", {"POST": A}),
    "team_resend": ("membership", {"POST": A}),
    "patients:list": (None, {"GET": CSA, "POST": CSA}),
    "patients:create": (None, {"GET": CS, "POST": CS}),
    "patients:detail": ("patient", {"GET": CSA}),
    "patients:edit": ("patient", {"GET": CS, "POST": CS}),
    "patients:risk_category": ("patient", {"GET": C, "POST": C}),
    "patients:consent_create": ("patient", {"GET": CS, "POST": CS}),
    "patients:contraception_create": ("patient", {"GET": CS, "POST": CS}),
    "patients:test_create": ("patient", {"GET": CS, "POST": CS}),
    "patients:test_supersede": ("test", {"GET": C, "POST": C}),
    "patients:test_evidence": ("home_test", {"GET": CSA}),
    "api:token": (None, {"POST": "public"}),
    "api:schema": (None, {"GET": "member"}),
    "api:patient_create": (None, {"POST": CS}),
    "api:patient": ("patient", {"GET": CSA}),
    "api:consents": ("patient", {"GET": CSA, "POST": CS}),
    "api:contraception": ("patient", {"GET": CSA, "POST": CS}),
    "api:pregnancy_tests": ("patient", {"GET": CSA, "POST": CS}),
    "api:labs": ("patient", {"GET": CSA, "POST": CS}),
    "api:visits": ("patient", {"GET": CSA, "POST": CS}),
    "api:status": ("patient", {"GET": CSA}),
    "api:prescriptions": ("patient", {"GET": CSA, "POST": C}),
    "api:risk_category": ("patient", {"POST": C}),
    "api:courses": ("patient", {"POST": CS}),
    "api:end_treatment": ("patient", {"POST": CS}),
    "api:reminders": ("patient", {"GET": CSA}),
    "api:patient_fhir": ("patient", {"GET": CSA}),
    "api:dispense": ("prescription", {"POST": CS}),
    "api:mood_review": ("visit", {"POST": C}),
    "api:supersede": ("test", {"POST": C}),
    "api:worklist": (None, {"GET": CSA}),
    "self_service:calendar": ("token", {"GET": "public"}),
    "self_service:unsubscribe": ("token", {"GET": "public", "POST": "public"}),
    "self_service:page": ("token", {"GET": "public"}),
    "self_service:contraception": ("token", {"POST": "public"}),
    "self_service:questions": ("token", {"POST": "public"}),
    "self_service:language": ("token", {"POST": "public"}),
    "reminders:list": (None, {"GET": CSA}),
    "reminders:patient": ("patient", {"GET": CSA}),
    "reminders:retry": ("reminder", {"POST": CSA}),
    "monitoring:worklist": (None, {"GET": CSA}),
    "monitoring:lab_create": ("patient", {"GET": CS, "POST": CS}),
    "monitoring:ipledge_sheet": ("patient", {"GET": CSA, "POST": CS}),
    "monitoring:visit_create": ("patient", {"GET": CS, "POST": CS}),
    "monitoring:prescription_create": ("patient", {"GET": C, "POST": C}),
    "monitoring:end_treatment": ("patient", {"GET": CS, "POST": CS}),
    "monitoring:course_create": ("patient", {"GET": CS, "POST": CS}),
    "monitoring:patient_fhir": ("patient", {"GET": CSA}),
    "monitoring:visit_detail": ("visit", {"GET": CSA}),
    "monitoring:visit_print": ("visit", {"GET": CSA}),
    "monitoring:mood_review": ("visit", {"GET": C, "POST": C}),
    "monitoring:dispense": ("prescription", {"GET": CS, "POST": CS}),
    "monitoring:dispense_pending": ("patient", {"GET": CS, "POST": CS}),
    # The whole admin: superusers only, so every actor here is sent to its login page.
    "admin": (None, {"GET": "superuser"}),
}
# Answers the anonymous visitor and the patient-link holder get on a public URL with a forged
# or missing token; anything else public answers like a page (ok).
PUBLIC_WITH_TOKEN = {"404"}

ACTORS = (
    "clinician_a",
    "staff_a",
    "admin_a",
    "clinician_b",
    "admin_b",
    "both_chose_b",
    "both_unchosen",
    "anonymous",
    "other_patient_link",
)


def url_patterns(patterns=None, prefix="", namespace=""):
    """(name, route) of every pattern; the admin counts as one pattern."""
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            if route.startswith("admin/"):
                yield "admin", route
                continue
            inner = namespace + (f"{entry.namespace}:" if entry.namespace else "")
            yield from url_patterns(entry.url_patterns, route, inner)
        elif isinstance(entry, URLPattern):
            yield namespace + (entry.name or route), route


def classify(response) -> str:
    location = response.get("Location", "")
    if response.status_code in (301, 302):
        if location.startswith(("/login/", "/admin/login/")):
            return "login"
        if location.startswith("/account/clinic/"):
            return "choose"
        return "ok"
    if response.status_code in (200, 201, 204):
        return "ok"
    return str(response.status_code)


# Pages a user of several clinics reaches before choosing one (clinic/middleware.py).
BEFORE_CHOOSING = ("/account/", "/switch-clinic/", "/logout/", "/health/", "/p/", "/api/")


def expected(name: str, method: str, actor: str, slot, url: str) -> set[str]:
    """What `actor` must get; each set lists the answers that are right."""
    roles = SPEC[name][1][method]
    api = name.startswith("api:")
    anonymous = actor in ("anonymous", "other_patient_link")
    if roles in ("superuser", "logout"):
        return {"login"}
    if actor == "both_unchosen" and not url.startswith(BEFORE_CHOOSING):
        return {"choose"}
    if roles == "probe":  # /health/ready: the same for everyone, 503 while a check fails
        return {"ok", "503"}
    if roles == "public":
        return PUBLIC_WITH_TOKEN if slot == "token" else {"ok", "400"}
    if anonymous:
        return {"401"} if api else {"login"}
    if actor == "both_unchosen" and roles != "member":
        return {"400"} if api else {"choose"}
    if roles == "member":
        # A passkey ceremony completed without one begun is django-otp-webauthn's 422.
        return {"ok", "400", "422"} if name.startswith("otp_webauthn:") else {"ok", "400"}
    role = {"clinician": "c", "staff": "s", "admin": "a", "both": "c"}[actor.split("_")[0]]
    allowed = role in roles
    in_clinic_a = actor.endswith("_a")
    if slot is not None and not in_clinic_a:
        # Another clinic's object: a 404 whenever the role could act on such an object at
        # home (never a 403 that would confirm it exists); a role that may never act gets its
        # 403 before any lookup, or the 404.
        return {"404"} if allowed else {"403", "404"}
    return {"ok", "400"} if allowed else {"403"}


def database_state() -> dict:
    """Every clinical row, every membership and each user's active flag and password."""
    models = (
        Patient,
        Course,
        Consent,
        ContraceptionConfirmation,
        PregnancyTest,
        LabResult,
        Visit,
        MoodReview,
        Prescription,
        Reminder,
        Membership,
    )
    state = {model.__name__: list(model.objects.order_by("pk").values()) for model in models}
    state["users"] = list(
        get_user_model().objects.order_by("pk").values_list("pk", "is_active", "password")
    )
    state["audit writes"] = LogEntry.objects.exclude(action=LogEntry.Action.ACCESS).count()
    return state


@pytest.fixture
def world(clinic, other_clinic):
    clinician_a, staff_a = member(clinic, "clinician"), member(clinic, "staff")
    admin_a = member(clinic, "clinic_admin")
    today = clinic.today()
    builder = Builder(clinic, clinician_a, staff_a, today)
    patient = enroll(clinic, by=staff_a, mrn="A-MATRIX")
    ready_first_prescription(builder, patient)
    prescription = builder.prescribe(patient, 0)
    builder.test(patient, "monthly", 0, result="positive")
    visit = Visit.objects.filter(patient=patient).first()
    test = PregnancyTest.objects.filter(patient=patient).first()
    home_test = builder.home_test(patient, "monthly", 0)
    reminder = Reminder.objects.create(
        patient=patient,
        kind=Reminder._meta.get_field("kind").choices[0][0],
        due_on=today + datetime.timedelta(days=3),
        send_at=datetime.datetime.now(tz=datetime.UTC) + datetime.timedelta(days=2),
    )
    other = enroll(clinic, by=staff_a, mrn="A-OTHER", email="other@example.org")
    both = member(clinic, "clinician")
    Membership.objects.create(user=both, clinic=other_clinic, role="clinician")
    users = {
        "clinician_a": clinician_a,
        "staff_a": staff_a,
        "admin_a": admin_a,
        "clinician_b": member(other_clinic, "clinician"),
        "admin_b": member(other_clinic, "clinic_admin"),
        "both_chose_b": both,
        "both_unchosen": both,
    }
    link, theirs = signing.page_token(other), signing.page_token(patient)
    # Half of this patient's sealed token spliced onto half of the other's: a tampered link.
    forged = theirs[: len(theirs) // 2] + link[len(link) // 2 :]
    slots = {
        "patient": patient.pk,
        "visit": visit.pk,
        "prescription": prescription.pk,
        "test": test.pk,
        "home_test": home_test.pk,
        "reminder": reminder.pk,
        "membership": Membership.objects.get(user=staff_a).pk,
        "token": forged,
    }
    return {"users": users, "slots": slots, "clinic_b": other_clinic}


def client_for_actor(actor: str, world) -> Client:
    client = Client()
    user = world["users"].get(actor)
    if user is not None:
        verified_login(client, user)
        if actor == "both_chose_b":
            client.post("/switch-clinic/", {"clinic": world["clinic_b"].pk})
    return client


def concrete(route: str, slot, world) -> str:
    """The route with its one placeholder filled by the slot's object."""
    if slot is None:
        return "/" + route.replace("^", "")
    value = world["slots"][slot]
    start, end = route.index("<"), route.index(">")
    return "/" + route[:start] + str(value) + route[end + 1 :]


@pytest.mark.django_db
def test_every_url_answers_every_actor_as_the_matrix_says(world, capsys, settings):
    # /health/ready waits this long per actor for a worker's ping that never comes here.
    settings.HEALTH_WORKER_PING_SECONDS = 0.05
    patterns = dict(url_patterns())
    missing = sorted(set(patterns) - set(SPEC))
    assert not missing, f"URL patterns with no expected answers in SPEC: {missing}"
    stale = sorted(set(SPEC) - set(patterns))
    assert not stale, f"SPEC names URL patterns that no longer exist: {stale}"
    wrong, cells = [], 0
    for actor in ACTORS:
        client = client_for_actor(actor, world)
        for name, route in sorted(patterns.items()):
            slot, methods = SPEC[name]
            url = concrete(route, slot, world) if name != "admin" else "/admin/"
            for method in methods:
                before = database_state() if method != "GET" else None
                if method == "GET":
                    response = client.get(url)
                elif name.startswith("api:"):
                    response = client.post(url, "{}", content_type="application/json")
                else:
                    response = client.post(url, {})
                outcome, want = classify(response), expected(name, method, actor, slot, url)
                cells += 1
                if outcome not in want:
                    wrong.append(f"{actor:18} {method:4} {url:45} got {outcome}, want {want}")
                if before is not None and outcome not in ("ok", "400"):
                    if database_state() != before:
                        wrong.append(f"{actor:18} {method:4} {url:45} refused but changed rows")
                if name == "logout" and actor in world["users"]:
                    client = client_for_actor(actor, world)
    with capsys.disabled():
        print(f"\naccess matrix: {cells} cells, {len(patterns)} URL patterns, {len(ACTORS)} actors")
    assert not wrong, "\n" + "\n".join(wrong)
