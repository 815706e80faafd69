"""The one pattern behind every small "record something about a patient" page."""

from collections.abc import Callable

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render

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
    """GET shows the form; POST validates it, calls `save(cleaned_data)` and redirects.

    A ValidationError from the service is shown next to the field it names; nothing is saved.
    """
    today = patient.clinic.today()
    initial = {name: today for name in DATE_FIELDS_DEFAULTING_TO_TODAY}
    form = form_class(*submitted(request), initial=initial, **(form_kwargs or {}))
    if request.method == "POST" and form.is_valid():
        try:
            save(form.cleaned_data)
        except ValidationError as error:
            apply_service_errors(form, error)
        else:
            messages.success(request, f"{title}: saved.")
            return redirect(redirect_to or patient)
    context = {"form": form, "patient": patient, "title": title, **(extra or {})}
    return render(request, template, context, status=200)


def submitted(request) -> tuple:
    """(data, files) for a bound form on POST, (None, None) on GET.

    `request.POST or None` would treat an empty POST as a fresh page and save nothing without
    saying why; an empty POST must show every required field's error.
    """
    if request.method == "POST":
        return request.POST, request.FILES
    return None, None
