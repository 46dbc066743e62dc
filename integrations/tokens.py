"""Validate an Entra ID bearer token for a connection. No database access.

RS256 only, key chosen by `kid` from the connection's key set, then issuer, tenant,
audience, expiry and not-before (with leeway), then the caller: app ID and role.
"""

import hashlib
import threading
import time
from dataclasses import dataclass
from typing import Any

import jwt
from django.conf import settings

from . import jwks
from .models import Connection

REQUIRED_CLAIMS = ["exp", "nbf", "iat", "aud", "iss", "tid"]
MAX_VERIFIED_TOKENS = 1024

# Azure reuses one token for many deliveries, and verifying it (base64 checks, RSA) is the
# costliest step of a delivery. Claims that passed full validation are kept per process
# until the token expires, keyed by the connection's version and the token's SHA-256
# (never the token itself). A changed connection has a new `updated_at`: a new key.
_verified: dict[tuple[int, float, bytes], tuple[dict[str, Any], float]] = {}
_verified_lock = threading.Lock()


class InvalidToken(Exception):
    """The token is not one we can trust (answer 401); the message says why."""


class CallerNotAllowed(Exception):
    """A valid token from a caller this connection does not allow (answer 403)."""


@dataclass(frozen=True, slots=True)
class AzurePrincipal:
    """Who called the webhook, from the token's claims. Never holds the token itself."""

    app_id: str
    object_id: str
    tenant_id: str
    token_version: str
    roles: tuple[str, ...]

    # What DRF and Django ask of request.user.
    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False
    pk = None

    def __str__(self) -> str:
        return f"app {self.app_id}"


def _decode(connection: Connection, token: str) -> dict:
    try:
        header = jwt.get_unverified_header(token)
    except Exception:
        raise InvalidToken("The bearer token is not a well-formed JWT.") from None
    if header.get("alg") != "RS256":
        raise InvalidToken("The token must be signed with RS256.")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise InvalidToken("The token header names no signing key (kid).")
    try:
        key = jwks.get_signing_key(connection.effective_jwks_uri, kid)
    except jwks.UnknownSigningKey:
        raise InvalidToken("The token is signed with a key the tenant does not publish.") from None
    try:
        return jwt.decode(
            token,
            key.key,
            algorithms=["RS256"],
            audience=list(connection.audiences),
            issuer=connection.accepted_issuers,
            leeway=settings.JWT_LEEWAY_SECONDS,
            options={"require": REQUIRED_CLAIMS},
        )
    except jwt.ExpiredSignatureError:
        raise InvalidToken("The token has expired.") from None
    except jwt.ImmatureSignatureError:
        raise InvalidToken("The token is not valid yet.") from None
    except jwt.InvalidAudienceError:
        raise InvalidToken("The token is for another audience.") from None
    except jwt.InvalidIssuerError:
        raise InvalidToken("The token is from another issuer.") from None
    except jwt.InvalidSignatureError:
        raise InvalidToken("The token's signature is not valid.") from None
    except jwt.MissingRequiredClaimError as exc:
        raise InvalidToken(f"The token lacks the {exc.claim!r} claim.") from None
    except Exception:
        raise InvalidToken("The token is not valid.") from None


def _decode_verified(connection: Connection, token: str) -> dict[str, Any]:
    """Return the token's validated claims, from the cache when this token passed before."""
    key = (
        connection.pk,
        connection.updated_at.timestamp(),
        hashlib.sha256(token.encode()).digest(),
    )
    hit = _verified.get(key)
    if hit is not None and time.time() < hit[1]:
        return hit[0]
    claims = _decode(connection, token)
    valid_until = float(claims["exp"]) + settings.JWT_LEEWAY_SECONDS
    with _verified_lock:
        if len(_verified) >= MAX_VERIFIED_TOKENS:
            now = time.time()
            for stale in [k for k, (_, until) in _verified.items() if until <= now]:
                del _verified[stale]
            if len(_verified) >= MAX_VERIFIED_TOKENS:
                _verified.clear()
        _verified[key] = (claims, valid_until)
    return claims


def verified_cache_clear() -> None:
    """Forget verified tokens (tests; key compromise)."""
    with _verified_lock:
        _verified.clear()


def validate_token(connection: Connection, token: str) -> AzurePrincipal:
    """Return who called, or raise InvalidToken (401) / CallerNotAllowed (403).

    May raise jwks.KeySetUnavailable when no signing keys can be had at all.
    """
    claims = _decode_verified(connection, token)
    tid = claims.get("tid")
    if not isinstance(tid, str) or tid.lower() != connection.tenant_id.lower():
        raise InvalidToken("The token is from another tenant.")
    version = str(claims.get("ver", "1.0"))
    # v1 tokens name the calling application in `appid`, v2 tokens in `azp`.
    app_id = claims.get("azp") if version.startswith("2") else claims.get("appid")
    app_id = app_id or claims.get("appid") or claims.get("azp") or ""
    roles = claims.get("roles") or []
    if not isinstance(roles, list):
        roles = []
    principal = AzurePrincipal(
        app_id=str(app_id),
        object_id=str(claims.get("oid", "")),
        tenant_id=tid,
        token_version=version,
        roles=tuple(str(r) for r in roles),
    )
    if not connection.enabled:
        raise CallerNotAllowed(f"The connection {connection.slug!r} is disabled.")
    allowed = {a.lower() for a in connection.allowed_app_ids}
    if principal.app_id.lower() not in allowed:
        raise CallerNotAllowed(
            f"The calling application {principal.app_id or '(none)'} is not allowed to send "
            "alerts to this connection."
        )
    if connection.required_role and connection.required_role not in principal.roles:
        raise CallerNotAllowed(
            f"The token lacks the {connection.required_role!r} role: assign the app role to "
            "the Azure Monitor action group application."
        )
    return principal
