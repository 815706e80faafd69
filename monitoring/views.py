"""Pages for labs, the visit checklist, mood reviews, prescriptions, dispensing, ending
treatment, and today's worklist. Each fetches through patients.access, calls a service, renders."""

from decimal import Decimal
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

import rules
from clinic import dates
from clinic.access import current_clinic, current_role, may, require
from clinic.audit import log_export, log_view, person
from clinic.forms import apply_service_errors
from clinic.pages import next_url, record_page, submitted
from clinic.roles import Action
from patients.access import get_patient, get_record
from patients.models import (
    ContraceptionConfirmation,
    ContraceptionMethod,
    RiskCategory,
    Source,
)
from rules import ipledge
from rules.constants import MAX_MG_PER_KG_PER_DAY
from rules.snapshot import latest_weight_kg

from . import codes, enrollment, services, worklist
from .forms import (
    DispenseForm,
    EndTreatmentForm,
    LabForm,
    MoodReviewForm,
    NewCourseForm,
    PrescriptionForm,
    VisitChecklistForm,
)
from .history import load_history, load_ipledge_ticks, load_patient_page
from .models import Prescription, Severity, SideEffect, Visit


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
    """The monthly visit checklist: the visit and, inline, the contraception re-confirmation,
    saved together or not at all."""
    patient = get_patient(request, pk)
    if request.method == "GET":
        log_view(request.user, patient)  # the checklist shows the patient's record
    page = load_patient_page(patient)
    clinician = may(request, Action.CONFIRM_COUNSELING)
    form = VisitChecklistForm(
        submitted(request)[0],
        initial=_checklist_initial(page),
        patient=patient,
        clinician=clinician,
    )
    if request.method == "POST" and form.is_valid():
        try:
            visit = services.record_visit_checklist(
                patient,
                by=request.user,
                visit=form.visit_data(),
                contraception=form.contraception_data(),
                may_confirm_counseling=clinician,
            )
        except ValidationError as error:
            apply_service_errors(form, _as_checklist_error(error))
        else:
            back = next_url(request)
            if back and not may(request, Action.WRITE_PRESCRIPTION):
                messages.success(request, "Visit saved.")
                return redirect(back)
            messages.success(request, "Visit saved. The gate below is re-checked with it.")
            # A clinician stays for the gate and the prescription form; `next` goes along, so
            # writing it returns to Today.
            detail = reverse("monitoring:visit_detail", args=[visit.pk])
            return redirect(f"{detail}?{urlencode({'next': back})}" if back else detail)
    latest = page["records"].prescriptions[-1] if page["records"].prescriptions else None
    return render(
        request,
        "monitoring/visit_form.html",
        {
            **page,
            "form": form,
            "latest_prescription": latest,
            "dosing_weight": latest_weight_kg(rules.as_of(page["history"], page["today"])),
            "labs_due": [
                d for d in page["status"].due if d.code == rules.constants.FOLLOWUP_LABS_DUE
            ],
        },
    )


def _checklist_initial(page) -> dict:
    initial = {"visited_on": page["today"], "missed_dose_days": 0}
    staff = [c for c in page["records"].contraception if c.source == Source.STAFF]
    if staff:
        initial.update(
            methods=staff[-1].methods,
            abstinence=staff[-1].abstinence,
            started_on=staff[-1].started_on,
        )
    return initial


def _as_checklist_error(error: ValidationError) -> ValidationError:
    """The contraception service names its date confirmed_on: on this page it is the visit date."""
    if hasattr(error, "error_dict") and "confirmed_on" in error.error_dict:
        messages_by_field = error.message_dict
        messages_by_field["visited_on"] = messages_by_field.pop("confirmed_on")
        return ValidationError(messages_by_field)
    return error


def _visit_page(request, visit_pk, template: str, *, on_visit_day: bool):
    visit = get_record(request, Visit, visit_pk)
    patient = visit.patient
    log_view(request.user, visit)
    today = patient.clinic.today()
    on = visit.visited_on if on_visit_day else today
    course, history = load_history(patient)
    context = {
        "visit": visit,
        "patient": patient,
        "course": course,
        "today": on,
        "status": rules.status(history, on),
        "side_effects": [
            (SideEffect(code).label, Severity(severity).label)
            for code, severity in visit.side_effects.items()
        ],
        "reviews": list(visit.mood_reviews.all()),
        "contraception": [
            (
                person(c.recorded_by) if c.recorded_by else "staff",
                "abstinence"
                if c.abstinence
                else ", ".join(ContraceptionMethod(m).label for m in sorted(c.methods)),
            )
            for c in ContraceptionConfirmation.objects.filter(
                patient=patient, confirmed_on=visit.visited_on, source=Source.STAFF
            ).select_related("recorded_by")
        ],
        "gate_when": f"on {dates.day(on)}" if on_visit_day else "today",
    }
    if not on_visit_day and may(request, Action.WRITE_PRESCRIPTION) and not course.last_dose_on:
        context["prescription_form"] = _prescription_form(
            patient, history, today, next_url(request)
        )
    return render(request, template, context)


def _prescription_form(patient, history, today, back=None) -> PrescriptionForm:
    given = history.prescriptions
    form = PrescriptionForm(
        initial={
            "written_on": today,
            "days_supply": 30,
            "daily_dose_mg": given[-1].daily_dose_mg if given else None,
        }
    )
    action = reverse("monitoring:prescription_create", args=[patient.pk])
    form.helper.form_action = f"{action}?{urlencode({'next': back})}" if back else action
    return form


@require(Action.VIEW_PATIENTS)
@require_GET
def visit_detail(request, visit_pk):
    """The saved visit, the gate re-checked with it, and the prescription form for a clinician."""
    return _visit_page(request, visit_pk, "monitoring/visit_detail.html", on_visit_day=False)


@require(Action.VIEW_PATIENTS)
@require_GET
def visit_print(request, visit_pk):
    """One printed page: the visit and the gate's answer on the visit day."""
    return _visit_page(request, visit_pk, "monitoring/visit_print.html", on_visit_day=True)


@require(Action.VIEW_PATIENTS)
@require_GET
def worklist_page(request):
    """Today: the listed triage groups in order (docs/clinic-day.md). ?category= filters,
    ?group= shows one group page by page, ?format=csv downloads what the filters select."""
    clinic = current_clinic(request)
    role = current_role(request)
    category = request.GET.get("category")
    category = category if category in RiskCategory.values else None
    group = request.GET.get("group")
    group = group if group in rules.TRIAGE_LISTED_GROUPS else None
    if request.GET.get("format") == "csv":
        groups = [group] if group else list(rules.TRIAGE_LISTED_GROUPS)
        rows = worklist.kept_rows(clinic, category=category)
        # An export carries patients' records out of the app: one audit event naming them.
        name = f"today-{group or 'all'}-{clinic.today():%Y-%m-%d}.csv"
        exported = rows.filter(group__in=groups).order_by().values_list("patient_id", flat=True)
        log_export(request.user, clinic, list(exported), name)
        response = StreamingHttpResponse(
            worklist.csv_rows(rows, groups, clinic.today(), role),
            content_type="text/csv; charset=utf-8",
        )
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response
    found = worklist.today_page(clinic, category=category, group=group)
    counts, shown = found.counts, found.items
    if group:
        page = Paginator(shown[group], worklist.GROUP_PAGE_SIZE).get_page(request.GET.get("page"))
        shown = {group: page.object_list}
    else:
        page = None
    today = clinic.today()
    review = may(request, Action.REVIEW_MOOD)
    back = request.get_full_path()  # each row's form returns here, filters and page kept
    return render(
        request,
        "monitoring/worklist.html",
        {
            "today": today,
            "horizon": clinic.triage_horizon_days,
            # (key, title, TodayRows: (item, next step) pairs with their HTML, total)
            "sections": [
                (
                    key,
                    codes.label(key),
                    worklist.TodayRows(
                        key, items, role, today=today, can_review_mood=review, back=back
                    ),
                    counts[key],
                )
                for key, items in shown.items()
            ],
            "summary": [(key, codes.label(key), n) for key, n in counts.items()],
            "group": group,
            "page": page,
            # The rows' age when they are behind (after midnight or a settings change, until
            # the worker has refreshed them): Today says "as of" and when.
            "reading": found.reading,
            "as_of": (
                dates.moment(found.reading.refreshed_at, clinic.zone)
                if found.reading.refreshed_at and not found.reading.current
                else None
            ),
            "category": category,
            "categories": RiskCategory.choices,
        },
    )


@require(Action.REVIEW_MOOD)
@require_http_methods(["GET", "POST"])
def mood_review_create(request, visit_pk):
    """The review form beside what the clinician reviews: the visit's PHQ-2, PHQ-9, item 9's
    answer in words, side effects and notes (they had to open the visit in another tab)."""
    visit = get_record(request, Visit, visit_pk)
    if request.method == "GET":
        log_view(request.user, visit)  # the page shows the visit's mood screen

    def save(data):
        services.record_mood_review(visit, by=request.user, **data)

    return record_page(
        request,
        visit.patient,
        MoodReviewForm,
        f"Mood review of the visit on {dates.day(visit.visited_on)}",
        save,
        template="monitoring/mood_review_form.html",
        extra={
            "visit": visit,
            "side_effects": [
                (SideEffect(code).label, Severity(severity).label)
                for code, severity in visit.side_effects.items()
            ],
            "reviews": list(visit.mood_reviews.all()),
        },
    )


@require(Action.WRITE_PRESCRIPTION)
@require_http_methods(["GET", "POST"])
def prescription_create(request, pk):
    """The prescription form: the gate's blockers above it (each with its next step), the
    dosing weight, the dose in mg/kg/day and the pick-up window; refused while a blocker stands."""
    patient = get_patient(request, pk)
    if request.method == "GET":
        log_view(request.user, patient)  # the form lists the patient's blockers
    today = patient.clinic.today()
    course, history = load_history(patient)
    given = history.prescriptions
    form = PrescriptionForm(
        *submitted(request),
        initial={
            "written_on": today,
            "days_supply": 30,
            "daily_dose_mg": given[-1].daily_dose_mg if given else None,
        },
    )
    blockers = rules.evaluate(history, today)
    refused = False
    entered = {}
    if request.method == "POST" and form.is_valid():
        entered = dict(form.cleaned_data)  # kept for the figures even when the service refuses
        try:
            services.write_prescription(patient, by=request.user, **form.cleaned_data)
        except services.PrescriptionRefused as refusal:
            blockers, refused = refusal.blockers, True
            form.add_error(None, "Not written: the reasons are listed above.")
        except ValidationError as error:
            apply_service_errors(form, error)
        else:
            messages.success(request, "Prescription: saved.")
            return redirect(next_url(request) or patient)
    if not form.is_bound:
        entered = form.initial
    elif not entered and hasattr(form, "cleaned_data"):
        entered = form.cleaned_data  # the fields that were valid
    written_on = entered.get("written_on")
    if not written_on or not history.enrolled_on <= written_on <= today:
        written_on = today  # a date the service refuses says nothing about pick-up
    dosing = prescription_figures(history, written_on, entered.get("daily_dose_mg"))
    # A bound field copies its help text when first built (by validation): set both.
    form.fields["daily_dose_mg"].help_text = form["daily_dose_mg"].help_text = dosing["hint"]
    return render(
        request,
        "monitoring/prescription_form.html",
        {
            "patient": patient,
            "course": course,
            "form": form,
            "blockers": blockers,
            "refused": refused,
            "today": today,
            "written_on": written_on,
            "cumulative": rules.cumulative(history, today),
            "back": next_url(request),
            **dosing,
        },
    )


def prescription_figures(history, written_on, daily_dose_mg) -> dict:
    """The dosing weight on `written_on`, the dose in mg/kg/day, the most the rules accept
    (2 mg/kg/day, docs/domain.md §4) and the last pick-up day of a prescription written that day."""
    snapshot = rules.as_of(history, written_on)
    weight = latest_weight_kg(snapshot)
    most = (MAX_MG_PER_KG_PER_DAY * weight).quantize(Decimal("1"))
    if daily_dose_mg is not None and not 0 < daily_dose_mg < 10_000:
        daily_dose_mg = None  # refused as invalid input; no figure to show
    per_kg = (Decimal(daily_dose_mg) / weight).quantize(Decimal("0.01")) if daily_dose_mg else None
    limit = f"at most {most} mg a day (2 mg/kg/day) at {weight:f} kg"
    hint = f"{limit[0].upper()}{limit[1:]}."
    if per_kg is not None:
        hint = f"{Decimal(daily_dose_mg).normalize():f} mg a day = {per_kg} mg/kg/day; {limit}."
    return {
        "dosing_weight": weight,
        "weighed_on": _weighed_on(snapshot),
        "mg_per_kg_per_day": per_kg,
        "max_daily_mg": most,
        "pickup_deadline": rules.pickup_deadline(history, written_on),
        "hint": hint,
    }


def _weighed_on(snapshot):
    weighed = [v.visited_on for v in snapshot.visits if v.weight_kg is not None]
    return weighed[-1] if weighed else None


@require(Action.RECORD_CHECKS)
@require_http_methods(["GET", "POST"])
def dispense(request, prescription_pk):
    return _dispense_page(request, get_record(request, Prescription, prescription_pk))


@require(Action.RECORD_CHECKS)
@require_http_methods(["GET", "POST"])
def dispense_pending(request, pk):
    """Today's "Record the pick-up": the dispense form of the patient's prescription waiting at
    the pharmacy (a kept row names the patient, not the prescription)."""
    patient = get_patient(request, pk)
    latest = Prescription.objects.filter(patient=patient).order_by("-written_on", "-pk").first()
    if latest is None or latest.dispensed_on is not None:
        messages.info(request, "No prescription of this patient is waiting for pick-up.")
        return redirect(next_url(request) or patient)
    return _dispense_page(request, latest)


def _dispense_page(request, prescription):
    def save(data):
        services.dispense(prescription, by=request.user, **data)

    return record_page(
        request,
        prescription.patient,
        DispenseForm,
        f"Dispense of the prescription written {dates.day(prescription.written_on)}",
        save,
    )


@require(Action.END_TREATMENT)
@require_http_methods(["GET", "POST"])
def end_treatment(request, pk):
    patient = get_patient(request, pk)

    def save(data):
        services.end_treatment(patient, by=request.user, **data)

    return record_page(request, patient, EndTreatmentForm, "End treatment", save)


@require(Action.ENROLL_PATIENT)
@require_http_methods(["GET", "POST"])
def course_create(request, pk):
    """Re-treatment: a new course, no earlier than 56 days after the last dose."""
    patient = get_patient(request, pk)

    def save(data):
        enrollment.start_new_course(patient, by=request.user, **data)

    return record_page(request, patient, NewCourseForm, "New treatment course", save)


@require(Action.VIEW_PATIENTS)
@require_http_methods(["GET", "POST"])
def ipledge_sheet(request, pk):
    """The iPLEDGE entry sheet (docs/ipledge-sheet.md). POST `item` ticks it as entered."""
    patient = get_patient(request, pk)
    back = next_url(request)
    if request.method == "POST":
        if not may(request, Action.RECORD_CHECKS):
            raise PermissionDenied("Your role does not tick iPLEDGE entries.")
        item = request.POST.get("item")
        try:
            if item == ALL_ITEMS:
                ticked = services.record_ipledge_entries(patient, by=request.user)
            else:
                ticked = [services.record_ipledge_entry(patient, by=request.user, item=item)]
        except ValidationError as error:
            for message in error.message_dict.get("item", error.messages):
                messages.error(request, message)
        else:
            n = len(ticked)
            messages.success(
                request,
                "Ticked as entered in iPLEDGE."
                if n == 1
                else f"Ticked as entered in iPLEDGE: {n} items.",
            )
            # Came from Today and nothing is left to enter: back to Today, the row updated.
            if back and not _sheet(patient).pending:
                return redirect(back)
        sheet_url = reverse("monitoring:ipledge_sheet", args=[patient.pk])
        return redirect(f"{sheet_url}?{urlencode({'next': back})}" if back else sheet_url)
    sheet = _sheet(patient)
    log_view(request.user, patient)
    return render(
        request,
        "monitoring/ipledge_sheet.html",
        {
            "patient": patient,
            "sheet": sheet,
            "today": patient.clinic.today(),
            "back": back,
            "all_items": ALL_ITEMS,
        },
    )


# The sheet's "Tick all" button posts this instead of one item's name.
ALL_ITEMS = "all"


def _sheet(patient) -> ipledge.Sheet:
    _, history = load_history(patient)
    return ipledge.build(history, patient.clinic.today(), load_ipledge_ticks(patient))
