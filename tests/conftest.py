"""Shared fixtures: a test signing key standing in for Entra ID, connections, and helpers."""

import copy
import json
import socket
from pathlib import Path
from typing import Any

import pytest
from django.db import connection as db_connection
from rest_framework.test import APIClient

from integrations import devtokens, jwks, tokens
from integrations.models import Connection

FIXTURES = Path(__file__).parent / "fixtures"
TENANT_ID = "72f988bf-86f1-41af-91ab-2d7cd011db47"
AUDIENCE = "api://itsm-test"
CLIENT_ID = "0b9d2a1c-5e43-4d6f-9a8b-7c6d5e4f3a21"
TEST_JWKS_URI = "https://login.example.test/keys"


def load_fixture(name: str) -> dict[str, Any]:
    """A payload from tests/fixtures/ (e.g. "azure/log-alerts-v2-fired.json")."""
    return json.loads((FIXTURES / name).read_text())


def is_postgres() -> bool:
    return db_connection.vendor == "postgresql"


@pytest.fixture(autouse=True)
def _block_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail loudly on any connection leaving this machine (a forgotten mock)."""
    real_connect = socket.socket.connect

    def guarded(sock: socket.socket, address: Any) -> Any:
        host = address[0] if isinstance(address, tuple) else address
        if (
            isinstance(host, str)
            and host not in ("127.0.0.1", "::1", "localhost")
            and not (host.startswith("/"))
        ):
            raise RuntimeError(f"Network access in tests: {address!r}")
        return real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)


@pytest.fixture(scope="session")
def signing_key() -> Any:
    return devtokens.generate_key()


@pytest.fixture(scope="session")
def other_key() -> Any:
    return devtokens.generate_key()


class FakeKeySet:
    """The tenant's published key set, served to the code under test; counts fetches."""

    def __init__(self, *keys: Any) -> None:
        self.keys = list(keys)
        self.fetches = 0
        self.failing = False

    def fetch(self, uri: str, *, timeout: float) -> dict:
        self.fetches += 1
        if self.failing:
            raise OSError("key endpoint unreachable")
        return devtokens.jwks_document(*self.keys)


@pytest.fixture
def key_set(monkeypatch: pytest.MonkeyPatch, signing_key: Any) -> FakeKeySet:
    jwks.clear_cache()
    tokens.verified_cache_clear()
    fake = FakeKeySet(signing_key)
    monkeypatch.setattr(jwks, "fetch_jwks", fake.fetch)
    yield fake
    jwks.clear_cache()
    tokens.verified_cache_clear()


@pytest.fixture
def connection(db: None) -> Connection:
    return Connection.objects.create(
        slug="contoso",
        name="Contoso production",
        tenant_id=TENANT_ID,
        audiences=[AUDIENCE, CLIENT_ID],
        jwks_uri=TEST_JWKS_URI,
    )


def make_token(key: Any, *, kid: str | None = None, version: str = "1.0", **overrides: Any) -> str:
    audience = AUDIENCE if version == "1.0" else CLIENT_ID
    claims = devtokens.entra_claims(tenant_id=TENANT_ID, audience=audience, version=version)
    for name, value in overrides.items():
        if value is None:
            claims.pop(name, None)
        else:
            claims[name] = value
    return devtokens.sign(claims, key, kid=kid)


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


class AlertPoster:
    """Posts payloads to the webhook as Azure does, signed by the test tenant's key."""

    def __init__(self, client: APIClient, key: Any) -> None:
        self.client = client
        self.key = key

    def __call__(
        self,
        payload: dict | str | bytes,
        *,
        slug: str = "contoso",
        token: str | None = None,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
        **claims: Any,
    ) -> Any:
        if isinstance(payload, str) and payload.endswith(".json"):
            payload = load_fixture(payload)
        body = payload if isinstance(payload, bytes | str) else json.dumps(payload)
        token = token if token is not None else make_token(self.key, **claims)
        headers = dict(headers or {})
        if token:
            headers["HTTP_AUTHORIZATION"] = f"Bearer {token}"
        return self.client.generic(
            "POST",
            f"/api/integrations/azure-monitor/{slug}/",
            body,
            content_type=content_type,
            **headers,
        )


@pytest.fixture
def post_alert(api_client: APIClient, key_set: FakeKeySet, signing_key: Any) -> AlertPoster:
    return AlertPoster(api_client, signing_key)


def with_essentials(name: str, **changes: Any) -> dict[str, Any]:
    """A fixture payload with some essentials changed (a value of ... removes the field)."""
    payload = copy.deepcopy(load_fixture(name))
    for key, value in changes.items():
        if value is ...:
            payload["data"]["essentials"].pop(key, None)
        else:
            payload["data"]["essentials"][key] = value
    return payload
