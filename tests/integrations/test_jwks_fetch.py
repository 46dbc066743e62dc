"""Fetching a key set: no redirects, one deadline for the whole fetch, a size cap.

Against a loopback HTTP server that misbehaves the way a hostile or broken key endpoint
could.
"""

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from integrations import devtokens, jwks


class _KeyEndpoint(BaseHTTPRequestHandler):
    document = b""

    def do_GET(self) -> None:
        if self.path == "/keys":
            self._send(200, self.document)
        elif self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "/keys")
            self.end_headers()
        elif self.path == "/huge":
            self._send(200, b'{"keys": [' + b" " * (jwks.MAX_JWKS_BYTES + 10) + b"]}")
        elif self.path == "/huge-undeclared":
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b'{"keys": [' + b" " * (jwks.MAX_JWKS_BYTES + 10) + b"]}")
        elif self.path == "/trickle":
            self.send_response(200)
            self.send_header("Content-Length", str(len(self.document)))
            self.end_headers()
            for byte in self.document[:50]:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(0.2)
        elif self.path == "/silent":
            time.sleep(5)
        else:
            self._send(404, b"{}")

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        with contextlib.suppress(OSError):  # the client gave up, as it should
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def endpoint(signing_key: Any) -> Iterator[str]:
    _KeyEndpoint.document = json.dumps(devtokens.jwks_document(signing_key)).encode()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _KeyEndpoint)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_fetch_jwks_reads_a_key_set(endpoint: str, signing_key: Any) -> None:
    document = jwks.fetch_jwks(f"{endpoint}/keys", timeout=2)
    assert document["keys"][0]["kid"] == devtokens.key_id(signing_key)


def test_fetch_jwks_refuses_redirects(endpoint: str) -> None:
    with pytest.raises(ValueError, match="302"):
        jwks.fetch_jwks(f"{endpoint}/redirect", timeout=2)


@pytest.mark.parametrize("path", ["/huge", "/huge-undeclared"])
def test_fetch_jwks_refuses_huge_bodies(endpoint: str, path: str) -> None:
    with pytest.raises(ValueError, match="larger than"):
        jwks.fetch_jwks(f"{endpoint}{path}", timeout=2)


@pytest.mark.parametrize("path", ["/trickle", "/silent"])
def test_fetch_jwks_gives_up_at_one_deadline(endpoint: str, path: str) -> None:
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        jwks.fetch_jwks(f"{endpoint}{path}", timeout=1)
    assert time.monotonic() - started < 1.5  # not one timeout per byte


def test_fetch_jwks_refuses_plain_http_off_loopback() -> None:
    with pytest.raises(ValueError, match="https"):
        jwks.fetch_jwks("http://login.example.test/keys", timeout=1)


def test_slow_key_endpoint_holds_a_request_no_longer_than_the_deadline(
    endpoint: str, settings: Any
) -> None:
    settings.JWKS_FETCH_TIMEOUT_SECONDS = 1
    jwks.clear_cache()
    started = time.monotonic()
    with pytest.raises(jwks.KeySetUnavailable):
        jwks.get_signing_key(f"{endpoint}/trickle", "any")
    assert time.monotonic() - started < 1.5
    jwks.clear_cache()
