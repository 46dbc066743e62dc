"""Shared fixtures: a test signing key standing in for Entra ID, connections, a webhook poster.

Helpers and constants live in tests/helpers.py; this file holds only fixtures.
"""

import socket
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from incidents import sla
from integrations import devtokens, jwks, routing, spool, tokens
from integrations.correlation import rules_cache_clear
from integrations.maintenance import windows_cache_clear
from integrations.models import Connection
from tests.helpers import AUDIENCE, CLIENT_ID, TENANT_ID, TEST_JWKS_URI, AlertPoster, FakeKeySet


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


@pytest.fixture(autouse=True)
def _no_spool_drainer_outlives_its_test() -> Iterator[None]:
    """A drainer left running would drain the next test's spool through its own connection."""
    yield
    spool.stop_drainer()


@pytest.fixture(autouse=True)
def _maintenance_windows_uncached() -> Iterator[None]:
    """Each test reads maintenance windows afresh (a rolled-back test sends no signal)."""
    windows_cache_clear()
    yield
    windows_cache_clear()


@pytest.fixture(autouse=True)
def _correlation_rules_uncached() -> Iterator[None]:
    """Each test reads correlation rules afresh (a rolled-back test sends no signal)."""
    rules_cache_clear()
    yield
    rules_cache_clear()


@pytest.fixture(autouse=True)
def _routing_and_sla_uncached() -> Iterator[None]:
    """Each test reads assignment rules and SLA targets afresh (a rollback sends no signal)."""
    routing.rules_cache_clear()
    sla.targets_cache_clear()
    yield
    routing.rules_cache_clear()
    sla.targets_cache_clear()


@pytest.fixture(autouse=True)
def _process_cache_cleared() -> Iterator[None]:
    """The process-wide cache (API throttles, the incident list's filter values) starts empty."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(scope="session")
def signing_key() -> Any:
    return devtokens.generate_key()


@pytest.fixture(scope="session")
def other_key() -> Any:
    return devtokens.generate_key()


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


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def post_alert(api_client: APIClient, key_set: FakeKeySet, signing_key: Any) -> AlertPoster:
    return AlertPoster(api_client, signing_key)
