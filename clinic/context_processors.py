from django.conf import settings

from .roles import Action, role_may


def current_clinic(request):
    membership = getattr(request, "membership", None)
    role = membership.role if membership else None
    return {
        "membership": membership,
        "memberships": getattr(request, "memberships", []),
        "current_clinic": membership.clinic if membership else None,
        "role": role,
        "can": {action.value: role_may(role, action) for action in Action},
        # The idle warning and a form kept across a lost session (clinic/session_guard.py).
        "session_idle_seconds": settings.SESSION_COOKIE_AGE,
        "session_warning_seconds": settings.SESSION_IDLE_WARNING_SECONDS,
        "kept_form": getattr(request, "kept_form", None),
    }
