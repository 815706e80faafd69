"""Pages that record what the `patients` app keeps (consent, contraception, pregnancy tests, the
risk category) and the audit log: short views that fetch through `patients.access`, call a
service, render. The patient list and page, enrollment and its edits show or write a course too,
so they live in `monitoring.patient_views` (docs/architecture.md)."""

from auditlog.models import LogEntry
from django.contrib import messages
from django.http import FileResponse, Http404
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_http_methods

from clinic.access import current_clinic, require
from clinic.audit import log_view
from clinic.pages import record_page
from clinic.roles import Action
from patients.access import get_patient, get_record, patients_for
from rules import contraception_warnings

from . import audit_page, evidence, services
from .forms import (
    ConsentForm,
    ContraceptionForm,
    PregnancyTestForm,
    RiskCategoryForm,
    SupersedeForm,
)
from .models import PregnancyTest


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
        for warning in contraception_warnings(data["methods"]):
            messages.warning(request, warning.message)

    return record_page(request, patient, ContraceptionForm, "Contraception confirmation", save)


@require(Action.RECORD_CHECKS)
@require_http_methods(["GET", "POST"])
def pregnancy_test_create(request, pk):
    patient = get_patient(request, pk)

    def save(data):
        services.record_pregnancy_test(patient, by=request.user, data=data)

    return record_page(request, patient, PregnancyTestForm, "Pregnancy test", save)


@require(Action.VIEW_PATIENTS)
@require_GET
def pregnancy_test_evidence(request, test_pk):
    """A home test's photo or PDF, for the patient's clinic only (another clinic's is a 404),
    audited as a view of the test. Always a download, of the type its bytes show, never kept
    by a cache (docs/security.md, "Evidence"). Read through the FileField, wherever the storage
    keeps it."""
    test = get_record(request, PregnancyTest, test_pk)
    if not test.evidence:
        raise Http404("This test has no evidence.")
    try:
        stored = test.evidence.open("rb")
    except FileNotFoundError:
        raise Http404("The evidence file is missing.") from None
    content_type, extension = evidence.sniff(stored) or ("application/octet-stream", "")
    log_view(request.user, test)
    response = FileResponse(
        stored,
        as_attachment=True,
        filename=f"pregnancy-test-{test.collected_on:%Y-%m-%d}{extension}",
        content_type=content_type,
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "no-store"
    return response


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


@require(Action.READ_AUDIT_LOG)
def audit_log(request):
    """The clinic's audit events, newest first, as people read them (patients/audit_page.py)."""
    clinic = current_clinic(request)
    entries = LogEntry.objects.filter(additional_data__clinic_id=clinic.pk).order_by(
        "-timestamp", "-id"
    )
    filters = audit_page.AuditFilters(request.GET)
    filters.is_valid()  # a bad filter is named on the page and left out
    entries = audit_page.filtered(entries, filters, clinic)
    patient_id = filters.cleaned_data.get("patient")
    patient = patients_for(request).filter(pk=patient_id).first() if patient_id else None
    return render(
        request,
        "clinic/audit_log.html",
        {
            "page": audit_page.page_of_lines(entries, request.GET.get("page"), clinic),
            "filters": filters.shown(),
            "filter_problems": filters.problems(),
            "filtered_patient": patient,
            "actions": [
                (value, audit_page.ACTION_WORDS[value]) for value, _ in LogEntry.Action.choices
            ],
            "record_types": audit_page.RECORD_TYPES,
        },
    )
