"""The client's address through trusted reverse proxies (core.clientaddr)."""

from typing import Any

import pytest
from django.test import RequestFactory

from core.clientaddr import client_address


def _request(remote: str, forwarded: str | None = None) -> Any:
    extra = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **extra)


@pytest.mark.parametrize(
    ("trusted", "remote", "forwarded", "expected"),
    [
        # No trusted proxies: the header is ignored, whoever sends it.
        ([], "10.0.0.5", "203.0.113.7", "10.0.0.5"),
        # A trusted proxy: the address it received the request from.
        (["10.0.0.0/24"], "10.0.0.5", "203.0.113.7", "203.0.113.7"),
        # The client's own entries (left of the proxy's) are never believed.
        (["10.0.0.0/24"], "10.0.0.5", "1.1.1.1, 203.0.113.7", "203.0.113.7"),
        # Two proxies in a row, both trusted.
        (
            ["10.0.0.0/24", "192.0.2.9"],
            "10.0.0.5",
            "9.9.9.9, 203.0.113.7, 192.0.2.9",
            "203.0.113.7",
        ),
        # An untrusted sender's header is ignored.
        (["10.0.0.0/24"], "198.51.100.1", "203.0.113.7", "198.51.100.1"),
        # A trusted proxy without the header, or with garbage in it.
        (["10.0.0.0/24"], "10.0.0.5", None, "10.0.0.5"),
        (["10.0.0.0/24"], "10.0.0.5", "not-an-address", "10.0.0.5"),
        # Every hop is ours: the left-most.
        (["10.0.0.0/24"], "10.0.0.5", "10.0.0.7, 10.0.0.6", "10.0.0.7"),
        # IPv6.
        (["2001:db8::/32"], "2001:db8::1", "2001:db8::2, 2a00:1450::1", "2a00:1450::1"),
    ],
)
def test_client_address_believes_only_trusted_proxies(
    settings: Any, trusted: list[str], remote: str, forwarded: str | None, expected: str
) -> None:
    settings.TRUSTED_PROXIES = trusted
    assert client_address(_request(remote, forwarded)) == expected


def test_settings_refuse_a_bad_trusted_proxy() -> None:
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-c", "import itsm.settings"],
        env={
            "TRUSTED_PROXIES": "10.0.0.0/33",
            "DJANGO_SECRET_KEY": "x" * 50,
            "ITSM_DOTENV_PATH": "",  # never the developer's `.env`
        },
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "TRUSTED_PROXIES" in result.stderr
