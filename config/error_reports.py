"""What an error email to the ADMINS may show (DEFAULT_EXCEPTION_REPORTER and
DEFAULT_EXCEPTION_REPORTER_FILTER in config/settings.py).

Django's report lists the request's GET, POST and FILES values, its full URL, every META entry and
each frame's local variables: a posted patient name, a search term or an uploaded file's name
would reach the admins' mailbox. Here the report keeps the names of the parameters, never their
values, the path without the query string, a few harmless META entries, no local variables,
the exception's message with email addresses and dates scrubbed, and no user.
"""

from django.views.debug import ExceptionReporter, SafeExceptionReporterFilter

from config.observability import scrub_text

# Request META entries that say nothing about a patient.
SAFE_META = (
    "REQUEST_METHOD",
    "PATH_INFO",
    "SERVER_NAME",
    "SERVER_PORT",
    "SERVER_PROTOCOL",
    "CONTENT_TYPE",
    "CONTENT_LENGTH",
    "HTTP_HOST",
    "HTTP_USER_AGENT",
    "HTTP_X_REQUEST_ID",
)


class PatientSafeReporterFilter(SafeExceptionReporterFilter):
    def get_post_parameters(self, request):
        if request is None:
            return {}
        return dict.fromkeys(request.POST, self.cleansed_substitute)

    def get_safe_request_meta(self, request):
        if request is None:
            return {}
        return {key: request.META[key] for key in SAFE_META if key in request.META}

    def get_safe_cookies(self, request):
        if request is None:
            return {}
        return dict.fromkeys(request.COOKIES, self.cleansed_substitute)

    def get_traceback_frame_variables(self, request, tb_frame):
        return []


class PatientSafeExceptionReporter(ExceptionReporter):
    def get_traceback_data(self):
        data = super().get_traceback_data()
        hidden = PatientSafeReporterFilter.cleansed_substitute
        # The exception's own words may quote what was typed (PostgreSQL's "Key (clinic_id,
        # mrn_key)=(3, mrn-0042) already exists", a ValueError naming an address or a date):
        # scrubbed as Sentry's events are (config.observability.scrub_event). The user is the
        # staff member's username, which for an invited member is an email address.
        data["exception_value"] = scrub_text(data.get("exception_value"))
        data["user_str"] = None
        if self.request is not None:
            data["request_GET_items"] = [(key, hidden) for key in self.request.GET]
            data["request_FILES_items"] = [(key, hidden) for key in self.request.FILES]
            # The path only: the query string is where a search term would travel.
            data["request_insecure_uri"] = self.request.path
        return data
