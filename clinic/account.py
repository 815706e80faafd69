"""Pages around logging in: choosing the clinic to work in, accepting an invitation
(docs/security.md)."""

from django.contrib.auth import login
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.forms import SetPasswordForm
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache

from .team import invited_user


def choose_clinic(request):
    """A user of several clinics says which one they work in; the form posts to switch_clinic."""
    if len(request.memberships) < 2:
        return redirect("home")
    return render(request, "clinic/choose_clinic.html")


@never_cache
@login_not_required
def accept_invite(request, token: str):
    """Set a password from an invitation link, then on to the second factor."""
    user = invited_user(token)
    if user is None:
        return render(request, "clinic/invite_invalid.html", status=404)
    form = SetPasswordForm(user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        form.save()
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        return redirect("home")
    return render(request, "clinic/accept_invite.html", {"form": form, "invited": user})
