"""The patient list, the patient page, enrollment and its edits.

Each shows or writes both a patient (the `patients` app) and their course and status (this app),
so they live in the upper of the two apps (docs/architecture.md). The URL names stay in the
`patients` namespace: the project's URLconf puts these routes beside `patients.urls`.
"""

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Q
from django.shortcuts import redirect, render
from django.urls import path
from django.views.decorators.http import require_http_methods

from clinic.core.access import current_clinic, may, require
from clinic.core.audit import log_view
from clinic.core.forms import apply_service_errors
from clinic.core.pages import submitted
from clinic.core.roles import Action
from clinic.core.text import mrn_key
from patients.access import get_patient, patients_for
from patients.forms import PatientEditForm, PatientForm, PatientSearchForm
from patients.models import RiskCategory

from . import enrollment
from .history import load_patient_page

SORTS = {
    "name": ("family_name", "given_name", "id"),
    "-name": ("-family_name", "-given_name", "-id"),
    "mrn": ("mrn",),
    "-mrn": ("-mrn",),
    "enrolled": ("enrolled_on", "id"),
    "-enrolled": ("-enrolled_on", "-id"),
}
PAGE_SIZE = 25


@require(Action.VIEW_PATIENTS)
def patient_list(request):
    form = PatientSearchForm(request.GET)
    patients = patients_for(request)
    query = form.cleaned_data["q"].strip() if form.is_valid() else ""
    if query:
        patients = patients.filter(
            Q(given_name__icontains=query)
            | Q(family_name__icontains=query)
            | Q(mrn_key=mrn_key(query))
            | Q(ipledge_id__iexact=query)
        )
    category = request.GET.get("category")
    if category in RiskCategory.values:
        patients = patients.filter(risk_category=category)
    sort = request.GET.get("sort", "name")
    # Each row shows the patient's group on Today from the kept triage row (no rules run here).
    patients = patients.select_related("triage").order_by(*SORTS.get(sort, SORTS["name"]))
    page = Paginator(patients, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "patients/patient_list.html",
        {
            "page": page,
            "form": form,
            "sort": sort,
            "query": query,
            "category": category,
            "categories": RiskCategory.choices,
            "today": current_clinic(request).today(),
        },
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
    context = load_patient_page(patient)
    _attach_recorders(context["records"].contraception)
    return render(request, "patients/patient_detail.html", context)


def _attach_recorders(confirmations) -> None:
    """Put who recorded each confirmation into its cache, in one query, so the page and the
    timeline name the clinician or staff member (not "by staff") without a query per row."""
    ids = {c.recorded_by_id for c in confirmations if c.recorded_by_id}
    users = get_user_model().objects.in_bulk(ids) if ids else {}
    for confirmation in confirmations:
        if confirmation.recorded_by_id in users:
            confirmation.recorded_by = users[confirmation.recorded_by_id]


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
