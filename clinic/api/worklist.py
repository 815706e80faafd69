"""`GET /api/v1/worklist/?on=`: the clinic's triage groups (docs/clinic-day.md, triage).

The same `clinic_day` as the Today page, its CSV and the staff digest, so their counts agree;
next steps are worded for the caller's role, as on Today.
"""

from rest_framework import serializers
from rest_framework.response import Response

from clinic.core.access import current_clinic, current_role
from clinic.core.roles import Action
from monitoring import codes, rules
from monitoring.worklist import clinic_day

from .schema import ON_PARAMETER, document
from .serializers import StatusQuery
from .views import ClinicView


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
    count = serializers.IntegerField()
    patients = WorklistPatientOut(many=True)


class WorklistOut(serializers.Serializer):
    on = serializers.DateField()
    horizon_days = serializers.IntegerField()
    groups = WorklistGroupOut(many=True)


class Worklist(ClinicView):
    @document(
        "The clinic's triage groups on a date, most urgent first",
        ok=WorklistOut,
        errors=(400, 403),
        parameters=[ON_PARAMETER],
    )
    def get(self, request):
        self.require(Action.VIEW_PATIENTS)
        clinic = current_clinic(request)
        query = self.valid(StatusQuery, data=request.query_params)
        role = current_role(request)
        day = clinic_day(clinic, query.get("on") or clinic.today())
        groups = [
            {
                "group": key,
                "label": codes.label(key),
                "listed_on_today": key in rules.TRIAGE_LISTED_GROUPS,
                "count": len(items),
                "patients": [
                    {
                        "id": item.patient.pk,
                        "group": key,
                        "next_step": item.next_step(role),
                        "next_step_code": item.code,
                        "sort_on": item.sort_on,
                        "overdue": item.overdue,
                    }
                    for item in items
                ],
            }
            for key, items in day.groups.items()
        ]
        body = {"on": day.on, "horizon_days": clinic.triage_horizon_days, "groups": groups}
        return Response(WorklistOut(body).data)
