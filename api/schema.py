"""OpenAPI descriptions shared by the endpoints: the clinic header and the error bodies."""

from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema

from .permissions import CLINIC_HEADER
from .serializers import (
    EARLIEST_STATUS_DATE,
    LATEST_STATUS_DATE,
    STATUS_DATE_PATTERN,
    DetailOut,
    Figure,
    RefusedOut,
)

# Exactly what permissions._chosen_clinic_id accepts: 1 to 18 ASCII digits.
CLINIC_PARAMETER = OpenApiParameter(
    CLINIC_HEADER,
    {"type": "string", "pattern": "^[0-9]{1,18}$"},
    OpenApiParameter.HEADER,
    required=False,
    description=(
        "The clinic to act in, required of users who belong to several (else a 400 naming "
        "it). A clinic the user does not belong to is a 403."
    ),
)

# `?on=` of the status and the worklist: a date in the range StatusQuery accepts.
ON_PARAMETER = OpenApiParameter(
    "on",
    {"type": "string", "format": "date", "pattern": STATUS_DATE_PATTERN},
    OpenApiParameter.QUERY,
    required=False,
    description=f"Default: today. From {EARLIEST_STATUS_DATE.isoformat()} (the first rule set) "
    f"to {LATEST_STATUS_DATE.isoformat()}.",
)


class ClinicSchema(AutoSchema):
    """No `?format=` parameter: the API's views choose the answer's type by the Accept header
    alone (parsers.AcceptHeaderNegotiation), so the schema must not offer one."""

    def _get_format_parameters(self):
        return []


class FigureSchema(OpenApiSerializerFieldExtension):
    """A Figure is what its field takes: text in its pattern, or a whole number in its range."""

    target_class = Figure

    def map_serializer_field(self, auto_schema, direction):
        field = self.target
        return {
            "oneOf": [
                # No `format: decimal`: fuzzers read it as leave to send a JSON number.
                {"type": "string", "pattern": field.pattern},
                {"type": "integer", "minimum": field.whole_min, "maximum": field.whole_max},
            ]
        }


FIELD_ERRORS = OpenApiResponse(
    response={
        "type": "object",
        "additionalProperties": {},
        "description": "Each invalid field (or non_field_errors) -> a list of messages.",
    },
    description="Invalid input: the body names each field that is wrong.",
)
ERRORS = {
    400: FIELD_ERRORS,
    401: OpenApiResponse(DetailOut, description="No valid `Authorization: Token …` header."),
    403: OpenApiResponse(DetailOut, description="Not a member of the clinic, or the role may not."),
    404: OpenApiResponse(DetailOut, description="No such record in the user's clinic."),
    413: OpenApiResponse(
        response={
            "type": "object",
            "additionalProperties": {},
            "description": "`detail`, or the field whose file is too large -> messages.",
        },
        description="The body, or the evidence file, is larger than the server accepts.",
    ),
    409: OpenApiResponse(
        RefusedOut, description="The pre-prescription gate refused: `blockers` says why."
    ),
}
# DRF answers 406 to an Accept header naming no type the endpoint answers in; every operation
# can give it, so every operation says so (the schema lists every answer code).
NOT_ACCEPTABLE = OpenApiResponse(
    DetailOut,
    description="The Accept header names no type this endpoint answers in (application/json).",
)


def document(summary: str, *, ok, status: int = 200, request=None, errors=(400, 403, 404), **kw):
    """extend_schema with the clinic header and the error answers an endpoint can give."""
    # Every operation can be a 400: a malformed X-Clinic-Id header, or none from a user of
    # several clinics.
    responses = {status: ok, 400: ERRORS[400], 401: ERRORS[401], 406: NOT_ACCEPTABLE}
    responses.update({code: ERRORS[code] for code in errors})
    return extend_schema(
        summary=summary,
        request=request,
        responses=responses,
        parameters=[CLINIC_PARAMETER, *kw.pop("parameters", [])],
        **kw,
    )
