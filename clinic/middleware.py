from urllib.parse import urlencode

from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_cache_control
from django_otp import user_has_device

from .access import SESSION_CLINIC_KEY, load_memberships, must_choose_clinic
from .twofactor import second_factor_passed

# Pages a logged-in user reaches before choosing a clinic (or passing the second factor): the
# account pages themselves, logging out, static files, the health check, the patients' signed
# pages, the API (which answers for itself: a 400 naming X-Clinic-Id) and the superusers' admin.
OPEN_PREFIXES = (
    "/account/",
    "/switch-clinic/",
    "/logout/",
    "/static/",
    "/health/",
    "/p/",
    "/api/",
    "/admin/",
)
OPEN_PREFIXES_BEFORE_SECOND_FACTOR = tuple(p for p in OPEN_PREFIXES if p != "/admin/")


class CurrentClinicMiddleware:
    """Sets request.membership (and so the clinic and role) for a logged-in user."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.membership, request.memberships = None, []
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            request.membership, request.memberships = load_memberships(
                user, request.session.get(SESSION_CLINIC_KEY)
            )
        # Times on pages are the clinic's local times (a send time of 09:00, not 14:00 UTC).
        if request.membership is not None:
            timezone.activate(request.membership.clinic.zone)
        else:
            timezone.deactivate()
        return self.get_response(request)


class SecondFactorMiddleware:
    """Clinicians and clinic admins pass a second factor before any page with patient data:
    set it up at the first login, enter a code at every later one (docs/quality.md A4). The admin is
    not open here: a superuser passes it too."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = request.user
        if (
            user.is_authenticated
            and not request.path_info.startswith(OPEN_PREFIXES_BEFORE_SECOND_FACTOR)
            and not second_factor_passed(user, request.memberships)
        ):
            url = reverse("otp_verify" if user_has_device(user, confirmed=True) else "otp_setup")
            if request.method == "GET":
                url += "?" + urlencode({"next": request.get_full_path()})
            return redirect(url)
        return self.get_response(request)


class ClinicChoiceMiddleware:
    """A user of several clinics chooses one after logging in, before any clinic page: no page
    falls back to a clinic they did not pick (docs/security.md)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if must_choose_clinic(request) and not request.path_info.startswith(OPEN_PREFIXES):
            return redirect("choose_clinic")
        return self.get_response(request)


# Every script and style comes from the app itself (no CDN, no inline code), so the policy can
# be strict: an injected <script> or inline handler does not run.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


class NoStoreMiddleware:
    """Pages with patient data must not be kept by browsers or proxies, and run only the app's
    own scripts (docs/quality.md A7)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if not request.path.startswith("/static/"):
            patch_cache_control(response, no_store=True, private=True)
        response.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        return response
