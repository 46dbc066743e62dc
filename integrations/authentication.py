"""DRF authentication for the Secure Webhook: Entra ID bearer tokens."""

import logging
from typing import cast

from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.request import Request

from core.clientaddr import client_address

from . import jwks
from .models import Connection
from .ratelimit import failure_record
from .tokens import AzurePrincipal, CallerNotAllowed, InvalidToken, validate_token

logger = logging.getLogger(__name__)

REALM = "azure-monitor"


class WebhookRequest(Request):
    """A webhook request with what the view and the authentication set on it.

    Only for the type checker: the request is DRF's own, these attributes are set on it.
    """

    webhook_connection: Connection  # set by the view before authentication
    webhook_body: bytes  # set by the view once the caller is authenticated
    bearer_token_sent: bool
    bearer_error: str


class SigningKeysUnavailable(exceptions.APIException):
    """Entra ID's signing keys cannot be fetched and none are cached: Azure should retry."""

    status_code = 503
    default_detail = "The tenant's signing keys cannot be fetched right now; retry later."
    default_code = "signing_keys_unavailable"

    def __init__(self, detail: str | None = None, *, wait: int = 30) -> None:
        super().__init__(detail)
        self.wait = wait  # becomes Retry-After


class SigningKeyNotCheckable(SigningKeysUnavailable):
    """A token signed with a key not in the cached set, which cannot be refetched yet."""

    default_detail = (
        "The token is signed with a key not in the tenant's cached key set, which cannot "
        "be refetched yet; retry later."
    )


class EntraIdBearerAuthentication(BaseAuthentication):
    """Authenticate `Authorization: Bearer <Entra ID token>` for `request.webhook_connection`.

    The view resolves the connection first (404 comes before 401). Failures are 401 with
    `WWW-Authenticate`, or 403 for a valid token from a caller the connection does not allow.
    """

    def authenticate(self, request: Request) -> tuple[AzurePrincipal, None]:
        try:
            return self._authenticate(request)
        except (
            exceptions.NotAuthenticated,
            exceptions.AuthenticationFailed,
            exceptions.PermissionDenied,
            SigningKeyNotCheckable,  # mostly scanners' made-up kids
        ):
            failure_limit(request)  # may answer 429 instead
            raise

    def _authenticate(self, request: Request) -> tuple[AzurePrincipal, None]:
        request = cast(WebhookRequest, request)
        connection = request.webhook_connection
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != b"bearer":
            raise exceptions.NotAuthenticated("A bearer token from Entra ID is required.")
        request.bearer_token_sent = True
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed("The Authorization header is malformed.")
        try:
            token = parts[1].decode("ascii")
            principal = validate_token(connection, token)
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("The bearer token is not a JWT.") from None
        except InvalidToken as exc:
            request.bearer_error = str(exc)
            logger.info("webhook.unauthenticated connection=%s reason=%s", connection.slug, exc)
            raise exceptions.AuthenticationFailed(str(exc)) from None
        except CallerNotAllowed as exc:
            logger.info("webhook.forbidden connection=%s reason=%s", connection.slug, exc)
            raise exceptions.PermissionDenied(str(exc)) from None
        except jwks.KeySetUnavailable:
            raise SigningKeysUnavailable() from None
        except jwks.SigningKeyNotCheckable as exc:
            # Perhaps a key Entra ID has just started using: 401 would lose the alert
            # (Azure does not retry it), 503 has Azure retry once we may refetch.
            logger.warning("webhook.signing_key_not_checkable connection=%s", connection.slug)
            raise SigningKeyNotCheckable(wait=exc.retry_after) from None
        return principal, None

    def authenticate_header(self, request: Request) -> str:
        # RFC 6750 section 3: name the error only when a token was presented.
        if getattr(request, "bearer_token_sent", False):
            description = getattr(request, "bearer_error", "").replace('"', "'")
            header = f'Bearer realm="{REALM}", error="invalid_token"'
            return header + (f', error_description="{description}"' if description else "")
        return f'Bearer realm="{REALM}"'


def failure_limit(request: Request) -> None:
    """Count a failed request (bad token, unknown slug); answer 429 past the limit."""
    address = client_address(request)
    wait = failure_record(address)
    if wait is not None:
        logger.warning("webhook.auth_failures_limited address=%s", address)
        raise exceptions.Throttled(
            wait=wait, detail="Too many failed authentications from this address."
        )
