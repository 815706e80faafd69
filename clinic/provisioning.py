"""A new clinic and its first clinic admin (`manage.py create_clinic`, docs/deploy.md).

The admin comes in through the Team page's invitation (clinic/team.py): a link to set a
password, then a second factor at the first login. A password can be given instead, read from
the environment or a prompt by the command, never from its arguments (they show in `ps` and in
shell history). Everything is one transaction, the invitation email included (as on the Team
page): a refusal, or a mail server that refuses the email, leaves no clinic, user or membership.
"""

import dataclasses
import zoneinfo

from auditlog.models import LogEntry
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction

from .models import Clinic, Membership
from .roles import Role
from .team import send_invitation

# Who the audit page names for these writes: no person is logged in to a command.
COMMAND = "manage.py create_clinic"


@dataclasses.dataclass
class Outcome:
    clinic: Clinic
    admin: object
    created: bool
    # The invitation link emailed to the admin, or None when a password was set.
    link: str | None


def _check_fields(*, name: str, time_zone: str, username: str, email: str) -> None:
    errors = {}
    if not name:
        errors["name"] = "The clinic needs a name."
    elif len(name) > Clinic._meta.get_field("name").max_length:
        errors["name"] = "A clinic's name has at most 120 characters."
    if time_zone not in zoneinfo.available_timezones():
        errors["time_zone"] = f"“{time_zone}” is not a known time zone, e.g. America/New_York."
    User = get_user_model()
    try:
        User._meta.get_field(User.USERNAME_FIELD).run_validators(username)
        if not username:
            raise ValidationError("A username is needed.")
    except ValidationError as error:
        errors["admin_username"] = " ".join(error.messages)
    try:
        validate_email(email)
    except ValidationError:
        errors["admin_email"] = f"“{email}” is not an email address."
    if errors:
        raise ValidationError(errors)


def _existing(name: str, time_zone: str, username: str, email: str) -> Outcome | None:
    """The outcome of an earlier run with the same arguments, None if there was none; any
    other clash with what exists is a ValidationError naming the argument."""
    User = get_user_model()
    clinic = Clinic.objects.filter(name__iexact=name).first()
    user = User.objects.filter(username__iexact=username).first()
    if clinic and user:
        membership = Membership.objects.filter(clinic=clinic, user=user).first()
        if membership and membership.role == Role.CLINIC_ADMIN:
            if clinic.time_zone != time_zone:
                raise ValidationError(
                    {
                        "time_zone": f"{clinic.name} exists already, in {clinic.time_zone}; "
                        "change its time zone on the Clinic settings page."
                    }
                )
            if user.email.lower() != email.lower():
                raise ValidationError(
                    {"admin_email": f"{user.username} exists already, with another email."}
                )
            return Outcome(clinic=clinic, admin=user, created=False, link=None)
    if clinic:
        raise ValidationError(
            {"name": f"A clinic named “{clinic.name}” exists already; choose another name."}
        )
    if user:
        raise ValidationError(
            {"admin_username": f"The username “{user.username}” is taken; choose another."}
        )
    if User.objects.filter(email__iexact=email).exists():
        raise ValidationError({"admin_email": "Someone already has an account with this email."})
    return None


def create_clinic(
    *, name: str, time_zone: str, admin_username: str, admin_email: str, password=None
) -> Outcome:
    """The clinic and its clinic admin, created once: the same arguments again change nothing,
    except that an admin who has not yet set a password is sent a new invitation (the first
    may have expired). Raises ValidationError keyed by argument (name, time_zone,
    admin_username, admin_email, password)."""
    User = get_user_model()
    name, admin_username = name.strip(), admin_username.strip()
    admin_email = User.objects.normalize_email(admin_email.strip())
    _check_fields(name=name, time_zone=time_zone, username=admin_username, email=admin_email)
    with transaction.atomic():
        earlier = _existing(name, time_zone, admin_username, admin_email)
        if earlier is not None:
            if earlier.admin.is_active and not earlier.admin.has_usable_password():
                if password is None:
                    earlier.link = _invite_again(earlier)
            return earlier
        user = User(username=admin_username, email=admin_email)
        if password is not None:
            try:
                validate_password(password, user)
            except ValidationError as error:
                raise ValidationError({"password": error.messages}) from None
        clinic = Clinic(name=name, time_zone=time_zone)
        clinic.full_clean()
        clinic.save()
        if password is None:
            user.set_unusable_password()
        else:
            user.set_password(password)
        user.save()
        # auditlog records the membership (Membership is registered); the clinic is not a
        # registered model, so its creation is logged here, on the clinic's audit page.
        Membership.objects.create(user=user, clinic=clinic, role=Role.CLINIC_ADMIN)
        LogEntry.objects.log_create(
            clinic,
            action=LogEntry.Action.CREATE,
            changes={
                "name": ["None", clinic.name],
                "time_zone": ["None", clinic.time_zone],
                "clinic admin": ["None", user.username],
            },
            actor_email=COMMAND,
            additional_data={"clinic_id": clinic.pk},
        )
        link = None
        if password is None:
            link = send_invitation(user, clinic=clinic, by=None, role=Role.CLINIC_ADMIN)
    return Outcome(clinic=clinic, admin=user, created=True, link=link)


def _invite_again(earlier: Outcome) -> str:
    """A new link, as the Team page's "send again" makes one (team.resend_invitation): the
    earlier link stops working, and the audit log says so."""
    admin = earlier.admin
    admin.set_unusable_password()
    admin.save(update_fields=["password"])
    link = send_invitation(admin, clinic=earlier.clinic, by=None, role=Role.CLINIC_ADMIN)
    LogEntry.objects.log_create(
        admin,
        action=LogEntry.Action.UPDATE,
        changes={"invitation": ["sent", "sent again"]},
        actor_email=COMMAND,
        additional_data={"clinic_id": earlier.clinic.pk},
    )
    return link
