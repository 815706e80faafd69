import datetime

from auditlog.models import LogEntry
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.http import HttpResponseRedirect, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.dateparse import parse_date
from django.views.decorators.http import require_http_methods, require_POST

from . import audit_page, services
from .access import SESSION_CLINIC_KEY, current_clinic, patients_for, require
from .forms import ClinicSettingsForm
from .models import Clinic
from .roles import Action


def home(request):
    """Each role lands where its day starts."""
    if request.membership is None:
        return render(request, "clinic/no_clinic.html", status=403)
    if request.membership.role == "clinic_admin":
        return redirect("audit_log")
    return redirect("monitoring:worklist")


@require_POST
def switch_clinic(request):
    clinic_id = request.POST.get("clinic", "")
    membership = next((m for m in request.memberships if str(m.clinic_id) == clinic_id), None)
    if membership is None:
        messages.error(request, "You are not a member of that clinic.")
    else:
        request.session[SESSION_CLINIC_KEY] = membership.clinic_id
        messages.success(request, f"Now working in {membership.clinic}.")
    return HttpResponseRedirect(reverse("home"))


@require(Action.READ_AUDIT_LOG)
def audit_log(request):
    """The clinic's audit events, newest first, as people read them (clinic/audit_page.py)."""
    clinic = current_clinic(request)
    entries = LogEntry.objects.filter(additional_data__clinic_id=clinic.pk).order_by(
        "-timestamp", "-id"
    )
    filters = {
        "actor": request.GET.get("actor", "").strip(),
        "action": request.GET.get("action", ""),
        "model": request.GET.get("model", ""),
        "patient": request.GET.get("patient", "").strip(),
        "since": request.GET.get("since", ""),
    }
    if filters["actor"]:
        entries = entries.filter(
            Q(actor__username__icontains=filters["actor"])
            | Q(actor__first_name__icontains=filters["actor"])
            | Q(actor__last_name__icontains=filters["actor"])
        )
    if filters["action"].isdigit():
        entries = entries.filter(action=int(filters["action"]))
    if filters["model"]:
        entries = entries.filter(content_type__model=filters["model"])
    if filters["patient"].isdigit():
        entries = entries.filter(additional_data__patient_id=int(filters["patient"]))
    try:
        since = parse_date(filters["since"]) if filters["since"] else None
    except ValueError:  # a well-formed but impossible date, such as 2024-02-30
        since = None
    if since:
        start = datetime.datetime.combine(since, datetime.time(), tzinfo=clinic.zone)
        entries = entries.filter(timestamp__gte=start)
    patient = None
    if filters["patient"].isdigit():
        patient = patients_for(request).filter(pk=int(filters["patient"])).first()
    return render(
        request,
        "clinic/audit_log.html",
        {
            "page": audit_page.page_of_lines(entries, request.GET.get("page"), clinic),
            "filters": filters,
            "filtered_patient": patient,
            "actions": [
                (value, audit_page.ACTION_WORDS[value]) for value, _ in LogEntry.Action.choices
            ],
            "record_types": audit_page.RECORD_TYPES,
        },
    )


@require(Action.MANAGE_CLINIC)
@require_http_methods(["GET", "POST"])
def clinic_settings(request):
    """The clinic's settings, for its admins; each change is audited by the service."""
    clinic = Clinic.objects.get(pk=current_clinic(request).pk)
    form = ClinicSettingsForm(request.POST if request.method == "POST" else None, instance=clinic)
    if request.method == "POST" and form.is_valid():
        try:
            services.update_clinic_settings(clinic, by=request.user, data=form.cleaned_data)
        except ValidationError as error:
            for field, errors in error.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            messages.success(request, "Clinic settings saved.")
            return redirect("clinic_settings")
    return render(request, "clinic/clinic_settings.html", {"form": form})


@login_not_required
def health(request):
    return JsonResponse({"status": "ok"})
