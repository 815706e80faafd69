"""Staff pages for reminders: the clinic's reminders by status, and one patient's reminders."""

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Case, Count, DateTimeField, F, IntegerField, Value, When
from django.db.models.functions import Coalesce
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from clinic import dates
from clinic.access import current_clinic, require
from clinic.audit import log_view
from clinic.roles import Action
from patients.access import get_patient, get_record, patients_for

from .models import Reminder, ReminderStatus
from .reminders.stall import sending_stall
from .services import retry_failed

# Failed reminders first: they need a person (wrong address, mailbox refused). Then what goes
# out next, soonest first; then what already went out (or was cancelled), the newest first.
_FAILED_FIRST = Case(
    When(status=ReminderStatus.FAILED, then=Value(0)),
    When(status__in=[ReminderStatus.PENDING, ReminderStatus.SENDING], then=Value(1)),
    default=Value(2),
    output_field=IntegerField(),
)
_UPCOMING_SOONEST = Case(
    When(status__in=[ReminderStatus.PENDING, ReminderStatus.SENDING], then=F("send_at")),
    default=None,
    output_field=DateTimeField(),
)
_DONE_NEWEST = Coalesce("sent_at", "send_at")
ORDER = (_FAILED_FIRST, _UPCOMING_SOONEST.asc(nulls_last=True), _DONE_NEWEST.desc(), "-id")


@require(Action.MANAGE_REMINDERS)
@require_GET
def reminder_list(request):
    clinic = current_clinic(request)
    reminders = Reminder.objects.filter(patient__clinic=clinic)
    counts = dict(reminders.values_list("status").annotate(n=Count("id")).order_by())
    status = request.GET.get("status", "")
    if status in ReminderStatus.values:
        reminders = reminders.filter(status=status)
    reminders = reminders.select_related("patient").order_by(*ORDER)
    page = Paginator(reminders, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "reminders/reminder_list.html",
        {
            "page": page,
            "status": status,
            "statuses": [(s, label, counts.get(s, 0)) for s, label in ReminderStatus.choices],
            # The red banner when sending has stalled (docs/operations-health.md).
            "stall": sending_stall(clinic),
            "late_minutes": settings.HEALTH_REMINDER_LATE_MINUTES,
            "opted_out": patients_for(request)
            .filter(email_opt_out=True)
            .order_by("family_name", "given_name"),
        },
    )


@require(Action.MANAGE_REMINDERS)
@require_GET
def patient_reminders(request, pk):
    patient = get_patient(request, pk)
    log_view(request.user, patient)
    reminders = patient.reminders.order_by(*ORDER)
    return render(
        request,
        "reminders/patient_reminders.html",
        {"patient": patient, "reminders": reminders},
    )


@require(Action.MANAGE_REMINDERS)
@require_POST
def reminder_retry(request, pk):
    """Send a failed reminder again (say, after the patient's address was corrected)."""
    reminder = get_record(request, Reminder, pk)
    retried, send_at = retry_failed(reminder, by=request.user)
    now = timezone.now()
    if retried and send_at > now:
        messages.success(
            request,
            "The reminder will be sent again after quiet hours, at "
            f"{dates.clock(send_at, reminder.patient.clinic.zone)}.",
        )
    elif retried:
        messages.success(request, "The reminder will be sent again within a minute.")
    else:
        messages.info(request, "Only a failed reminder can be sent again.")
    return redirect("reminders:patient", pk=reminder.patient_id)
