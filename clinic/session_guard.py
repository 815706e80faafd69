"""The session's end, made gentle (docs/security.md, "Idle sessions"):

- `session_status`: an empty logged-in answer (204), through every middleware a page passes:
  what a request costs before any page's own work. A monitor can probe a login with it, and
  `make bench` measures every page against it (docs/benchmarks.md).
- `keep_alive`: the idle warning's "Stay signed in" button (clinic/static/clinic/idle.js)
  posts here; the request itself refreshes the session (SESSION_SAVE_EVERY_REQUEST).
- `KeepFormLoginRequiredMiddleware`: Django's LoginRequiredMiddleware, plus: a form posted after
  the session ended is not lost. What was typed (minus passwords, codes, files and the CSRF
  token) is kept in the new, anonymous session; after the same person logs in again, the page the
  form was on shows it filled in again (clinic/static/clinic/kept-form.js), to check and
  submit: never submitted by itself.

The fields are shown again only to the user whose session ended (read from the expired session's
row), on the page the form came from, within `KEEP_FOR`: someone else logging in at the same
computer sees nothing of it.
"""

import time
from importlib import import_module
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.middleware import LoginRequiredMiddleware
from django.contrib.auth.views import redirect_to_login
from django.http import HttpResponse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

KEPT_FORM_KEY = "kept_form"
KEEP_FOR = 30 * 60  # seconds
MAX_KEPT_CHARACTERS = 50_000
# Never kept: secrets, and what only makes sense once.
SECRET_NAMES = {"csrfmiddlewaretoken", "code", "otp", "token", "next"}


@never_cache
@require_GET
def session_status(request):
    return HttpResponse(status=204)


@never_cache
@require_POST
def keep_alive(request):
    request.session.modified = True
    return HttpResponse(status=204)


def _secret(name: str) -> bool:
    return name.lower() in SECRET_NAMES or "password" in name.lower()


def _owner_of_ended_session(request):
    """The user id of the session this browser had (now expired), when the session store keeps
    expired rows (the database store does until `clearsessions`); else None."""
    key = request.COOKIES.get(settings.SESSION_COOKIE_NAME)
    store = import_module(settings.SESSION_ENGINE).SessionStore
    if not key or not hasattr(store, "get_model_class"):
        return None
    row = store.get_model_class().objects.filter(session_key=key).first()
    if row is None:
        return None
    return store().decode(row.session_data).get(SESSION_KEY)


def _form_page(request) -> str:
    """The page the form was on (its Referer, on this site), else the address posted to."""
    referer = request.META.get("HTTP_REFERER", "")
    if referer and url_has_allowed_host_and_scheme(
        referer, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        parts = urlsplit(referer)
        return parts.path + (f"?{parts.query}" if parts.query else "")
    return request.get_full_path()


class KeepFormLoginRequiredMiddleware(LoginRequiredMiddleware):
    def handle_no_permission(self, request, view_func):
        if request.method != "POST":
            return super().handle_no_permission(request, view_func)
        page = _form_page(request)
        owner = _owner_of_ended_session(request)
        fields = [[name, values] for name, values in request.POST.lists() if not _secret(name)]
        if owner is not None and fields and len(str(fields)) <= MAX_KEPT_CHARACTERS:
            request.session[KEPT_FORM_KEY] = {
                "path": urlsplit(page).path,
                "user": str(owner),
                "fields": fields,
                "at": time.time(),
            }
        return redirect_to_login(page, settings.LOGIN_URL, self.get_redirect_field_name(view_func))

    def process_view(self, request, view_func, view_args, view_kwargs):
        if request.user.is_authenticated and request.method == "GET":
            kept = request.session.get(KEPT_FORM_KEY)
            if kept and kept.get("path") == request.path:
                del request.session[KEPT_FORM_KEY]
                if (
                    kept.get("user") == str(request.user.pk)
                    and time.time() - kept.get("at", 0) < KEEP_FOR
                ):
                    request.kept_form = kept["fields"]
        return super().process_view(request, view_func, view_args, view_kwargs)
