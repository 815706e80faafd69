"""The patient's self-service pages, reached from a signed link in a reminder email.

No login (patients have no password): the signed token is the key, and it names one patient.
Pages say what is needed in plain words and never show a result. CSRF protection stays on,
except for the one-click unsubscribe POST (RFC 8058), which can only opt the patient out.
Every page is in the patient's language (Patient.preferred_language, switched on the page):
the words are in locale/, and the staff pages, which share no view with these, stay English.
"""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

import rules
from clinic.audit import log_view
from monitoring import codes
from monitoring import services as monitoring_services
from monitoring.history import load_history
from monitoring.models import ReminderKind
from monitoring.reminders import ical, signing
from monitoring.reminders.emails import patient_links
from monitoring.reminders.planner import DUE_CODE_KINDS
from patients import services
from patients.models import Language, Patient
from rules.contraception_methods import CONTRACEPTION_METHODS

# Why the clinic needs to talk with the patient when the registry has no plainer reason: no
# clinical detail (the page may be read over a shoulder), no result and no screen named.
TALK_DEFAULT = gettext_lazy(
    "Your prescriber needs to go over your treatment with you before the next prescription."
)


def method_words(code: str) -> str:
    """A method in the patient's language: the registry's label, marked for translation there
    (rules/contraception_methods.py); an unknown code as it was recorded."""
    method = CONTRACEPTION_METHODS.get(code)
    return _(method.label) if method else code


# The methods grouped as the rule counts them (docs/domain.md section 4), so the patient sees
# why one method, or two from the second list, are not enough.
METHOD_GROUPS = (
    (gettext_lazy("Main methods (at least one is needed)"), rules.constants.PRIMARY_METHODS),
    (gettext_lazy("Other methods (only with a main method)"), rules.constants.SECONDARY_METHODS),
    (gettext_lazy("Does not count"), rules.constants.UNACCEPTABLE_METHODS),
)

# What the patient's answer lacks (the rules' one check, rules/contraception.py),
# in the patient's words; the staff form and the gate judge the same answer the same way.
SHORTFALL_WORDS = {
    rules.constants.NO_METHOD_COUNTS: gettext_lazy(
        "None of the methods you ticked counts: a progestin-only pill does not count."
    ),
    rules.constants.ONE_METHOD_COUNTS: gettext_lazy("You ticked only one method that counts."),
    rules.constants.NO_PRIMARY_METHOD: gettext_lazy(
        "None of the methods you ticked is a main method."
    ),
}


def _reported_words(confirmation) -> str:
    """What the patient told us, in their language: "Male condom, Implant"."""
    if confirmation.abstinence:
        return str(_("abstinence"))
    return ", ".join(method_words(m) for m in confirmation.methods)


class ContraceptionForm(forms.Form):
    methods = forms.MultipleChoiceField(
        choices=[
            (
                heading,
                [
                    (m.code, gettext_lazy(m.label))
                    for m in CONTRACEPTION_METHODS.values()
                    if m.code in tier
                ],
            )
            for heading, tier in METHOD_GROUPS
        ],
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label=gettext_lazy("The methods you use now"),
    )
    abstinence = forms.BooleanField(
        required=False, label=gettext_lazy("I commit to not having sex (abstinence)")
    )

    def clean(self):
        data = super().clean()
        if not data.get("methods") and not data.get("abstinence"):
            raise ValidationError(_("Tick the methods you use, or abstinence."))
        return data


LANGUAGE_CHANGED = {
    Language.ENGLISH: gettext_lazy("Your emails, this page and your calendar are now in English."),
    Language.SPANISH: gettext_lazy("Your emails, this page and your calendar are now in Spanish."),
}


class LanguageForm(forms.Form):
    language = forms.ChoiceField(choices=Language.choices)


def _language_of(request, token) -> str:
    """The language of a page whose link no longer opens: the patient's when the signature is
    good (an expired link), else the browser's English or Spanish."""
    patient = signing.patient_of_expired_page(token)
    if patient is not None:
        return patient.preferred_language
    return translation.get_language_from_request(request)


def _guarded(view):
    """Resolve the token to a patient; an expired link gets a 410 page, a bad one a 404."""

    def wrapper(request, token, *args, **kwargs):
        try:
            patient = signing.patient_for_page(token)
        except signing.LinkExpired:
            with translation.override(_language_of(request, token)):
                return render(request, "self_service/expired.html", status=410)
        except Http404:
            with translation.override(_language_of(request, token)):
                return render(request, "self_service/invalid.html", status=404)
        with translation.override(patient.preferred_language):
            response = view(request, token, patient, *args, **kwargs)
        response["Content-Language"] = patient.preferred_language
        return response

    wrapper.__name__ = view.__name__
    wrapper.__doc__ = view.__doc__
    return login_not_required(wrapper)


def _page_context(patient: Patient) -> dict:
    today = patient.clinic.today()
    history = load_history(patient)[1]
    status = rules.status(history, today)
    cycle_from = rules.cycle_start(history, today)
    # The patient's own confirmation in this cycle: staff still check it, but it is no longer
    # the patient's to do (the page said "confirm your two forms" right after they had), unless
    # it would not count: then the page says what is missing, by the rules' one check.
    report = rules.contraception.latest_patient_report(history, cycle_from)
    shortfall = report and rules.contraception_shortfall(report.methods, report.abstinence)
    confirmed_on = report.confirmed_on if report else None
    steps, talk = [], []
    for blocker in status.blockers:
        if blocker.code == rules.constants.CONTRACEPTION_UNCONFIRMED and report and not shortfall:
            continue
        step = codes.patient_step(blocker.code)
        if step and step not in steps:
            steps.append(step)
        elif not step:
            reason = str(codes.entry(blocker.code).patient_talk or TALK_DEFAULT)
            if reason not in talk:
                talk.append(reason)
    # A prescription waits at the pharmacy inside the open window: only then can the page
    # say it "must be picked up by" the window's last day.
    prescribed = status.window is not None and status.awaiting_pickup_since is not None
    upcoming = [
        {
            "kind": DUE_CODE_KINDS[d.code],
            "due_on": d.due_on,
            # The window's date before the prescription is written: no pick-up to promise yet.
            "unwritten": DUE_CODE_KINDS[d.code] == ReminderKind.WINDOW_CLOSING and not prescribed,
        }
        for d in ical.upcoming(status, today)
        if d.code in DUE_CODE_KINDS
    ]
    # Mid-supply the blockers concern next month's prescription: the dates say it better.
    now = status.window is not None or not upcoming
    return {
        "patient": patient,
        "clinic": patient.clinic,
        "today": today,
        "steps": steps if now else [],
        "talk": talk if now else [],
        "contraception_confirmed_on": confirmed_on,
        "contraception_reported": _reported_words(report) if report else "",
        "contraception_shortfall": SHORTFALL_WORDS[shortfall] if shortfall else "",
        "upcoming": upcoming,
        # The category in force today, as the service that takes the answer reads it.
        "asks_contraception": rules.category_on(history, today) == rules.constants.CAN_GET_PREGNANT,
        "questions_open": rules.constants.COMPREHENSION_INCOMPLETE
        in {b.code for b in status.blockers},
        # Each language named in its own words, so a patient finds theirs.
        "languages": Language.choices,
        **patient_links(patient),
    }


@_guarded
@require_GET
def page(request, token, patient):
    """What the clinic needs from the patient now, and forms to say what is done."""
    log_view(None, patient)
    context = _page_context(patient)
    context.update(token=token, contraception_form=ContraceptionForm())
    return render(request, "self_service/page.html", context)


@_guarded
@require_POST
def language(request, token, patient):
    """The patient's language for this page, their emails and their calendar."""
    form = LanguageForm(request.POST)
    if not form.is_valid():
        context = _page_context(patient)
        context.update(token=token, contraception_form=ContraceptionForm(), language_form=form)
        return render(request, "self_service/page.html", context, status=400)
    services.set_preferred_language(patient, form.cleaned_data["language"])
    with translation.override(patient.preferred_language):
        messages.success(request, str(LANGUAGE_CHANGED[patient.preferred_language]))
    return redirect("self_service:page", token=token)


@_guarded
@require_POST
def confirm_contraception(request, token, patient):
    form = ContraceptionForm(request.POST)
    if form.is_valid():
        try:
            monitoring_services.record_patient_contraception(
                patient,
                on=patient.clinic.today(),
                methods=form.cleaned_data["methods"],
                abstinence=form.cleaned_data["abstinence"],
            )
        except ValidationError as error:
            form.add_error(None, error)
        except PermissionDenied:
            # The page did not offer the form (the patient cannot get pregnant today): a POST
            # made anyway records nothing and says so in the patient's words.
            messages.error(request, _("Your clinic does not ask you to confirm birth control."))
            context = _page_context(patient)
            context.update(token=token, contraception_form=ContraceptionForm())
            return render(request, "self_service/page.html", context, status=403)
        else:
            # An answer that would not count is kept too (the staff decide); the page then says
            # what is missing instead of thanking the patient for a finished step.
            if not rules.contraception_is_valid(
                form.cleaned_data["methods"], form.cleaned_data["abstinence"]
            ):
                messages.warning(request, _("We have kept your answer, but it is not enough yet."))
            else:
                messages.success(request, _("Thank you: the clinic will see the methods you use."))
            return redirect("self_service:page", token=token)
    context = _page_context(patient)
    context.update(token=token, contraception_form=form)
    return render(request, "self_service/page.html", context, status=400)


@_guarded
@require_POST
def questions_done(request, token, patient):
    monitoring_services.record_comprehension_report(patient, on=patient.clinic.today())
    messages.success(request, _("Thank you: the clinic will see that the questions are done."))
    return redirect("self_service:page", token=token)


@login_not_required
@csrf_exempt
@require_http_methods(["GET", "POST"])
def unsubscribe(request, token):
    """GET asks for confirmation (mail scanners follow links); POST opts out.

    The POST is also RFC 8058's one-click unsubscribe (`List-Unsubscribe-Post`), which a mail
    client sends without a CSRF token: so no CSRF check here. The signed, purpose-salted token
    is the authentication, and the POST can do one thing only, idempotently: opt out."""
    try:
        patient = signing.patient_for_unsubscribe(token)
    except Http404:
        with translation.override(translation.get_language_from_request(request)):
            return render(request, "self_service/invalid.html", status=404)
    with translation.override(patient.preferred_language):
        return _unsubscribe(request, token, patient)


def _unsubscribe(request, token, patient):
    if request.method == "POST":
        monitoring_services.opt_out_of_email(patient)
        return render(request, "self_service/unsubscribed.html", {"clinic": patient.clinic})
    return render(
        request, "self_service/unsubscribe.html", {"clinic": patient.clinic, "token": token}
    )


@login_not_required
@require_GET
def calendar(request, token):
    try:
        patient = signing.patient_for_calendar(token)
    except Http404:
        return HttpResponse("Not found", status=404, content_type="text/plain")
    body = ical.feed(patient, now=timezone.now(), domain=request.get_host().split(":")[0])
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="clinic.ics"'
    return response
