"""The one pattern behind every small "record something about a patient" page."""

from collections.abc import Callable

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme

from .forms import apply_service_errors

DATE_FIELDS_DEFAULTING_TO_TODAY = (
    "confirmed_on",
    "signed_on",
    "collected_on",
    "changed_on",
    "visited_on",
    "reviewed_on",
    "written_on",
    "dispensed_on",
    "last_dose_on",
)

# Fields a link may prefill (?kind=monthly from Today's "Record monthly test"); dates default
# to today above. Anything else in the query string is ignored.
PREFILLED_FROM_LINK = ("kind",)


def next_url(request) -> str | None:
    """Where a save returns to (?next=, set by Today's action buttons): a page of this site
    only, never another host (an open redirect), else None."""
    target = request.GET.get("next") or request.POST.get("next")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return None


def record_page(
    request,
    patient,
    form_class,
    title: str,
    save: Callable,
    *,
    form_kwargs: dict | None = None,
    extra: dict | None = None,
    redirect_to=None,
    template: str = "patients/record_form.html",
):
    """GET shows the form; POST validates it, calls `save(cleaned_data)` and redirects: to
    ?next= when it is a page of this site (the form posts to its own URL, query included), else
    to `redirect_to` or the patient's page.

    A ValidationError from the service is shown next to the field it names; nothing is saved.
    """
    today = patient.clinic.today()
    initial = {name: today for name in DATE_FIELDS_DEFAULTING_TO_TODAY}
    for name in PREFILLED_FROM_LINK:
        if request.GET.get(name) and name in form_class.base_fields:
            initial[name] = request.GET[name]
    form = form_class(*submitted(request), initial=initial, **(form_kwargs or {}))
    if request.method == "POST" and form.is_valid():
        try:
            save(form.cleaned_data)
        except ValidationError as error:
            apply_service_errors(form, error)
        else:
            messages.success(request, f"{title}: saved.")
            return redirect(next_url(request) or redirect_to or patient)
    context = {
        "form": form,
        "patient": patient,
        "title": title,
        "back": next_url(request),
        **(extra or {}),
    }
    return render(request, template, context, status=200)


def submitted(request) -> tuple:
    """(data, files) for a bound form on POST, (None, None) on GET.

    `request.POST or None` would treat an empty POST as a fresh page and save nothing without
    saying why; an empty POST must show every required field's error.
    """
    if request.method == "POST":
        return request.POST, request.FILES
    return None, None
