"""Pages for labs, visits, mood reviews, prescriptions, dispensing and ending treatment."""

from django.core.exceptions import ValidationError
from django.views.decorators.http import require_http_methods

from clinic.access import get_patient, get_record, may, require
from clinic.pages import record_page
from clinic.roles import Action

from . import rules, services
from .forms import (
    DispenseForm,
    EndTreatmentForm,
    LabForm,
    MoodReviewForm,
    PrescriptionForm,
    VisitForm,
)
from .history import load_history
from .models import Prescription, Visit


@require(Action.RECORD_CHECKS)
@require_http_methods(["GET", "POST"])
def lab_create(request, pk):
    patient = get_patient(request, pk)

    def save(data):
        services.record_lab(patient, by=request.user, **data)

    return record_page(request, patient, LabForm, "Lab result", save)


@require(Action.RECORD_VISIT)
@require_http_methods(["GET", "POST"])
def visit_create(request, pk):
    patient = get_patient(request, pk)
    clinician = may(request, Action.CONFIRM_COUNSELING)

    def save(data):
        services.record_visit(patient, by=request.user, data=data,
                              may_confirm_counseling=clinician)

    return record_page(request, patient, VisitForm, "Visit", save,
                       form_kwargs={"may_confirm_counseling": clinician})


@require(Action.REVIEW_MOOD)
@require_http_methods(["GET", "POST"])
def mood_review_create(request, visit_pk):
    visit = get_record(request, Visit, visit_pk)

    def save(data):
        services.record_mood_review(visit, by=request.user, **data)

    return record_page(request, visit.patient, MoodReviewForm,
                       f"Mood review of the visit on {visit.visited_on:%d %b %Y}", save)


@require(Action.WRITE_PRESCRIPTION)
@require_http_methods(["GET", "POST"])
def prescription_create(request, pk):
    """The prescription form shows the gate's blockers for today and refuses while any stand."""
    patient = get_patient(request, pk)
    today = patient.clinic.today()
    blockers = rules.evaluate(load_history(patient)[1], today)

    def save(data):
        try:
            services.write_prescription(patient, by=request.user, **data)
        except services.PrescriptionRefused as refused:
            raise ValidationError(
                {"written_on": [f"Refused: {b.message}" for b in refused.blockers]}
            ) from None

    return record_page(request, patient, PrescriptionForm, "Prescription", save,
                       extra={"blockers": blockers})


@require(Action.RECORD_CHECKS)
@require_http_methods(["GET", "POST"])
def dispense(request, prescription_pk):
    prescription = get_record(request, Prescription, prescription_pk)

    def save(data):
        services.dispense(prescription, by=request.user, **data)

    return record_page(request, prescription.patient, DispenseForm,
                       f"Dispense of the prescription written {prescription.written_on:%d %b %Y}",
                       save)


@require(Action.END_TREATMENT)
@require_http_methods(["GET", "POST"])
def end_treatment(request, pk):
    patient = get_patient(request, pk)

    def save(data):
        services.end_treatment(patient, by=request.user, **data)

    return record_page(request, patient, EndTreatmentForm, "End treatment", save)


