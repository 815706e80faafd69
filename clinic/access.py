"""Access in one place: the current clinic, the current role, and clinic-scoped lookups.

Every patient lookup filters by the user's current clinic first, so another clinic's patient
is a 404 (never a 403, which would confirm the record exists).
"""

from collections.abc import Callable
from functools import wraps

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest
from django.shortcuts import get_object_or_404

from patients.models import Patient

from .models import Clinic, Membership
from .roles import Action, role_may

SESSION_CLINIC_KEY = "current_clinic_id"


def load_memberships(user, clinic_id: int | None) -> tuple[Membership | None, list[Membership]]:
    """The user's membership in the chosen clinic and all of their memberships.

    A user of one clinic works in it; a user of several works in none until they choose
    (never a silent default: a script of clinic B must not write into clinic A, docs/security.md).
    """
    memberships = list(Membership.objects.filter(user=user).select_related("clinic"))
    for membership in memberships:
        if membership.clinic_id == clinic_id:
            return membership, memberships
    return (memberships[0] if len(memberships) == 1 else None), memberships


def must_choose_clinic(request: HttpRequest) -> bool:
    """A user of several clinics who has not yet said which one they work in."""
    return (
        getattr(request, "membership", None) is None
        and len(getattr(request, "memberships", [])) > 1
    )


def current_clinic(request: HttpRequest) -> Clinic:
    membership = getattr(request, "membership", None)
    if membership is None:
        raise PermissionDenied("You are not a member of any clinic.")
    return membership.clinic


def current_role(request: HttpRequest) -> str | None:
    membership = getattr(request, "membership", None)
    return membership.role if membership else None


def may(request: HttpRequest, action: Action) -> bool:
    return role_may(current_role(request), action)


def require(action: Action) -> Callable:
    """View decorator: the current role must be allowed the action, else 403."""

    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if not may(request, action):
                raise PermissionDenied("Your role does not allow this.")
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


def patients_for(request: HttpRequest):
    return Patient.objects.filter(clinic=current_clinic(request))


def get_patient(request: HttpRequest, pk: int, *, for_update: bool = False) -> Patient:
    """The current clinic's patient, or 404."""
    queryset = patients_for(request).select_related("clinic")
    if for_update:
        queryset = queryset.select_for_update()
    return get_object_or_404(queryset, pk=pk)


def get_record(request: HttpRequest, model, pk: int):
    """A record of a patient of the current clinic, or 404."""
    try:
        return model.objects.select_related("patient", "patient__clinic").get(
            pk=pk, patient__clinic=current_clinic(request)
        )
    except model.DoesNotExist:
        raise Http404("No such record.") from None
