"""A clinic admin's Team page: invite a new user, change roles, deactivate a member
(docs/security.md).

Everything acts inside the admin's current clinic: a member of another clinic is a 404, an
existing user of any clinic cannot be pulled in by email, and nobody changes their own role or
deactivates themselves. Each change is an audit event with the clinic's id, so it shows on the
clinic's audit page (Membership is registered with auditlog; a deactivation is logged here).
"""

import logging
import smtplib

from auditlog.models import LogEntry
from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.crypto import constant_time_compare, salted_hmac
from django.views.decorators.http import require_http_methods, require_POST

from .access import current_clinic, require
from .models import Clinic, Membership
from .roles import Action, Role
from .twofactor import SECOND_FACTOR_ROLES, reset_second_factor

INVITE_SALT = "clinic.team.invite"
logger = logging.getLogger(__name__)


# --- services -------------------------------------------------------------------------------


def _invite_state(user, secret=None) -> str:
    """Changes once the password is set (or the user is deactivated): a link works only once."""
    value = f"{user.pk}:{user.password}:{user.last_login}:{user.is_active}"
    return salted_hmac(INVITE_SALT, value, secret=secret).hexdigest()[:24]


def invitation_token(user) -> str:
    return signing.dumps({"user": user.pk, "state": _invite_state(user)}, salt=INVITE_SALT)


def invited_user(token: str):
    """The user an unexpired, unused invitation is for, else None."""
    max_age = settings.INVITE_MAX_AGE_HOURS * 3600
    try:
        data = signing.loads(token, salt=INVITE_SALT, max_age=max_age)
        user = get_user_model().objects.get(pk=int(data["user"]), is_active=True)
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return None
    except get_user_model().DoesNotExist:
        return None
    # A link sent before a key rotation still opens while the old key is in
    # DJANGO_SECRET_KEY_FALLBACKS (docs/operations.md): its state was keyed with that key.
    keys = [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]
    if not any(
        constant_time_compare(str(data.get("state")), _invite_state(user, key)) for key in keys
    ):
        return None
    return user


class InvitationNotSent(Exception):
    """The mail server refused or could not be reached: nothing was changed."""


NOT_SENT = (
    "The invitation email could not be sent (the mail server did not answer). Nothing was "
    "changed: try again in a few minutes, or tell whoever runs the server."
)


def invitation_link(user) -> str:
    return settings.SITE_URL.rstrip("/") + reverse("accept_invite", args=[invitation_token(user)])


def send_invitation(user, *, clinic: Clinic, by, role: str) -> str:
    """Email the user a new link, and return it. Called inside the transaction that created or
    renewed the invitation: if the mail server refuses, the caller's transaction rolls back, so
    no account is left behind without its email, and a resent link leaves the old one working.
    `by` is None when no person sent it (manage.py create_clinic)."""
    link = invitation_link(user)
    context = {
        "clinic": clinic,
        "role": Role(role).label,
        "link": link,
        "hours": settings.INVITE_MAX_AGE_HOURS,
        "by": by,
    }
    subject = render_to_string("clinic/emails/invite-subject.txt", context).strip()
    body = render_to_string("clinic/emails/invite-body.txt", context)
    try:
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [user.email])
    except (smtplib.SMTPException, OSError) as error:
        logger.warning("Invitation email not sent: %s", type(error).__name__)
        raise InvitationNotSent from error
    return link


def _is_invited(user) -> bool:
    return user.is_active and not user.has_usable_password()


def invite_member(*, clinic: Clinic, by, email: str, role: str):
    """A new user with no password yet, a member of `clinic`, and an email with a link.

    The address of someone already invited to this clinic (in any letter case) sends them a
    new link instead. Raises InvitationNotSent, with nothing created, when the email cannot go."""
    User = get_user_model()
    email = User.objects.normalize_email(email).strip()
    if role not in Role.values:
        raise ValidationError({"role": "Choose a role."})
    invited = (
        Membership.objects.filter(clinic=clinic, user__email__iexact=email)
        .select_related("user")
        .first()
    )
    if invited is not None and _is_invited(invited.user):
        resend_invitation(invited, by=by)
        return invited.user
    if (
        User.objects.filter(email__iexact=email).exists()
        or User.objects.filter(username__iexact=email).exists()
    ):
        raise ValidationError(
            {"email": "Someone already has an account with this email. Ask a superuser."}
        )
    with transaction.atomic():
        user = User(username=email, email=email)
        user.set_unusable_password()
        user.save()
        Membership.objects.create(user=user, clinic=clinic, role=role)
        send_invitation(user, clinic=clinic, by=by, role=role)
    return user


def resend_invitation(membership: Membership, *, by) -> None:
    """A new link for someone who has not set a password yet; the earlier link stops working
    (the invitation's state includes the unusable password, which is drawn anew). Audited."""
    with transaction.atomic():
        current = lock_team(membership, by=by)
        user = current.user
        if not _is_invited(user):
            raise ValidationError(f"{user} has already accepted the invitation.")
        user.set_unusable_password()
        user.save(update_fields=["password"])
        send_invitation(user, clinic=current.clinic, by=by, role=current.role)
        LogEntry.objects.log_create(
            user,
            action=LogEntry.Action.UPDATE,
            changes={"invitation": ["sent", "sent again"]},
            actor=by,
            additional_data={"clinic_id": current.clinic_id},
        )


def _refuse_self(membership: Membership, by, what: str) -> None:
    if membership.user_id == by.pk:
        raise ValidationError(f"You cannot {what} yourself; ask another clinic admin.")


def refuse_superuser(membership: Membership, by, what: str) -> None:
    """A clinic admin manages their clinic's members, not the accounts that run the whole site:
    a superuser who is also a member here is changed by another superuser only."""
    if membership.user.is_superuser and not by.is_superuser:
        raise ValidationError(f"Only a superuser can {what} a superuser.")


def lock_team(membership: Membership, *, by) -> Membership:
    """Take the clinic's row lock and read the membership again under it.

    Every change that can take a clinic admin away runs behind this lock (one transaction,
    SELECT ... FOR UPDATE on the Clinic row), so two admins demoting or deactivating each other
    at the same moment are served one after the other: the second sees the first's change and
    is refused, and the clinic keeps an admin. Without it, both saw the other still an admin
    and both went through. The acting admin's own role is read under the lock too: an admin
    demoted a moment ago no longer manages the team."""
    Clinic.objects.select_for_update().only("pk").get(pk=membership.clinic_id)
    if (
        not by.is_superuser
        and not Membership.objects.filter(
            user=by, user__is_active=True, clinic_id=membership.clinic_id, role=Role.CLINIC_ADMIN
        ).exists()
    ):
        raise ValidationError("You are no longer a clinic admin of this clinic.")
    try:
        return Membership.objects.select_related("user").get(pk=membership.pk)
    except Membership.DoesNotExist:
        raise ValidationError("This person is no longer a member of the clinic.") from None


def _keep_an_admin(membership: Membership, what: str) -> None:
    """Refuse to take away the clinic's last active clinic admin: nobody could manage the team,
    reset a second factor or change the clinic's settings any more."""
    if membership.role != Role.CLINIC_ADMIN or not membership.user.is_active:
        return
    others = Membership.objects.filter(
        clinic_id=membership.clinic_id, role=Role.CLINIC_ADMIN, user__is_active=True
    ).exclude(pk=membership.pk)
    if not others.exists():
        raise ValidationError(
            f"{membership.user} is the clinic's last clinic admin: make someone else a "
            f"clinic admin before you {what} them."
        )


def end_tokens_without_second_factor(user, *, by, clinic_id: int) -> int:
    """A promotion to a role that needs a second factor ends the API tokens issued on the
    password alone (the API refuses them anyway: api/permissions.py). Audited."""
    ended, _ = user.auth_token_set.filter(issued_with_second_factor=False).delete()
    if ended:
        LogEntry.objects.log_create(
            user,
            action=LogEntry.Action.UPDATE,
            changes={"api_tokens_without_second_factor": [str(ended), "0"]},
            actor=by,
            additional_data={"clinic_id": clinic_id},
        )
    return ended


def change_role(membership: Membership, *, by, role: str) -> None:
    _refuse_self(membership, by, "change the role of")
    refuse_superuser(membership, by, "change the role of")
    if role not in Role.values:
        raise ValidationError({"role": "Choose a role."})
    with transaction.atomic():
        current = lock_team(membership, by=by)
        if current.role == role:
            return
        if role != Role.CLINIC_ADMIN:
            _keep_an_admin(current, "change the role of")
        current.role = role
        current.save(update_fields=["role"])  # auditlog records old -> new
        if role in SECOND_FACTOR_ROLES:
            end_tokens_without_second_factor(current.user, by=by, clinic_id=current.clinic_id)
    membership.role = role


def deactivate_member(membership: Membership, *, by) -> None:
    """A user of this clinic only is deactivated (sessions and tokens stop working); a user
    who also works elsewhere only leaves this clinic, so another clinic keeps its member. A
    superuser only leaves the clinic too: their account is not the clinic's to switch off."""
    _refuse_self(membership, by, "deactivate")
    refuse_superuser(membership, by, "deactivate")
    with transaction.atomic():
        current = lock_team(membership, by=by)
        _keep_an_admin(current, "deactivate")
        user = current.user
        if (
            user.is_superuser
            or Membership.objects.filter(user=user).exclude(pk=current.pk).exists()
        ):
            current.delete()  # auditlog records the deletion
            return
        user.is_active = False
        user.save(update_fields=["is_active"])
        user.auth_token_set.all().delete()
        LogEntry.objects.log_create(
            user,
            action=LogEntry.Action.UPDATE,
            changes={"is_active": ["True", "False"]},
            actor=by,
            additional_data={"clinic_id": current.clinic_id},
        )


def reactivate_member(membership: Membership, *, by) -> None:
    """A deactivated member works here again with their old password (and second factor);
    their API tokens ended at the deactivation and stay ended. Audited."""
    _refuse_self(membership, by, "reactivate")
    refuse_superuser(membership, by, "reactivate")
    with transaction.atomic():
        user = lock_team(membership, by=by).user
        if user.is_active:
            return
        user.is_active = True
        user.save(update_fields=["is_active"])
        LogEntry.objects.log_create(
            user,
            action=LogEntry.Action.UPDATE,
            changes={"is_active": ["False", "True"]},
            actor=by,
            additional_data={"clinic_id": membership.clinic_id},
        )


def reset_member_second_factor(membership: Membership, *, by) -> None:
    """The Team page's reset, behind the same lock: an admin demoted a moment ago no longer
    resets anyone's devices."""
    with transaction.atomic():
        reset_second_factor(lock_team(membership, by=by), by=by)


# --- views ----------------------------------------------------------------------------------


class InviteForm(forms.Form):
    email = forms.EmailField(max_length=150)
    role = forms.ChoiceField(choices=Role.choices)


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


def _member(request, pk: int) -> Membership:
    """A membership of the current clinic, else 404."""
    return get_object_or_404(
        Membership.objects.select_related("user", "clinic"), pk=pk, clinic=current_clinic(request)
    )


def _show(request, invite_form=None, status=200):
    clinic = current_clinic(request)
    members = (
        Membership.objects.filter(clinic=clinic).select_related("user").order_by("user__username")
    )
    return render(
        request,
        "clinic/team.html",
        {
            "members": members,
            "invite_form": invite_form or InviteForm(),
            "roles": Role.choices,
        },
        status=status,
    )


@require(Action.MANAGE_CLINIC)
def team(request):
    return _show(request)


def _apply(request, action, success: str):
    try:
        action()
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
    else:
        messages.success(request, success)
    return redirect("team")


@require_POST
@require(Action.MANAGE_CLINIC)
def invite(request):
    form = InviteForm(request.POST)
    if form.is_valid():
        try:
            invite_member(clinic=current_clinic(request), by=request.user, **form.cleaned_data)
        except ValidationError as error:
            for field, errors in error.message_dict.items():
                form.add_error(field, errors)
        except InvitationNotSent:
            form.add_error(None, NOT_SENT)
            return _show(request, form, status=503)
        else:
            messages.success(request, f"Invitation sent to {form.cleaned_data['email']}.")
            return redirect("team")
    return _show(request, form, status=400)


@require_POST
@require(Action.MANAGE_CLINIC)
def set_role(request, pk: int):
    membership = _member(request, pk)
    form = RoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a role.")
        return redirect("team")
    role = form.cleaned_data["role"]
    return _apply(
        request,
        lambda: change_role(membership, by=request.user, role=role),
        f"{membership.user} is now {Role(role).label}.",
    )


def _confirmed(request, membership: Membership, action, success: str, question: dict):
    """GET asks first (a page of its own, so it works without JavaScript); POST acts."""
    if request.method != "POST":
        return render(request, "clinic/team_confirm.html", {"member": membership, **question})
    return _apply(request, action, success)


@require_http_methods(["GET", "POST"])
@require(Action.MANAGE_CLINIC)
def deactivate(request, pk: int):
    membership = _member(request, pk)
    return _confirmed(
        request,
        membership,
        lambda: deactivate_member(membership, by=request.user),
        f"{membership.user} can no longer work in this clinic.",
        {
            "title": f"Deactivate {membership.user}?",
            "consequences": [
                "They can no longer work in this clinic. If it is their only clinic, their "
                "account is switched off: they are signed out at once and their API tokens "
                "stop working.",
                "Their records and audit history stay. You can reactivate them later.",
            ],
            "button": "Deactivate",
            "danger": True,
        },
    )


@require_http_methods(["GET", "POST"])
@require(Action.MANAGE_CLINIC)
def reset_otp(request, pk: int):
    membership = _member(request, pk)
    return _confirmed(
        request,
        membership,
        lambda: reset_member_second_factor(membership, by=request.user),
        f"{membership.user} sets up a new second factor at their next login.",
        {
            "title": f"Reset the second factor of {membership.user}?",
            "consequences": [
                "Their authenticator app, passkeys and backup codes stop working.",
                "Their API tokens stop working.",
                "At their next login they set up a new second factor. Do this only when you "
                "know it is really them asking (for example, in person or by phone).",
            ],
            "button": "Reset second factor",
            "danger": True,
        },
    )


@require_POST
@require(Action.MANAGE_CLINIC)
def reactivate(request, pk: int):
    membership = _member(request, pk)
    return _apply(
        request,
        lambda: reactivate_member(membership, by=request.user),
        f"{membership.user} can work in this clinic again.",
    )


@require_POST
@require(Action.MANAGE_CLINIC)
def resend(request, pk: int):
    membership = _member(request, pk)

    def send():
        try:
            resend_invitation(membership, by=request.user)
        except InvitationNotSent:
            raise ValidationError(NOT_SENT) from None

    return _apply(request, send, f"A new invitation was sent to {membership.user.email}.")
