"""Request body parsers for the API: JSON with bounded size and depth, and the home-test upload.

A body nested thousands of levels deep made Python's JSON decoder raise RecursionError (a 500),
and no field of the API nests more than a few levels, so depth is limited well below that.
A body larger than the server reads is a 413, said before it is read.
"""

from types import SimpleNamespace

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from rest_framework import exceptions, negotiation, parsers, status

# The deepest field of the API is an object inside the body (side_effects): 2 levels. The margin
# leaves room for harmless wrapping without letting anything near the interpreter's limit.
MAX_JSON_DEPTH = 32

# A home test's evidence may be at most this big (docs/domain.md section 8: at most 10 MB).
EVIDENCE_MAX_BYTES = settings.MAX_EVIDENCE_UPLOAD_BYTES
# The text fields of the upload form, its part headers and boundaries fit well inside this.
MULTIPART_OVERHEAD_BYTES = 256 * 1024


class AcceptHeaderNegotiation(negotiation.DefaultContentNegotiation):
    """The answer's type is chosen by the Accept header alone. DRF's `?format=` override was a
    query parameter no schema describes: `?format=x` answered 404 and `?format=` nothing."""

    settings = SimpleNamespace(URL_FORMAT_OVERRIDE=None)  # the only setting the class reads


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "payload_too_large"


def content_length(parser_context) -> int:
    request = (parser_context or {}).get("request")
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0) if request is not None else 0
    except ValueError:
        return 0


def depth(value) -> int:
    """How many arrays and objects deep a decoded JSON value goes, without recursing."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, level)
        if deepest > MAX_JSON_DEPTH:
            return deepest
        stack.extend((child, level + 1) for child in children)
    return deepest


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, refusing a body nested too deeply (400)."""

    # A body over DATA_UPLOAD_MAX_MEMORY_SIZE never gets here: DRF reads request.body first,
    # which refuses it, and exception_handler below answers 413.

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise exceptions.ParseError(TOO_DEEP) from None
        if depth(data) > MAX_JSON_DEPTH:
            raise exceptions.ParseError(TOO_DEEP)
        return data


TOO_DEEP = f"JSON parse error - the body is nested more than {MAX_JSON_DEPTH} levels deep."


class EvidenceUploadParser(parsers.MultiPartParser):
    """multipart/form-data for a home test and its evidence; a body too large to hold evidence of
    at most EVIDENCE_MAX_BYTES is refused before it is read."""

    def parse(self, stream, media_type=None, parser_context=None):
        if content_length(parser_context) > EVIDENCE_MAX_BYTES + MULTIPART_OVERHEAD_BYTES:
            raise PayloadTooLarge(
                {"evidence": ["The evidence file is larger than 10 MB."]},
            )
        try:
            return super().parse(stream, media_type, parser_context)
        except RequestDataTooBig:
            raise PayloadTooLarge("The form fields are too large.") from None
        except (TooManyFieldsSent, TooManyFilesSent) as error:
            raise exceptions.ParseError(f"Multipart form parse error - {error}") from None


def recursion_while_parsing(exc: BaseException) -> bool:
    """Whether a RecursionError was raised by a body parser (a view with parsers of its own)."""
    import traceback

    if not isinstance(exc, RecursionError):
        return False
    parsing = ("json/decoder.py", "json/__init__.py", "rest_framework/parsers.py")
    frames = traceback.extract_tb(exc.__traceback__)
    return any(frame.filename.endswith(parsing) for frame in frames)


def exception_handler(exc, context):
    """DRF's handler, plus: deep JSON read by a view's own parser classes (the token view) is a
    400 and a body larger than Django holds in memory a 413, where both would be a 500 or a
    page of HTML."""
    from rest_framework.views import exception_handler as drf_handler

    if recursion_while_parsing(exc):
        exc = exceptions.ParseError(TOO_DEEP)
    elif isinstance(exc, RequestDataTooBig):  # Django's own limit on a body it holds in memory
        exc = PayloadTooLarge(
            f"The request body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes."
        )
    return drf_handler(exc, context)
