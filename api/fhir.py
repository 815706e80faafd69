"""GET /api/v1/patients/{id}/fhir/: the patient's record as a FHIR R4 Bundle (docs/fhir.md).

Access exactly as the patient GET: another clinic's patient is a 404, a role that may not see
patients a 403, and the export is one access event in the audit log. The bundle is built and
validated by monitoring/fhir.py, which the patient page's *Download FHIR* button shares.
"""

from django.http import HttpResponse
from drf_spectacular.utils import OpenApiResponse
from rest_framework.renderers import JSONRenderer

from clinic.audit import log_view
from clinic.roles import Action
from monitoring import fhir

from .schema import document
from .views import ClinicView

BUNDLE_SCHEMA = {
    "type": "object",
    "description": (
        "A FHIR R4 Bundle of type `collection`: Organization, Patient, Consent, Observation, "
        "MedicationRequest and MedicationDispense resources (docs/fhir.md)."
    ),
    "required": ["resourceType", "type", "entry"],
    "properties": {
        "resourceType": {"type": "string", "enum": ["Bundle"]},
        "id": {"type": "string"},
        "type": {"type": "string", "enum": ["collection"]},
        "timestamp": {"type": "string"},
        "entry": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["fullUrl", "resource"],
                "properties": {
                    "fullUrl": {"type": "string"},
                    "resource": {
                        "type": "object",
                        "required": ["resourceType", "id"],
                        "properties": {
                            "resourceType": {"type": "string"},
                            "id": {"type": "string"},
                        },
                        "additionalProperties": {},
                    },
                },
            },
        },
    },
}


class FHIRJSONRenderer(JSONRenderer):
    """Lets a client ask for `Accept: application/fhir+json` (else a 406)."""

    media_type = fhir.MEDIA_TYPE
    format = "fhir"


class PatientFHIR(ClinicView):
    # Errors are plain JSON ({"detail": ...}) like every endpoint's; the bundle is FHIR JSON.
    renderer_classes = [JSONRenderer, FHIRJSONRenderer]

    @document(
        "The patient's record as a FHIR R4 Bundle",
        description=(
            "A `collection` Bundle of the patient, consents, pregnancy tests, labs, PHQ-2 and "
            "PHQ-9 scores, weights, contraception confirmations, prescriptions and dispenses, "
            "coded with LOINC, SNOMED CT, RxNorm and UCUM (docs/fhir.md). Each export is an "
            "access event in the audit log."
        ),
        ok=OpenApiResponse(BUNDLE_SCHEMA, description="The FHIR Bundle."),
        status=(200, fhir.MEDIA_TYPE),
        errors=(403, 404),
    )
    def get(self, request, id):
        patient = self.patient(id, Action.VIEW_PATIENTS)
        body = fhir.bundle_json(patient)
        log_view(request.user, patient)
        return HttpResponse(body, content_type=fhir.CONTENT_TYPE)
