"""Which clinic an API request acts in, and whether the user belongs to it.

The web pages get `request.membership` from CurrentClinicMiddleware, which runs before DRF has
read the token, so for token requests it is always empty. The API works it out here instead:
the `X-Clinic-Id` header picks among the user's clinics, else the clinic chosen in the browser
session, else the user's only clinic; a user of several clinics who names none gets a 400
naming the header (docs/domain.md §8), never a default. Naming a clinic the user is not a member
of is refused rather than silently falling back to another one, so a script never writes into
the wrong clinic.
"""

from rest_framework import exceptions
from rest_framework.permissions import BasePermission

from clinic.access import SESSION_CLINIC_KEY, load_memberships
from clinic.models import ApiToken
from clinic.twofactor import needs_second_factor

CLINIC_HEADER = "X-Clinic-Id"


def _chosen_clinic_id(request) -> tuple[int | None, bool]:
    """(clinic id, whether the caller named it in the header)."""
    raw = request.headers.get(CLINIC_HEADER)
    if raw is None:
        session = getattr(request._request, "session", None)
        return (session.get(SESSION_CLINIC_KEY) if session is not None else None), False
    raw = raw.strip()
    if not raw.isascii() or not raw.isdigit() or len(raw) > 18:
        raise exceptions.ValidationError({CLINIC_HEADER: ["Send the clinic's numeric id."]})
    return int(raw), True


class IsClinicMember(BasePermission):
    """Sets request.membership; a user without one (in the named clinic) gets a 403."""

    message = "You are not a member of any clinic."

    def has_permission(self, request, view) -> bool:
        user = request.user
        if user is None or not user.is_authenticated:
            return False
        clinic_id, named = _chosen_clinic_id(request)
        membership, memberships = load_memberships(user, clinic_id)
        if membership is None and not named and len(memberships) > 1:
            raise exceptions.ValidationError(
                {CLINIC_HEADER: ["You belong to several clinics: name one in this header."]}
            )
        if named and (membership is None or membership.clinic_id != clinic_id):
            raise exceptions.PermissionDenied("You are not a member of that clinic.")
        _refuse_token_without_second_factor(request, memberships)
        request.membership, request.memberships = membership, memberships
        return membership is not None


SECOND_FACTOR_NOW_NEEDED = (
    "This token was issued without a second factor, which your role now needs: "
    "ask for a new token with your code in `otp`."
)


def _refuse_token_without_second_factor(request, memberships) -> None:
    """A token issued on the password alone (to staff) does not carry a promotion to clinician,
    clinic admin or superuser: the role is read now, not when the token was issued. The Team
    page ends such tokens at the role change; this catches every other door (the Django admin,
    a membership in another clinic, a superuser flag)."""
    token = request.auth
    if (
        isinstance(token, ApiToken)
        and not token.issued_with_second_factor
        and needs_second_factor(request.user, memberships)
    ):
        raise exceptions.AuthenticationFailed(SECOND_FACTOR_NOW_NEEDED)
