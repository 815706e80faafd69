"""Getting back into an account: a password reset by email, and a change-password page
(docs/security.md, "Passwords").

Django's own views, with what a clinic needs on top:

- the reset page never tells whether an address has an account: the same page and the same
  answer time for any address (the email is sent from a background thread, so a known address
  does not answer later than an unknown one); addresses match case-insensitively; an inactive
  or invited user (no password yet) gets nothing;
- requests are limited per client address and per email address (`RESET_LIMIT_*`), so the page
  cannot be used to flood someone's inbox; a refused request to an address looks like any other;
- the email says only what the person needs: no clinic, patient or address of the requester;
- a reset or a change ends every other session (Django's session hash) and every API token, and
  is an audit event on each of the user's clinics' audit pages;
- after a reset the user logs in and still passes their second factor; the change page asks
  for it first, so a stolen password alone cannot replace the owner's.
"""

import logging
import threading

from auditlog.models import LogEntry
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.forms import PasswordResetForm
from django.core.cache import cache
from django.core.mail import EmailMultiAlternatives
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.urls import reverse_lazy
from django.utils.decorators import method_decorator

from . import throttle
from .models import Membership
from .twofactor import second_factor_passed

logger = logging.getLogger(__name__)

# At most this many reset requests an hour from one client address, and emails an hour to one
# email address (the cache counts them: docs/security.md says how several workers share it).
RESET_LIMIT_PER_ADDRESS = 10
RESET_LIMIT_PER_EMAIL = 3
RESET_WINDOW_SECONDS = 3600

_senders: list[threading.Thread] = []


def _deliver(message) -> None:
    try:
        message.send()
    except Exception as error:  # noqa: BLE001  # SMTP down: the page said the same anyway
        # The kind of failure only: a refusal's text can carry the recipient's address.
        logger.warning("A password reset email could not be sent: %s", type(error).__name__)


def wait_for_reset_emails(timeout: float = 10) -> None:
    """Tests (and nothing else) wait here for the emails sent in the background."""
    while _senders:
        _senders.pop().join(timeout)


def _count(key: str) -> int:
    """One more in this window; the number so far, this one included."""
    if cache.add(key, 1, RESET_WINDOW_SECONDS):
        return 1
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, RESET_WINDOW_SECONDS)
        return 1


def audit_password(user, how: str, *, by=None) -> None:
    """One event on each of the user's clinics' audit pages (a password is the account's)."""
    clinic_ids = Membership.objects.filter(user=user).values_list("clinic_id", flat=True)
    for clinic_id in clinic_ids or [None]:
        LogEntry.objects.log_create(
            user,
            action=LogEntry.Action.UPDATE,
            changes={"password": ["***", how]},
            actor=by,
            additional_data={"clinic_id": clinic_id} if clinic_id else None,
            force_log=True,
        )


def end_api_tokens(user) -> None:
    """A new password ends every API token (they also stop by the password's fingerprint:
    api/authentication.py; deleting them says so plainly)."""
    user.auth_token_set.all().delete()


def reset_hours() -> int:
    return max(1, settings.PASSWORD_RESET_TIMEOUT // 3600)


class ResetForm(PasswordResetForm):
    """Django's form, sending in the background and only within the per-email limit."""

    def send_mail(
        self,
        subject_template_name,
        email_template_name,
        context,
        from_email,
        to_email,
        html_email_template_name=None,
    ):
        subject = "".join(render_to_string(subject_template_name, context).splitlines()).strip()
        body = render_to_string(email_template_name, context)
        message = EmailMultiAlternatives(subject, body, from_email, [to_email])
        sender = threading.Thread(target=_deliver, args=(message,), daemon=True)
        _senders[:] = [t for t in _senders if t.is_alive()]  # keep only those still sending
        _senders.append(sender)
        sender.start()

    def save(self, **kwargs):
        email = self.cleaned_data["email"].strip().lower()
        if _count(f"password-reset:email:{email}") > RESET_LIMIT_PER_EMAIL:
            return  # the page says the same; no more mail to this inbox this hour
        for user in self.get_users(email):
            audit_password(user, "reset requested")
        super().save(**kwargs)


@method_decorator(login_not_required, name="dispatch")
class PasswordResetView(auth_views.PasswordResetView):
    form_class = ResetForm
    template_name = "registration/password_reset.html"
    email_template_name = "registration/password_reset_email.txt"
    subject_template_name = "registration/password_reset_subject.txt"
    success_url = reverse_lazy("password_reset_done")

    def post(self, request, *args, **kwargs):
        address = throttle.client_address(request) or "unknown"
        if _count(f"password-reset:address:{address}") > RESET_LIMIT_PER_ADDRESS:
            form = self.get_form()
            form.is_valid()
            form.add_error(
                None,
                "Too many reset requests from this computer. Wait an hour, or ask a clinic "
                "admin to reset your access.",
            )
            return self.render_to_response(self.get_context_data(form=form), status=429)
        return super().post(request, *args, **kwargs)

    def form_valid(self, form):
        # Links in the email follow SITE_URL, never the Host header a visitor sent.
        self.extra_email_context = {
            "site": settings.SITE_URL.rstrip("/"),
            "timeout_hours": reset_hours(),
        }
        return super().form_valid(form)


@method_decorator(login_not_required, name="dispatch")
class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "registration/password_reset_done.html"

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "timeout_hours": reset_hours()}


@method_decorator(login_not_required, name="dispatch")
class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "registration/password_reset_confirm.html"
    success_url = reverse_lazy("password_reset_complete")

    def form_valid(self, form):
        response = super().form_valid(form)
        end_api_tokens(form.user)
        audit_password(form.user, "reset by email")
        return response


@method_decorator(login_not_required, name="dispatch")
class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "registration/password_reset_complete.html"


class PasswordChangeView(auth_views.PasswordChangeView):
    template_name = "registration/password_change.html"
    success_url = reverse_lazy("home")

    def dispatch(self, request, *args, **kwargs):
        # /account/ pages are open before the second factor; changing the password is not.
        if request.user.is_authenticated and not second_factor_passed(
            request.user, request.memberships
        ):
            return redirect("otp_verify")
        return super().dispatch(request, *args, **kwargs)

    def form_valid(self, form):
        response = super().form_valid(form)  # keeps this session, ends the others
        end_api_tokens(form.user)
        audit_password(form.user, "changed", by=form.user)
        messages.success(self.request, "Password changed. You are signed out everywhere else.")
        return response
