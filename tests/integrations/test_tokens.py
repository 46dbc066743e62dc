"""Entra ID bearer tokens on the real webhook: every way a token can be wrong, and the key set.

Tokens are signed like Entra ID signs them (tests/helpers.py); the tenant's key set is a
FakeKeySet that counts fetches. Time in the key-set cache is a fake monotonic clock, so
cooldowns are tested without sleeping.
"""

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from django.conf import settings as django_settings

from cmdb.models import ConfigurationItem
from incidents.models import Incident, JournalEntry
from integrations import devtokens, jwks
from integrations.choices import AZURE_MONITOR_ACTION_GROUP_APP_ID, DeliveryOutcome
from integrations.models import Alert, Connection, Delivery
from tests.helpers import (
    AUDIENCE,
    CLIENT_ID,
    STATIC,
    TENANT_ID,
    FakeKeySet,
    load_fixture,
    make_token,
    with_essentials,
)
from tests.helpers import SUBSCRIPTION as SAMPLE_SUBSCRIPTION

SECOND = "azure/activity-log-administrative-fired.json"  # another alertId
OTHER_TENANT = "11111111-2222-3333-4444-555555555555"
OTHER_APP = "99999999-8888-7777-6666-555555555555"


class FakeClock:
    """Stands in for `time` in the key-set cache, which only asks for monotonic()."""

    def __init__(self) -> None:
        self.now = 10_000.0

    def monotonic(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(jwks, "time", fake)
    return fake


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _segment(value: dict[str, Any]) -> str:
    return _b64(json.dumps(value, separators=(",", ":")).encode())


def _claims(**overrides: Any) -> dict[str, Any]:
    claims = devtokens.entra_claims(tenant_id=TENANT_ID, audience=AUDIENCE)
    claims.update(overrides)
    return claims


def unsigned_token(key: Any) -> str:
    """`alg: none`: a token anyone can write. PyJWT will not make one with a kid, so by hand."""
    header = {"alg": "none", "typ": "JWT", "kid": devtokens.key_id(key)}
    return f"{_segment(header)}.{_segment(_claims())}."


def hs256_with_public_key(key: Any) -> str:
    """The classic confusion attack: HMAC-signed with the *public* key's PEM as the secret.

    PyJWT refuses a PEM as an HMAC secret, so the token is built by hand.
    """
    pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = {"alg": "HS256", "typ": "JWT", "kid": devtokens.key_id(key)}
    signing_input = f"{_segment(header)}.{_segment(_claims())}"
    signature = hmac.new(pem, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


def tampered_token(key: Any) -> str:
    """A genuine token whose claims were edited afterwards (another caller app)."""
    header, _, signature = make_token(key).split(".")
    return f"{header}.{_segment(_claims(appid=OTHER_APP))}.{signature}"


def _now() -> int:
    return int(time.time())


# name -> how to make the token from (signing_key, other_key)
INVALID_TOKENS: dict[str, Callable[[Any, Any], str]] = {
    "not-a-jwt": lambda key, other: "not-a-jwt",
    "garbage-segments": lambda key, other: "abc.def.ghi",
    "two-words": lambda key, other: "two words",
    "non-ascii": lambda key, other: "tökén",
    "expired": lambda key, other: make_token(
        key, iat=_now() - 7200, nbf=_now() - 7200, exp=_now() - 120
    ),
    "not-yet-valid": lambda key, other: make_token(key, nbf=_now() + 600),
    "wrong-audience": lambda key, other: make_token(key, aud="api://someone-else"),
    "wrong-audience-v2": lambda key, other: make_token(
        key, version="2.0", aud="00000000-0000-0000-0000-000000000000"
    ),
    "wrong-issuer": lambda key, other: make_token(
        key, iss=f"https://sts.windows.net/{OTHER_TENANT}/"
    ),
    "foreign-issuer": lambda key, other: make_token(key, iss="https://accounts.example.com/"),
    "wrong-tenant": lambda key, other: make_token(key, tid=OTHER_TENANT),
    "wrong-tenant-v2": lambda key, other: make_token(key, version="2.0", tid=OTHER_TENANT),
    "unknown-kid": lambda key, other: make_token(key, kid="not-published-by-the-tenant"),
    "no-kid": lambda key, other: jwt.encode(_claims(), key, algorithm="RS256"),
    "forged-signature": lambda key, other: make_token(other, kid=devtokens.key_id(key)),
    "tampered-claims": lambda key, other: tampered_token(key),
    "alg-none": lambda key, other: unsigned_token(key),
    "hs256-public-key": lambda key, other: hs256_with_public_key(key),
    "rs512": lambda key, other: jwt.encode(
        _claims(), key, algorithm="RS512", headers={"kid": devtokens.key_id(key)}
    ),
    "missing-exp": lambda key, other: make_token(key, exp=None),
    "missing-nbf": lambda key, other: make_token(key, nbf=None),
    "missing-aud": lambda key, other: make_token(key, aud=None),
    "missing-iss": lambda key, other: make_token(key, iss=None),
    "missing-tid": lambda key, other: make_token(key, tid=None),
}

# name -> claim overrides of a correctly signed token this connection does not allow
FORBIDDEN_CALLERS: dict[str, dict[str, Any]] = {
    "wrong-app-v1": {"appid": OTHER_APP},
    "wrong-app-v2": {"version": "2.0", "azp": OTHER_APP},
    # A v2 token names its caller in azp; an allowed appid beside it changes nothing.
    "v2-azp-wins-over-appid": {
        "version": "2.0",
        "azp": OTHER_APP,
        "appid": AZURE_MONITOR_ACTION_GROUP_APP_ID,
    },
    "missing-role": {"roles": None},
    "empty-roles": {"roles": []},
    "other-role": {"roles": ["Reader"]},
    "role-not-a-list": {"roles": "ActionGroupsSecureWebhook"},
}


def assert_nothing_stored() -> None:
    assert not Incident.objects.exists()
    assert not JournalEntry.objects.exists()
    assert not Alert.objects.exists()
    assert not Delivery.objects.exists()
    assert not ConfigurationItem.objects.exists()


def assert_error_body(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"detail", "code"}
    assert body["detail"]
    assert body["code"]
    return body


# --- 401: no token, or a token we cannot trust ------------------------------------------


@pytest.mark.django_db
def test_webhook_without_token_asks_for_bearer_without_error(
    connection: Connection, post_alert: Any
) -> None:
    response = post_alert(STATIC, token="")

    body = assert_error_body(response, 401)
    assert body["code"] == "not_authenticated"
    assert response["WWW-Authenticate"] == 'Bearer realm="azure-monitor"'
    assert_nothing_stored()


@pytest.mark.django_db
def test_webhook_with_other_auth_scheme_asks_for_bearer_without_error(
    connection: Connection, api_client: Any, key_set: FakeKeySet, signing_key: Any
) -> None:
    response = api_client.generic(
        "POST",
        connection.webhook_path,
        json.dumps(load_fixture(STATIC)),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Basic {make_token(signing_key)}",
    )

    assert_error_body(response, 401)
    assert response["WWW-Authenticate"] == 'Bearer realm="azure-monitor"'
    assert_nothing_stored()


@pytest.mark.django_db
@pytest.mark.parametrize("case", INVALID_TOKENS, ids=str)
def test_webhook_refuses_invalid_token(
    connection: Connection, post_alert: Any, signing_key: Any, other_key: Any, case: str
) -> None:
    token = INVALID_TOKENS[case](signing_key, other_key)

    response = post_alert(STATIC, token=token)

    body = assert_error_body(response, 401)
    challenge = response["WWW-Authenticate"]
    assert challenge.startswith('Bearer realm="azure-monitor", error="invalid_token"')
    assert token not in response.content.decode()
    assert token not in challenge
    assert body["code"] == "authentication_failed"
    assert_nothing_stored()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("expired", "The token has expired."),
        ("not-yet-valid", "The token is not valid yet."),
        ("wrong-audience", "The token is for another audience."),
        ("wrong-issuer", "The token is from another issuer."),
        ("wrong-tenant", "The token is from another tenant."),
        ("unknown-kid", "The token is signed with a key the tenant does not publish."),
        ("forged-signature", "The token's signature is not valid."),
        ("alg-none", "The token must be signed with RS256."),
        ("hs256-public-key", "The token must be signed with RS256."),
        ("missing-tid", "The token lacks the 'tid' claim."),
    ],
)
def test_webhook_says_why_token_was_refused(
    connection: Connection,
    post_alert: Any,
    signing_key: Any,
    other_key: Any,
    case: str,
    reason: str,
) -> None:
    response = post_alert(STATIC, token=INVALID_TOKENS[case](signing_key, other_key))

    assert response.json()["detail"] == reason
    assert f'error_description="{reason.replace(chr(34), chr(39))}"' in response["WWW-Authenticate"]


@pytest.mark.django_db
@pytest.mark.parametrize("version", ["1.0", "2.0"])
def test_webhook_accepts_token_expired_within_leeway(
    connection: Connection, post_alert: Any, version: str
) -> None:
    response = post_alert(
        STATIC, version=version, iat=_now() - 3630, nbf=_now() - 3630, exp=_now() - 30
    )

    assert response.status_code == 201


@pytest.mark.django_db
def test_webhook_accepts_token_valid_within_leeway(connection: Connection, post_alert: Any) -> None:
    assert post_alert(STATIC, nbf=_now() + 30).status_code == 201


@pytest.mark.django_db
def test_webhook_refuses_token_expired_beyond_leeway(
    connection: Connection, post_alert: Any
) -> None:
    # 60 s leeway: 90 s past expiry is refused, whatever the clock skew.
    response = post_alert(STATIC, iat=_now() - 3690, nbf=_now() - 3690, exp=_now() - 90)

    assert_error_body(response, 401)
    assert django_settings.JWT_LEEWAY_SECONDS == 60


# --- accepted callers ------------------------------------------------------------------------


@pytest.mark.django_db
def test_webhook_accepts_v1_token(connection: Connection, post_alert: Any) -> None:
    response = post_alert(STATIC)

    assert response.status_code == 201
    delivery = Delivery.objects.get()
    assert delivery.caller_app_id == AZURE_MONITOR_ACTION_GROUP_APP_ID
    assert delivery.caller_tenant_id == TENANT_ID


@pytest.mark.django_db
def test_webhook_accepts_v2_token(
    connection: Connection, post_alert: Any, signing_key: Any
) -> None:
    token = make_token(signing_key, version="2.0")
    claims = jwt.decode(token, options={"verify_signature": False})

    response = post_alert(STATIC, token=token)

    assert claims["aud"] == CLIENT_ID
    assert claims["iss"] == f"https://login.microsoftonline.com/{TENANT_ID}/v2.0"
    assert "appid" not in claims
    assert response.status_code == 201
    delivery = Delivery.objects.get()
    assert delivery.caller_app_id == claims["azp"] == AZURE_MONITOR_ACTION_GROUP_APP_ID
    assert delivery.caller_object_id == claims["oid"]


@pytest.mark.django_db
def test_webhook_accepts_caller_from_connection_allow_list(
    connection: Connection, post_alert: Any
) -> None:
    connection.allowed_app_ids = [OTHER_APP.upper()]
    connection.save()

    assert post_alert(STATIC, appid=OTHER_APP).status_code == 201
    assert_error_body(post_alert(SECOND), 403)  # the default app is no longer listed


@pytest.mark.django_db
def test_webhook_skips_role_check_when_required_role_is_null(
    connection: Connection, post_alert: Any
) -> None:
    connection.required_role = None
    connection.save()

    assert post_alert(STATIC, roles=None).status_code == 201


@pytest.mark.django_db
def test_webhook_accepts_token_with_more_roles(connection: Connection, post_alert: Any) -> None:
    response = post_alert(STATIC, roles=["Reader", "ActionGroupsSecureWebhook"])

    assert response.status_code == 201


# --- 403: a valid token from a caller this connection does not allow --------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("case", FORBIDDEN_CALLERS, ids=str)
def test_webhook_forbids_caller_not_allowed(
    connection: Connection, post_alert: Any, case: str
) -> None:
    response = post_alert(STATIC, **FORBIDDEN_CALLERS[case])

    body = assert_error_body(response, 403)
    assert body["code"] == "permission_denied"
    assert "invalid_token" not in response.get("WWW-Authenticate", "")
    assert_nothing_stored()


@pytest.mark.django_db
def test_webhook_tells_missing_role_how_to_fix_it(connection: Connection, post_alert: Any) -> None:
    detail = post_alert(STATIC, roles=None).json()["detail"]

    assert "'ActionGroupsSecureWebhook' role" in detail


@pytest.mark.django_db
@pytest.mark.parametrize("version", ["1.0", "2.0"])
def test_webhook_forbids_disabled_connection(
    connection: Connection, post_alert: Any, version: str
) -> None:
    connection.enabled = False
    connection.save()

    response = post_alert(STATIC, version=version)

    body = assert_error_body(response, 403)
    assert "disabled" in body["detail"]
    assert_nothing_stored()


@pytest.mark.django_db
def test_webhook_refuses_bad_token_on_disabled_connection_with_401(
    connection: Connection, post_alert: Any
) -> None:
    connection.enabled = False
    connection.save()

    assert_error_body(post_alert(STATIC, token="not-a-jwt"), 401)


# --- 404 and 413 come before 401 ------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("token", [None, "", "not-a-jwt"], ids=["valid", "none", "invalid"])
def test_webhook_answers_404_for_unknown_slug(
    connection: Connection, post_alert: Any, token: str | None
) -> None:
    response = post_alert(STATIC, slug="nobody", token=token)

    body = assert_error_body(response, 404)
    assert body["code"] == "not_found"
    assert "'nobody'" in body["detail"]
    assert "WWW-Authenticate" not in response
    assert_nothing_stored()


@pytest.mark.django_db
def test_webhook_answers_404_before_413(
    connection: Connection, post_alert: Any, settings: Any
) -> None:
    settings.WEBHOOK_MAX_BODY_BYTES = 100

    assert_error_body(post_alert(STATIC, slug="nobody", token=""), 404)


@pytest.mark.django_db
@pytest.mark.parametrize("token", ["", "not-a-jwt"], ids=["none", "invalid"])
def test_webhook_answers_413_before_401(
    connection: Connection, post_alert: Any, settings: Any, token: str
) -> None:
    settings.WEBHOOK_MAX_BODY_BYTES = 100

    response = post_alert(STATIC, token=token)

    body = assert_error_body(response, 413)
    assert body["code"] == "payload_too_large"
    assert_nothing_stored()


@pytest.mark.django_db
def test_webhook_answers_413_before_403(
    connection: Connection, post_alert: Any, settings: Any
) -> None:
    settings.WEBHOOK_MAX_BODY_BYTES = 100

    assert_error_body(post_alert(STATIC, appid=OTHER_APP), 413)


# --- allowed subscriptions -------------------------------------------------------------------


@pytest.mark.django_db
def test_webhook_accepts_alert_from_allowed_subscription(
    connection: Connection, post_alert: Any
) -> None:
    connection.allowed_subscriptions = [OTHER_TENANT, SAMPLE_SUBSCRIPTION.upper()]
    connection.save()

    assert post_alert(STATIC).status_code == 201


@pytest.mark.django_db
def test_webhook_forbids_alert_from_other_subscription(
    connection: Connection, post_alert: Any
) -> None:
    connection.allowed_subscriptions = [OTHER_TENANT]
    connection.save()
    payload = load_fixture(STATIC)

    response = post_alert(payload)

    body = assert_error_body(response, 403)
    assert body["code"] == "subscription_not_allowed"
    assert SAMPLE_SUBSCRIPTION in body["detail"]
    assert not Incident.objects.exists()
    assert not Alert.objects.exists()
    assert not ConfigurationItem.objects.exists()
    delivery = Delivery.objects.get()  # refused after authentication: kept with its reason
    assert delivery.outcome == DeliveryOutcome.REJECTED
    assert delivery.status_code == 403
    assert delivery.error == body["detail"]
    assert delivery.reported_alert_id == payload["data"]["essentials"]["alertId"]
    assert delivery.alert is None


@pytest.mark.django_db
def test_webhook_forbids_alert_whose_target_lies_in_other_subscription(
    connection: Connection, post_alert: Any
) -> None:
    connection.allowed_subscriptions = [SAMPLE_SUBSCRIPTION]
    connection.save()
    target = f"/subscriptions/{OTHER_TENANT}/resourceGroups/rg/providers/Microsoft.Web/sites/shop"

    response = post_alert(with_essentials(STATIC, alertTargetIDs=[target]))

    assert assert_error_body(response, 403)["code"] == "subscription_not_allowed"
    assert not Incident.objects.exists()
    assert Delivery.objects.get().outcome == DeliveryOutcome.REJECTED


# --- the tenant's key set -------------------------------------------------------------------


@pytest.mark.django_db
def test_jwks_cache_serves_later_tokens_without_fetching(
    connection: Connection, post_alert: Any, key_set: FakeKeySet, clock: FakeClock
) -> None:
    for name in (STATIC, SECOND, STATIC):
        assert post_alert(name).status_code in (200, 201)
        clock.advance(60)

    assert key_set.fetches == 1


@pytest.mark.django_db
def test_jwks_rotation_refetches_once_and_drops_old_key(
    connection: Connection,
    post_alert: Any,
    key_set: FakeKeySet,
    signing_key: Any,
    other_key: Any,
    clock: FakeClock,
    settings: Any,
) -> None:
    settings.JWKS_REFETCH_COOLDOWN_SECONDS = 300
    assert post_alert(STATIC).status_code == 201
    assert key_set.fetches == 1

    key_set.keys = [other_key]  # Entra ID rotated its signing key
    clock.advance(301)
    rotated = post_alert(SECOND, token=make_token(other_key))
    old = post_alert(SECOND, token=make_token(signing_key))

    assert rotated.status_code == 201
    assert old.status_code == 503  # within the cooldown nobody can tell: Azure retries
    assert key_set.fetches == 2
    clock.advance(300)
    old = post_alert(SECOND, token=make_token(signing_key))
    assert old.status_code == 401
    assert 'error="invalid_token"' in old["WWW-Authenticate"]
    assert key_set.fetches == 3


@pytest.mark.django_db
def test_jwks_rotation_overlap_accepts_both_keys(
    connection: Connection,
    post_alert: Any,
    key_set: FakeKeySet,
    signing_key: Any,
    other_key: Any,
    clock: FakeClock,
) -> None:
    assert post_alert(STATIC).status_code == 201
    key_set.keys = [signing_key, other_key]
    clock.advance(django_settings.JWKS_REFETCH_COOLDOWN_SECONDS + 1)

    assert post_alert(SECOND, token=make_token(other_key)).status_code == 201
    assert post_alert(STATIC, token=make_token(signing_key)).status_code == 200
    assert key_set.fetches == 2


@pytest.mark.django_db
def test_jwks_unknown_kids_refetch_at_most_once_per_cooldown(
    connection: Connection,
    post_alert: Any,
    key_set: FakeKeySet,
    signing_key: Any,
    clock: FakeClock,
    settings: Any,
) -> None:
    settings.JWKS_REFETCH_COOLDOWN_SECONDS = 300
    assert post_alert(STATIC).status_code == 201
    clock.advance(301)

    first = post_alert(STATIC, token=make_token(signing_key, kid="forged-1"))
    clock.advance(200)
    second = post_alert(STATIC, token=make_token(signing_key, kid="forged-2"))

    assert first.status_code == 401
    # Within the cooldown an unknown kid may be a key Entra ID just started using.
    assert assert_error_body(second, 503)["code"] == "signing_keys_unavailable"
    assert second["Retry-After"] == "100"
    assert key_set.fetches == 2  # one refetch for two unknown kids within the cooldown

    clock.advance(101)  # the cooldown since the refetch is over
    assert post_alert(STATIC, token=make_token(signing_key, kid="forged-3")).status_code == 401
    assert key_set.fetches == 3


@pytest.mark.django_db
def test_jwks_keeps_last_good_key_set_when_refetch_fails(
    connection: Connection,
    post_alert: Any,
    key_set: FakeKeySet,
    signing_key: Any,
    clock: FakeClock,
) -> None:
    assert post_alert(STATIC).status_code == 201
    key_set.failing = True
    clock.advance(django_settings.JWKS_REFETCH_COOLDOWN_SECONDS + 1)

    unknown = post_alert(STATIC, token=make_token(signing_key, kid="new-kid"))
    known = post_alert(SECOND)

    assert unknown.status_code == 503  # the key may be new: Azure should retry
    assert int(unknown["Retry-After"]) > 0
    assert known.status_code == 201
    assert key_set.fetches == 2


@pytest.fixture
def background(monkeypatch: pytest.MonkeyPatch) -> list[Callable[[], None]]:
    """Background refreshes of the key-set cache, held until the test runs them."""
    held: list[Callable[[], None]] = []
    monkeypatch.setattr(jwks, "_in_background", held.append)
    return held


@pytest.mark.django_db
def test_jwks_keeps_stale_key_set_when_refresh_fails(
    connection: Connection,
    post_alert: Any,
    key_set: FakeKeySet,
    clock: FakeClock,
    background: list[Callable[[], None]],
) -> None:
    assert post_alert(STATIC).status_code == 201
    key_set.failing = True
    clock.advance(django_settings.JWKS_MAX_AGE_SECONDS + 1)

    assert post_alert(SECOND).status_code == 201
    background.pop()()
    assert key_set.fetches == 2  # it tried to refresh the day-old set, and kept it
    assert post_alert(STATIC).status_code == 200
    assert not background  # no new attempt right after a failed one


@pytest.mark.django_db
def test_jwks_refreshes_day_old_key_set_in_the_background(
    connection: Connection,
    post_alert: Any,
    key_set: FakeKeySet,
    clock: FakeClock,
    background: list[Callable[[], None]],
    other_key: Any,
    signing_key: Any,
) -> None:
    assert post_alert(STATIC).status_code == 201
    clock.advance(django_settings.JWKS_MAX_AGE_SECONDS + 1)
    key_set.keys = [signing_key, other_key]  # Entra ID publishes its next key early

    # Answered from the cached set, before the refresh ran; and one refresh only.
    assert post_alert(SECOND).status_code == 201
    assert post_alert(STATIC).status_code == 200
    assert key_set.fetches == 1
    assert len(background) == 1
    background.pop()()
    assert key_set.fetches == 2
    # The next key is known before it is used: no refetch, no cooldown to hit.
    new = with_essentials(STATIC, alertId="/a/next-key")
    assert post_alert(new, token=make_token(other_key)).status_code == 201
    assert key_set.fetches == 2


@pytest.mark.django_db
def test_jwks_scanner_kid_does_not_turn_rotation_into_401(
    connection: Connection,
    post_alert: Any,
    key_set: FakeKeySet,
    other_key: Any,
    signing_key: Any,
    clock: FakeClock,
) -> None:
    assert post_alert(STATIC).status_code == 201
    clock.advance(django_settings.JWKS_REFETCH_COOLDOWN_SECONDS + 1)
    assert post_alert(STATIC, token=make_token(signing_key, kid="scanner")).status_code == 401
    key_set.keys = [other_key]  # Entra ID rolls its keys right after the scanner's refetch
    clock.advance(5)

    retried = post_alert(SECOND, token=make_token(other_key))
    assert retried.status_code == 503  # Azure retries a 503, never a 401
    clock.advance(int(retried["Retry-After"]))
    assert post_alert(SECOND, token=make_token(other_key)).status_code == 201


@pytest.mark.django_db
def test_webhook_answers_503_when_no_key_set_can_be_had(
    connection: Connection, post_alert: Any, key_set: FakeKeySet, clock: FakeClock
) -> None:
    key_set.failing = True

    response = post_alert(STATIC)

    body = assert_error_body(response, 503)
    assert body["code"] == "signing_keys_unavailable"
    assert int(response["Retry-After"]) > 0
    assert_nothing_stored()


@pytest.mark.django_db
def test_webhook_recovers_from_cold_start_outage_after_short_wait(
    connection: Connection, post_alert: Any, key_set: FakeKeySet, clock: FakeClock
) -> None:
    key_set.failing = True
    assert post_alert(STATIC).status_code == 503
    key_set.failing = False

    too_soon = post_alert(STATIC)
    clock.advance(jwks.COLD_RETRY_SECONDS)
    later = post_alert(STATIC)

    assert too_soon.status_code == 503  # a dead endpoint is not hammered on every request
    assert later.status_code == 201
    assert key_set.fetches == 2


@pytest.mark.django_db
def test_jwks_rotation_right_after_a_fetch_is_accepted(
    connection: Connection,
    post_alert: Any,
    key_set: FakeKeySet,
    other_key: Any,
    signing_key: Any,
    clock: FakeClock,
) -> None:
    # The cooldown counts refetches caused by unknown kids, not the first fetch.
    assert post_alert(STATIC).status_code == 201
    key_set.keys = [signing_key, other_key]
    clock.advance(1)

    assert post_alert(SECOND, token=make_token(other_key)).status_code == 201
    assert key_set.fetches == 2
    assert post_alert(STATIC, token=make_token(other_key, kid="forged")).status_code == 503
    assert key_set.fetches == 2  # a second unknown kid within the cooldown: no fetch


# --- odd but well-formed headers ------------------------------------------------------------


def _signed_by_hand(header: dict[str, Any], key: Any) -> str:
    """A token with exactly this header, RS256-signed by `key` (PyJWT would tidy the header)."""
    from jwt.algorithms import RSAAlgorithm

    signing_input = f"{_segment(header)}.{_segment(_claims())}"
    signature = RSAAlgorithm(RSAAlgorithm.SHA256).sign(signing_input.encode(), key)
    return f"{signing_input}.{_b64(signature)}"


# name -> header; signed by the tenant's real key unless the name says "forged"
ODD_HEADERS: dict[str, Callable[[str], dict[str, Any]]] = {
    "kid-int": lambda kid: {"alg": "RS256", "kid": 1},
    "kid-list": lambda kid: {"alg": "RS256", "kid": [kid]},
    "kid-dict": lambda kid: {"alg": "RS256", "kid": {"id": kid}},
    "kid-null": lambda kid: {"alg": "RS256", "kid": None},
    "kid-empty": lambda kid: {"alg": "RS256", "kid": ""},
    "crit-list": lambda kid: {"alg": "RS256", "kid": kid, "crit": ["exp"]},
    "crit-string": lambda kid: {"alg": "RS256", "kid": kid, "crit": "exp"},
    "crit-empty": lambda kid: {"alg": "RS256", "kid": kid, "crit": []},
    "alg-none": lambda kid: {"alg": "none", "kid": kid},
    "alg-hs256": lambda kid: {"alg": "HS256", "kid": kid},
    "alg-list": lambda kid: {"alg": ["RS256"], "kid": kid},
    "alg-null": lambda kid: {"alg": None, "kid": kid},
    "alg-missing": lambda kid: {"kid": kid},
    "b64-false": lambda kid: {"alg": "RS256", "kid": kid, "b64": False, "crit": ["b64"]},
    "b64-false-uncritical": lambda kid: {"alg": "RS256", "kid": kid, "b64": False},
    "forged-typ-odd": lambda kid: {"alg": "RS256", "kid": kid, "typ": {"not": "a string"}},
    "forged-x5c": lambda kid: {"alg": "RS256", "kid": kid, "x5c": ["MIIBIjAN"]},
    "forged-jku": lambda kid: {"alg": "RS256", "kid": kid, "jku": "https://evil.example/keys"},
    "forged-jwk": lambda kid: {"alg": "RS256", "kid": kid, "jwk": {"kty": "RSA", "n": "x"}},
    "forged-huge": lambda kid: {"alg": "RS256", "kid": kid, "pad": "a" * 100_000},
}


@pytest.mark.django_db
@pytest.mark.parametrize("case", ODD_HEADERS, ids=str)
def test_webhook_refuses_odd_token_header_with_401(
    connection: Connection,
    post_alert: Any,
    signing_key: Any,
    other_key: Any,
    case: str,
    settings: Any,
) -> None:
    from integrations import ratelimit

    settings.WEBHOOK_AUTH_FAILURES_PER_MINUTE = 1
    ratelimit.failures_clear()
    key = other_key if case.startswith("forged") else signing_key
    token = _signed_by_hand(ODD_HEADERS[case](devtokens.key_id(signing_key)), key)

    response = post_alert(STATIC, token=token)
    again = post_alert(STATIC, token=token)

    assert_error_body(response, 401)
    assert 'error="invalid_token"' in response["WWW-Authenticate"]
    assert again.status_code == 429  # counted by the failed-authentication limiter
    ratelimit.failures_clear()
    assert_nothing_stored()
