"""Access in one place: the current clinic and the current role.

The clinic-scoped patient lookups built on these are in `patients.access`.
"""

from collections.abc import Callable
from functools import wraps

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

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
