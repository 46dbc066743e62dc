"""A token Azure reuses is verified once per process, and never trusted past its expiry."""

import time
from typing import Any

import pytest

from integrations import tokens
from integrations.models import Connection
from tests.helpers import STATIC, make_token, with_essentials


def _alert(n: int) -> dict:
    return with_essentials(STATIC, alertId=f"/subscriptions/s/alerts/{n}")


@pytest.fixture
def decode_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    real = tokens._decode

    def counting(connection: Connection, token: str) -> dict:
        calls.append(token)
        return real(connection, token)

    monkeypatch.setattr(tokens, "_decode", counting)
    return calls


@pytest.mark.django_db
def test_reused_token_is_verified_once(
    connection: Connection, post_alert: Any, signing_key: Any, decode_calls: list[str]
) -> None:
    token = make_token(signing_key)
    for n in range(3):
        assert post_alert(_alert(n), token=token).status_code == 201
    assert len(decode_calls) == 1


@pytest.mark.django_db
def test_cached_token_is_checked_again_when_the_connection_changes(
    connection: Connection, post_alert: Any, signing_key: Any, decode_calls: list[str]
) -> None:
    token = make_token(signing_key)
    assert post_alert(_alert(1), token=token).status_code == 201
    connection.audiences = ["api://someone-else"]
    connection.save()

    response = post_alert(_alert(2), token=token)

    assert response.status_code == 401
    assert len(decode_calls) == 2


@pytest.mark.django_db
def test_cached_token_is_refused_after_it_expires(
    connection: Connection, post_alert: Any, signing_key: Any, settings: Any
) -> None:
    settings.JWT_LEEWAY_SECONDS = 0
    now = int(time.time())
    token = make_token(signing_key, iat=now - 60, nbf=now - 60, exp=now + 1)
    assert post_alert(_alert(1), token=token).status_code == 201
    time.sleep(max(0.0, now + 1.2 - time.time()))

    response = post_alert(_alert(2), token=token)

    assert response.status_code == 401
    assert "expired" in response.json()["detail"]


@pytest.mark.django_db
def test_verified_token_cache_stays_bounded(
    connection: Connection, post_alert: Any, signing_key: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tokens, "MAX_VERIFIED_TOKENS", 3)
    for n in range(5):
        assert post_alert(_alert(n)).status_code == 201
    assert len(tokens._verified) <= 3
