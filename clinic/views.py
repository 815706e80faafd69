from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from . import services
from .access import SESSION_CLINIC_KEY, current_clinic, require
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
