from typing import Any

import pytest

from integrations import devtokens, ratelimit
from tests.helpers import STATIC, make_token, with_essentials


@pytest.fixture
def limit(settings: Any) -> int:
    settings.WEBHOOK_AUTH_FAILURES_PER_MINUTE = 3
    ratelimit.failures_clear()
    yield 3
    ratelimit.failures_clear()


@pytest.mark.django_db
def test_failed_authentications_are_limited_per_address(
    connection: Any, post_alert: Any, signing_key: Any, other_key: Any, limit: int
) -> None:
    forged = make_token(other_key, kid=devtokens.key_id(signing_key))
    statuses = [post_alert(STATIC, token=forged).status_code for _ in range(limit + 2)]
    assert statuses == [401] * limit + [429, 429]
    throttled = post_alert(STATIC, token=forged)
    assert int(throttled["Retry-After"]) > 0
    assert throttled.json()["code"] == "throttled"

    # A valid delivery from the same address is never held back.
    assert post_alert(STATIC).status_code == 201
    # Another address is not affected.
    post_alert.client.defaults["REMOTE_ADDR"] = "10.1.2.3"
    assert post_alert(STATIC, token=forged).status_code == 401


@pytest.mark.django_db
def test_missing_tokens_count_as_failures(connection: Any, post_alert: Any, limit: int) -> None:
    statuses = [
        post_alert(with_essentials(STATIC, alertId=f"/a/{n}"), token="").status_code
        for n in range(limit + 1)
    ]
    assert statuses[-1] == 429


def test_failure_limiter_forgets_old_failures_and_bounds_memory(
    limit: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [1000.0]
    monkeypatch.setattr(ratelimit.time, "monotonic", lambda: now[0])
    for _ in range(limit):
        assert ratelimit.failure_record("a") is None
    assert ratelimit.failure_record("a") is not None
    now[0] += 61
    assert ratelimit.failure_record("a") is None
    monkeypatch.setattr(ratelimit, "MAX_ADDRESSES", 5)
    for n in range(20):
        ratelimit.failure_record(f"addr-{n}")
    assert len(ratelimit._failures) <= 5


@pytest.mark.django_db
def test_failed_authentications_behind_proxy_are_counted_per_client(
    connection: Any, post_alert: Any, signing_key: Any, other_key: Any, limit: int, settings: Any
) -> None:
    settings.TRUSTED_PROXIES = ["10.0.0.0/24"]
    post_alert.client.defaults["REMOTE_ADDR"] = "10.0.0.2"
    forged = make_token(other_key, kid=devtokens.key_id(signing_key))
    scanner = {"HTTP_X_FORWARDED_FOR": "203.0.113.66"}
    statuses = [post_alert(STATIC, token=forged, headers=scanner).status_code for _ in range(4)]
    assert statuses == [401] * limit + [429]
    # Someone else behind the same proxy is not held back by the scanner.
    other = {"HTTP_X_FORWARDED_FOR": "198.51.100.10"}
    assert post_alert(STATIC, token=forged, headers=other).status_code == 401


@pytest.mark.django_db
def test_unknown_slugs_count_as_failures(connection: Any, post_alert: Any, limit: int) -> None:
    statuses = [post_alert(STATIC, slug=f"guess-{n}").status_code for n in range(limit + 1)]
    assert statuses == [404] * limit + [429]
    assert post_alert(STATIC).status_code == 201  # valid deliveries are never limited


@pytest.mark.django_db
def test_made_up_kids_count_as_failures(
    connection: Any, post_alert: Any, signing_key: Any, limit: int
) -> None:
    statuses = [
        post_alert(STATIC, token=make_token(signing_key, kid=f"made-up-{n}")).status_code
        for n in range(limit + 1)
    ]
    # A refetch for the first unknown kids, then "retry later" within the cooldown...
    assert statuses[:limit] == [401, 401, 503]
    assert statuses[-1] == 429  # ...and a scanner is told to back off like any other
