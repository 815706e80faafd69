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
    }
