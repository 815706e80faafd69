"""A request id on every request, and on every log line written while handling it.

The middleware sits at the top of MIDDLEWARE (config/settings.py). It takes the proxy's
X-Request-ID when it is well formed (so one id follows the request from nginx to the database),
makes one otherwise, keeps it in a context variable for the logging filter
(config/observability.py) and answers with it in X-Request-ID, which gunicorn's access line reads.
"""

import contextvars
import re
import uuid

_REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")
# A UUID, a hex or base64url trace id: nothing that could forge a log line or carry free text.
WELL_FORMED = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{7,63}")


def current_request_id() -> str:
    return _REQUEST_ID.get()


class RequestIdMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        offered = request.META.get("HTTP_X_REQUEST_ID", "")
        request_id = offered if WELL_FORMED.fullmatch(offered) else uuid.uuid4().hex
        request.request_id = request_id
        token = _REQUEST_ID.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            _REQUEST_ID.reset(token)
        response["X-Request-ID"] = request_id
        return response
