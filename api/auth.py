"""API tokens that end (docs/domain.md section 8, docs/security.md).

`POST /api/v1/auth/token/` exchanges a username and password (and, for clinicians and clinic
admins, the current code of their second factor) for a token that lasts
`API_TOKEN_HOURS` (django-rest-knox keeps only its hash); `DELETE` on the same URL revokes the
token that signs the request. A token also dies with a password change (each token keeps a
fingerprint of the password, compared on every request, as Django does for sessions) and with
the user's deactivation.
"""

from django.contrib.auth import authenticate
from django_otp import user_has_device
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.parsers import FormParser, JSONParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from clinic.models import ApiToken
from clinic.throttle import TooManyWrongCodes, client_address
from clinic.twofactor import matching_device, needs_second_factor

from .authentication import ApiTokenAuthentication
from .parsers import AcceptHeaderNegotiation
from .schema import FIELD_ERRORS, NOT_ACCEPTABLE

WRONG_CREDENTIALS = "Unable to log in with provided credentials."


class TokenIn(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(
        max_length=4096, trim_whitespace=False, style={"input_type": "password"}
    )
    otp = serializers.CharField(
        max_length=16,
        required=False,
        help_text="The current code of the authenticator app (or a backup code): required of "
        "clinicians and clinic admins.",
    )


class TokenOut(serializers.Serializer):
    token = serializers.CharField()


def check_code(user, code: str, address: str | None) -> None:
    if not user_has_device(user, confirmed=True):
        raise exceptions.ValidationError(
            {"otp": ["Set up your second factor in the browser first."]}
        )
    if not code:
        raise exceptions.ValidationError(
            {"otp": ["Clinicians and clinic admins send the current code of their app."]}
        )
    try:
        device = matching_device(user, code, address)
    except TooManyWrongCodes as refused:
        raise exceptions.ValidationError({"otp": [refused.message]}) from None
    if device is None:
        raise exceptions.ValidationError({"otp": ["The code is wrong or has expired."]})


def issue_token(user, *, with_second_factor: bool) -> str:
    _, token = ApiToken.objects.create(
        user=user,
        credential_hash=user.get_session_auth_hash(),
        issued_with_second_factor=with_second_factor,
    )
    return token


class Token(APIView):
    # A wrong username and a wrong password get the same answer (AuthTokenSerializer's).

    parser_classes = [JSONParser, FormParser]
    content_negotiation_class = AcceptHeaderNegotiation
    authentication_classes = [ApiTokenAuthentication]
    permission_classes = [IsAuthenticated]

    def perform_authentication(self, request):
        # Asking for a token needs none: a stale token sent along must not get in the way.
        if request.method != "POST":
            super().perform_authentication(request)

    def check_permissions(self, request):
        if request.method != "POST":
            super().check_permissions(request)

    @extend_schema(
        summary="Exchange a username and password for an API token",
        request=TokenIn,
        responses={200: TokenOut, 400: FIELD_ERRORS, 406: NOT_ACCEPTABLE},
        auth=[],
    )
    def post(self, request):
        credentials = TokenIn(data=request.data)
        credentials.is_valid(raise_exception=True)
        # Through the backends, so django-axes counts a failure and locks (docs/quality.md A3).
        data = credentials.validated_data
        user = authenticate(request=request, username=data["username"], password=data["password"])
        if user is None:
            raise exceptions.ValidationError({"non_field_errors": [WRONG_CREDENTIALS]})
        second_factor = needs_second_factor(user)
        if second_factor:
            # Asked only once the password is right, so it tells nothing about who exists.
            check_code(user, data.get("otp", ""), client_address(request))
        return Response({"token": issue_token(user, with_second_factor=second_factor)})

    @extend_schema(
        summary="Revoke the token that signs this request",
        request=None,
        responses={204: None, 401: FIELD_ERRORS, 406: NOT_ACCEPTABLE},
    )
    def delete(self, request):
        request.auth.delete()
        return Response(status=status.HTTP_204_NO_CONTENT)


class ApiTokenScheme(OpenApiAuthenticationExtension):
    target_class = "api.authentication.ApiTokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return build_bearer_security_scheme_object(
            header_name="Authorization",
            token_prefix="Token",  # noqa: S106  # nosec B106  # a header scheme, not a secret
        )


class VerifiedSessionScheme(OpenApiAuthenticationExtension):
    target_class = "api.authentication.VerifiedSessionAuthentication"
    name = "cookieAuth"
    priority = -1

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "cookie", "name": "sessionid"}
