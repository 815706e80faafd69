"""Patient pages: short views that fetch through clinic.access, call a service, render."""

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Q
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from clinic.access import current_clinic, get_patient, get_record, may, patients_for, require
from clinic.audit import log_view
from clinic.pages import record_page, submitted
from clinic.roles import Action
from monitoring import rules
from monitoring.history import load_patient_page

from . import services
from .forms import (
    ConsentForm,
    ContraceptionForm,
    PatientEditForm,
    PatientForm,
    PatientSearchForm,
    PregnancyTestForm,
    RiskCategoryForm,
    SupersedeForm,
    apply_service_errors,
)
from .models import PregnancyTest, RiskCategory

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
            | Q(mrn__iexact=query)
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
            patient = services.enroll_patient(
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
            services.update_patient(
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


@require(Action.CHANGE_RISK_CATEGORY)
@require_http_methods(["GET", "POST"])
def risk_category_change(request, pk):
    patient = get_patient(request, pk)

    def save(data):
        services.change_risk_category(
            patient,
            by=request.user,
            new=data["risk_category"],
            changed_on=data["changed_on"],
            reason=data["reason"],
        )

    return record_page(request, patient, RiskCategoryForm, "Change risk category", save)


@require(Action.RECORD_CHECKS)
@require_http_methods(["GET", "POST"])
def consent_create(request, pk):
    patient = get_patient(request, pk)

    def save(data):
        services.record_consent(patient, by=request.user, **data)

    return record_page(request, patient, ConsentForm, "Consent", save)


@require(Action.RECORD_CHECKS)
@require_http_methods(["GET", "POST"])
def contraception_create(request, pk):
    patient = get_patient(request, pk)

    def save(data):
        services.record_contraception(patient, by=request.user, source="staff", **data)
        for warning in rules.contraception_warnings(data["methods"]):
            messages.warning(request, warning.message)

    return record_page(request, patient, ContraceptionForm, "Contraception confirmation", save)


@require(Action.RECORD_CHECKS)
@require_http_methods(["GET", "POST"])
def pregnancy_test_create(request, pk):
    patient = get_patient(request, pk)

    def save(data):
        services.record_pregnancy_test(patient, by=request.user, data=data)

    return record_page(request, patient, PregnancyTestForm, "Pregnancy test", save)


@require(Action.SUPERSEDE_TEST)
@require_http_methods(["GET", "POST"])
def pregnancy_test_supersede(request, test_pk):
    test = get_record(request, PregnancyTest, test_pk)

    def save(data):
        services.supersede_test(
            test, by=request.user, reason=data["reason"], on=test.patient.clinic.today()
        )

    return record_page(
        request, test.patient, SupersedeForm, "Mark a positive test superseded", save
    )
