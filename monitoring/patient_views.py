"""The patient list, the patient page, enrollment and its edits.

Each shows or writes both a patient (the `patients` app) and their course and status (this app),
so they live in the upper of the two apps (docs/architecture.md). The URL names stay in the
`patients` namespace: the project's URLconf puts these routes beside `patients.urls`.
"""

import secrets
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import OuterRef, Subquery
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.views.decorators.http import require_http_methods

from clinic.access import current_clinic, may, require
from clinic.audit import log_view
from clinic.forms import apply_service_errors
from clinic.pages import submitted
from clinic.roles import Action
from patients import search
from patients.access import get_patient, patients_for
from patients.forms import PatientEditForm, PatientForm, PatientSearchForm
from patients.models import RiskCategory

from . import enrollment, kept
from .history import load_patient_page
from .models import TriageRow

SORTS = {
    "name": ("family_name", "given_name", "id"),
    "-name": ("-family_name", "-given_name", "-id"),
    "mrn": ("mrn",),
    "-mrn": ("-mrn",),
    "enrolled": ("enrolled_on", "id"),
    "-enrolled": ("-enrolled_on", "-id"),
}
PAGE_SIZE = 25
SEARCH_SHOWN = 500


# The search term never travels in a URL, where every access log, proxy log and browser
# history would keep a patient's name (docs/deploy-settings.md, "Logs"): the form POSTs the term,
# the session keeps it under a random key, and the list is shown at ?s=<key>, so sorting,
# pagination and the back button work as with a query string. A session keeps its last few.
SEARCHES_KEPT = 20
SEARCHES_SESSION_KEY = "patient_searches"


def _kept_search(request, term: str) -> str:
    searches = dict(request.session.get(SEARCHES_SESSION_KEY, {}))
    key = next((k for k, v in searches.items() if v == term), None) or secrets.token_urlsafe(8)
    searches.pop(key, None)
    searches[key] = term  # the newest last; the oldest go first
    request.session[SEARCHES_SESSION_KEY] = dict(list(searches.items())[-SEARCHES_KEPT:])
    return key


def _list_url(**params: str) -> str:
    kept = {name: value for name, value in params.items() if value}
    return reverse("patients:list") + (f"?{urlencode(kept)}" if kept else "")


class KnownCount:
    """A queryset whose length is already known, for a Paginator (which would count it)."""

    def __init__(self, rows, count: int):
        self.rows, self._count = rows, count

    def count(self) -> int:
        return self._count

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, index):
        return self.rows[index]


@require(Action.VIEW_PATIENTS)
@require_http_methods(["GET", "POST"])
def patient_list(request):
    params = request.POST if request.method == "POST" else request.GET
    category = params.get("category") or ""
    category = category if category in RiskCategory.values else ""
    sort = params.get("sort") or "name"
    sort = sort if sort in SORTS else "name"
    search_key, expired = "", False
    if request.method == "POST":
        form = PatientSearchForm(request.POST)
        if form.is_valid():
            term = form.cleaned_data["q"]
            # The navigation's box goes straight to the one patient a search finds.
            if term and params.get("jump"):
                found = list(search.matching(patients_for(request), term).only("pk")[:2])
                if len(found) == 1:
                    return redirect(found[0])
            search_key = _kept_search(request, term) if term else ""
            return redirect(_list_url(s=search_key, category=category, sort=sort))
        query = ""
    else:
        search_key = request.GET.get("s", "")
        query = request.session.get(SEARCHES_SESSION_KEY, {}).get(search_key, "")
        expired = bool(search_key) and not query
        form = PatientSearchForm(initial={"q": query})
    patients = patients_for(request)
    if query:
        patients = search.matching(patients, query)
    if category:
        patients = patients.filter(risk_category=category)
    found = patients
    # Each row shows the patient's group on Today from the kept triage row (no rules run here).
    clinic = current_clinic(request)
    reading = kept.read(clinic)
    group = TriageRow.objects.filter(patient=OuterRef("pk"), slot=reading.slot).values("group")
    patients = patients.annotate(triage_group=Subquery(group[:1])).order_by(*SORTS[sort])
    too_many = False
    if query:
        # A search is for finding someone: its pages stop at SEARCH_SHOWN matches, and only
        # that many are counted, in no order (a common name's every match would be read and
        # sorted to count them).
        matched = found.order_by().values("pk")[: SEARCH_SHOWN + 1].count()
        too_many = matched > SEARCH_SHOWN
        patients = KnownCount(patients, min(matched, SEARCH_SHOWN))
    elif reading.current:
        # Every patient has a kept row: the clinic's total is the sum of the kept counts, read
        # from a few rows instead of counting the clinic's patients.
        total = sum(reading.counts(clinic, category=category or None).values())
        patients = KnownCount(patients, total)
    page = Paginator(patients, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "patients/patient_list.html",
        {
            "page": page,
            "form": form,
            "sort": sort,
            "query": query,
            "search_key": search_key if query else "",
            "search_expired": expired,
            "too_many": too_many,
            "search_shown": SEARCH_SHOWN,
            "category": category,
            "categories": RiskCategory.choices,
            "today": clinic.today(),
        },
        status=400 if form.is_bound and not form.is_valid() else 200,
    )


@require(Action.ENROLL_PATIENT)
@require_http_methods(["GET", "POST"])
def patient_create(request):
    clinic = current_clinic(request)
    may_allow_home_tests = may(request, Action.ALLOW_HOME_TESTS)
    form = PatientForm(
        submitted(request)[0],
        may_allow_home_tests=may_allow_home_tests,
        today=clinic.today(),
        initial={
            "enrolled_on": clinic.today(),
            "target_mg_per_kg": clinic.default_target_mg_per_kg,
        },
    )
    if request.method == "POST" and form.is_valid():
        try:
            patient = enrollment.enroll_patient(
                clinic=clinic,
                by=request.user,
                data=form.cleaned_data,
                may_allow_home_tests=may_allow_home_tests,
            )
        except ValidationError as error:
            apply_service_errors(form, error)
        else:
            messages.success(request, f"{patient.full_name} is enrolled.")
            return redirect(patient)
    return render(
        request, "patients/patient_form.html", {"form": form, "title": "Enroll a patient"}
    )


@require(Action.VIEW_PATIENTS)
def patient_detail(request, pk):
    patient = get_patient(request, pk)
    log_view(request.user, patient)
    return render(request, "patients/patient_detail.html", load_patient_page(patient))


@require(Action.EDIT_PATIENT)
@require_http_methods(["GET", "POST"])
def patient_edit(request, pk):
    patient = get_patient(request, pk)
    may_allow_home_tests = may(request, Action.ALLOW_HOME_TESTS)
    form = PatientEditForm(
        submitted(request)[0],
        instance=patient,
        may_allow_home_tests=may_allow_home_tests,
        today=patient.clinic.today(),
    )
    if request.method == "POST" and form.is_valid():
        try:
            enrollment.update_patient(
                patient,
                by=request.user,
                data=form.cleaned_data,
                may_allow_home_tests=may_allow_home_tests,
            )
        except ValidationError as error:
            apply_service_errors(form, error)
        else:
            messages.success(request, "Changes saved.")
            return redirect(patient)
    patient.refresh_from_db()
    return render(
        request,
        "patients/patient_form.html",
        {"form": form, "patient": patient, "title": f"Edit {patient.full_name}"},
    )


urlpatterns = [
    path("", patient_list, name="list"),
    path("new/", patient_create, name="create"),
    path("<int:pk>/", patient_detail, name="detail"),
    path("<int:pk>/edit/", patient_edit, name="edit"),
]
