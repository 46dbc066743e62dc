from typing import Any

import pytest
from django.contrib.auth import get_user_model

PROXY = "10.0.0.2"


def _sign_in(client: Any, password: str, *, address: str, username: str = "olga") -> Any:
    return client.post(
        "/admin/login/", {"username": username, "password": password}, REMOTE_ADDR=address
    )


def _sign_in_via_proxy(
    client: Any, password: str, *, client_ip: str, username: str = "olga"
) -> Any:
    return client.post(
        "/admin/login/",
        {"username": username, "password": password},
        REMOTE_ADDR=PROXY,
        HTTP_X_FORWARDED_FOR=client_ip,
    )


@pytest.mark.django_db
def test_console_sign_in_locks_out_after_repeated_failures(client: Any, settings: Any) -> None:
    get_user_model().objects.create_user("olga", password="right-password-123", is_staff=True)
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        response = _sign_in(client, "wrong", address="10.9.9.9")
        assert response.status_code == 200  # the form again, with an error
    locked = _sign_in(client, "wrong", address="10.9.9.9")
    assert locked.status_code == 429
    # Even the right password is refused from there during the cool-off...
    assert _sign_in(client, "right-password-123", address="10.9.9.9").status_code == 429
    # ...but not from another address.
    assert _sign_in(client, "right-password-123", address="10.1.1.1").status_code == 302


@pytest.mark.django_db
def test_console_lockout_behind_proxy_is_per_client_address(client: Any, settings: Any) -> None:
    settings.TRUSTED_PROXIES = ["10.0.0.0/24"]
    get_user_model().objects.create_user("olga", password="right-password-123", is_staff=True)
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _sign_in_via_proxy(client, "wrong", client_ip="203.0.113.66")
    assert _sign_in_via_proxy(client, "wrong", client_ip="203.0.113.66").status_code == 429
    # The operator, through the same proxy, still signs in.
    ok = _sign_in_via_proxy(client, "right-password-123", client_ip="198.51.100.10")
    assert ok.status_code == 302


@pytest.mark.django_db
def test_console_lockout_is_per_user_name_and_address(client: Any, settings: Any) -> None:
    settings.TRUSTED_PROXIES = ["10.0.0.0/24"]
    user_model = get_user_model()
    user_model.objects.create_user("olga", password="right-password-123", is_staff=True)
    user_model.objects.create_user("ivan", password="right-password-456", is_staff=True)
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _sign_in_via_proxy(client, "wrong", client_ip="203.0.113.66")
    # Another user from the same address is not locked: the pair is.
    other = _sign_in_via_proxy(
        client, "right-password-456", client_ip="203.0.113.66", username="ivan"
    )
    assert other.status_code == 302


@pytest.mark.django_db
def test_console_lockout_ignores_forwarded_header_from_untrusted_sender(
    client: Any, settings: Any
) -> None:
    settings.TRUSTED_PROXIES = []
    get_user_model().objects.create_user("olga", password="right-password-123", is_staff=True)
    # A client rotating X-Forwarded-For does not escape the lockout when no proxy is trusted.
    for n in range(settings.AXES_FAILURE_LIMIT):
        _sign_in_via_proxy(client, "wrong", client_ip=f"203.0.113.{n}")
    assert _sign_in_via_proxy(client, "wrong", client_ip="203.0.113.200").status_code == 429
