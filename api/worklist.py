"""`GET /api/v1/worklist/`: the clinic's triage groups (docs/clinic-day.md, triage; DOMAIN
section 8 of the API's design, docs/api.md).

The same kept rows as the Today page, its CSV and the staff digest, so their counts agree;
next steps are worded for the caller's role, as on Today. Each group gives its full `count`
and at most `page_size` of its patients, and `?group=X&page=N` pages through one group, so the
answer stays small for a clinic of 100,000. Nothing is computed for the whole clinic in the
request: today's and tomorrow's rows are kept; another date is computed only for a clinic of
at most `worklist.COMPUTE_LIMIT` patients (a 400 naming `on` above it).
"""

from urllib.parse import urlencode

from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

import rules
from clinic.access import current_clinic, current_role
from clinic.roles import Action
from monitoring import codes, worklist

from .schema import ON_PARAMETER, document
from .serializers import StatusQuery
from .views import ClinicView

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 500
MAX_PAGE = 1_000_000


class EmptyRefused:
    """DRF reads an empty `?page=` as no value at all (the default), while the schema says an
    integer or one of the groups: here it is a 400 naming the parameter, as the schema says
    (the same as `QueryDate` for `on`)."""

    def get_value(self, dictionary):
        if dictionary.get(self.field_name) == "":
            return ""
        return super().get_value(dictionary)

    def validate_empty_values(self, data):
        if data == "":
            self.fail("invalid" if "invalid" in self.error_messages else "invalid_choice", input="")
        return super().validate_empty_values(data)


class QueryInt(EmptyRefused, serializers.IntegerField):
    pass


class QueryChoice(EmptyRefused, serializers.ChoiceField):
    pass


class WorklistQuery(StatusQuery):
    group = QueryChoice(choices=rules.TRIAGE_GROUPS, required=False)
    page = QueryInt(min_value=1, max_value=MAX_PAGE, default=1)
    page_size = QueryInt(min_value=1, max_value=MAX_PAGE_SIZE, default=DEFAULT_PAGE_SIZE)


PARAMETERS = [
    ON_PARAMETER,
    OpenApiParameter(
        "group",
        {"type": "string", "enum": list(rules.TRIAGE_GROUPS)},
        OpenApiParameter.QUERY,
        required=False,
        description="One group only, paged with `page`.",
    ),
    OpenApiParameter(
        "page",
        {"type": "integer", "minimum": 1, "maximum": MAX_PAGE},
        OpenApiParameter.QUERY,
        required=False,
        description="The page of `group` (default 1); a page past the last has no patients.",
    ),
    OpenApiParameter(
        "page_size",
        {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE},
        OpenApiParameter.QUERY,
        required=False,
        description=f"Patients per group (default {DEFAULT_PAGE_SIZE}, at most {MAX_PAGE_SIZE}).",
    ),
]


class WorklistPatientOut(serializers.Serializer):
    id = serializers.IntegerField()
    group = serializers.ChoiceField(choices=rules.TRIAGE_GROUPS)
    next_step = serializers.CharField(help_text="What to do next, worded for the caller's role.")
    next_step_code = serializers.CharField(
        allow_null=True, help_text="A blocker or due code, or write_prescription."
    )
    sort_on = serializers.DateField(
        allow_null=True,
        help_text="The date that sorts the group (on_track: the last day on track).",
    )
    overdue = serializers.BooleanField()


class WorklistGroupOut(serializers.Serializer):
    group = serializers.ChoiceField(choices=rules.TRIAGE_GROUPS)
    label = serializers.CharField()
    listed_on_today = serializers.BooleanField()
    count = serializers.IntegerField(help_text="Every patient of the group, on every page.")
    page = serializers.IntegerField()
    next = serializers.CharField(
        allow_null=True, help_text="The URL of the group's next page, or null on the last."
    )
    previous = serializers.CharField(allow_null=True)
    patients = WorklistPatientOut(many=True)


class WorklistOut(serializers.Serializer):
    on = serializers.DateField()
    horizon_days = serializers.IntegerField()
    as_of = serializers.DateTimeField(
        allow_null=True,
        help_text="When the kept rows were last brought up to date (null: computed now).",
    )
    current = serializers.BooleanField(
        help_text="False while the kept rows are being brought up to date (after midnight "
        "or a settings change): the answer is then as of `as_of`."
    )
    groups = WorklistGroupOut(many=True)


ROW_COLUMNS = ("patient_id", "step", "sort_on", "overdue")


class Worklist(ClinicView):
    @document(
        "The clinic's triage groups on a date, most urgent first, a page of each",
        ok=WorklistOut,
        errors=(400, 403),
        parameters=PARAMETERS,
    )
    def get(self, request):
        self.require(Action.VIEW_PATIENTS)
        clinic = current_clinic(request)
        query = self.valid(WorklistQuery, data=request.query_params)
        role = current_role(request)
        on = query.get("on") or clinic.today()
        size, number = query["page_size"], query["page"]
        keys = [query["group"]] if query.get("group") else list(rules.TRIAGE_GROUPS)
        page = number if query.get("group") else 1
        reading = worklist.kept_reading(clinic, on)
        if reading is not None:
            counts = reading.counts(clinic)
            rows = worklist.kept_rows(clinic, reading=reading).values_list(*ROW_COLUMNS)
            start = (page - 1) * size

            def patients_of(key):
                if start >= counts[key]:
                    return []
                found = rows.filter(group=key)[start : start + size]
                return [_patient(key, *values, role=role) for values in found]

            as_of, current = reading.refreshed_at, reading.current
        else:
            try:
                day = worklist.clinic_day(clinic, on)
            except worklist.TooLargeToCompute:
                raise ValidationError(
                    {
                        "on": [
                            "The worklist is kept for today and tomorrow; another date is "
                            "computed only for a clinic of at most "
                            f"{worklist.COMPUTE_LIMIT:,} patients."
                        ]
                    }
                ) from None
            counts = day.counts()
            start = (page - 1) * size

            def patients_of(key):
                return [
                    _patient(key, i.patient.pk, i.code, i.sort_on, i.overdue, role=role)
                    for i in day.groups[key][start : start + size]
                ]

            as_of, current = None, True
        groups = [
            {
                "group": key,
                "label": str(codes.label(key)),
                "listed_on_today": key in rules.TRIAGE_LISTED_GROUPS,
                "count": counts[key],
                "page": page,
                "next": _link(request, key, page + 1, size) if page * size < counts[key] else None,
                "previous": _link(request, key, page - 1, size) if page > 1 else None,
                "patients": patients_of(key),
            }
            for key in keys
        ]
        # Written as the serializer would write it (WorklistOut describes it in the schema;
        # tests/api/test_worklist_pages.py compares the two): up to 1,000 patients through a
        # DRF serializer cost more than the rest of the request.
        body = {
            "on": on.isoformat(),
            "horizon_days": clinic.triage_horizon_days,
            "as_of": AS_OF.to_representation(as_of) if as_of else None,
            "current": current,
            "groups": groups,
        }
        return Response(body)


AS_OF = serializers.DateTimeField()


def _patient(group, pk, code, sort_on, overdue, *, role) -> dict:
    return {
        "id": pk,
        "group": group,
        "next_step": str(codes.next_step(code or None, role)),
        "next_step_code": code or None,
        "sort_on": sort_on.isoformat() if sort_on else None,
        "overdue": overdue,
    }


def _link(request, group: str, page: int, size: int) -> str:
    """The URL of a group's page, the caller's other parameters kept."""
    params = {k: v for k, v in request.query_params.items() if k not in ("group", "page")}
    params.update(group=group, page=page)
    if size != DEFAULT_PAGE_SIZE:
        params["page_size"] = size
    return request.build_absolute_uri(f"{request.path}?{urlencode(params)}")
