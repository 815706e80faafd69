"""The patient page's *Download FHIR* button: the same bundle as GET /api/v1/patients/{id}/fhir/
(monitoring/fhir.py, docs/fhir.md), as a file, to anyone who may see the patient page."""

from django.http import HttpResponse
from django.views.decorators.http import require_GET

from clinic.access import require
from clinic.audit import log_view
from clinic.roles import Action
from patients.access import get_patient

from . import fhir


@require(Action.VIEW_PATIENTS)
@require_GET
def patient_fhir(request, pk):
    patient = get_patient(request, pk)
    body = fhir.bundle_json(patient)
    log_view(request.user, patient)
    response = HttpResponse(body, content_type=fhir.CONTENT_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{fhir.filename(patient)}"'
    return response
