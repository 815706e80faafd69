"""How API requests authenticate: a knox token, or the browser's session (docs/security.md).

Kept apart from the views: DRF imports these classes while it loads its settings, so this
module must not import rest_framework.views.
"""

from django.utils.crypto import constant_time_compare
from knox.auth import TokenAuthentication
from rest_framework import exceptions
from rest_framework.authentication import SessionAuthentication

from clinic.twofactor import second_factor_passed


class ApiTokenAuthentication(TokenAuthentication):
    """knox's token check, plus: the password has not changed since the token was issued."""

    def authenticate_credentials(self, token):
        # knox decodes the header as UTF-8; a stray byte would otherwise be a 500.
        try:
            token.decode("utf-8")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("Invalid token.") from None
        return super().authenticate_credentials(token)

    def validate_user(self, auth_token):
        user, auth_token = super().validate_user(auth_token)
        current = user.get_session_auth_hash()
        if constant_time_compare(auth_token.credential_hash, current):
            return user, auth_token
        # The fingerprint is keyed with DJANGO_SECRET_KEY: during a key rotation one made with
        # a key kept in DJANGO_SECRET_KEY_FALLBACKS still counts, and is re-made with the new
        # key so the token outlives the fallback (as Django does for sessions; docs/operations.md).
        if any(
            constant_time_compare(auth_token.credential_hash, fallback)
            for fallback in user.get_session_auth_fallback_hash()
        ):
            auth_token.credential_hash = current
            auth_token.save(update_fields=["credential_hash"])
            return user, auth_token
        auth_token.delete()
        raise exceptions.AuthenticationFailed("Invalid token.")


class VerifiedSessionAuthentication(SessionAuthentication):
    """The browser's session, for the pages' own calls to the API, once it has passed the
    second factor where one is required (a token is only issued against a code)."""

    def authenticate(self, request):
        result = super().authenticate(request)
        if result is None or not second_factor_passed(request._request.user):
            return None
        return result
