"""What reaches gunicorn itself: enormous headers, truncated, oversized and slow bodies.

A real `gunicorn itsm.wsgi` with the project's gunicorn.conf.py (as in production:
configured through its environment only) on a free loopback port, on its own SQLite
database, with a key set served from this process. Each case must get a clear 4xx,
fast, and slow strangers must not keep valid deliveries from being answered.
"""

import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from integrations import devtokens
from tests.helpers import AUDIENCE, FIXTURES, ROOT, TENANT_ID, make_token

pytestmark = pytest.mark.live

BODY = (FIXTURES / "azure/platform-metric-static-threshold-fired.json").read_bytes()
WORKERS = 2


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _KeySet(BaseHTTPRequestHandler):
    document = b""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(self.document)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, signing_key: Any) -> Iterator[int]:
    _KeySet.document = json.dumps(devtokens.jwks_document(signing_key)).encode()
    keys = ThreadingHTTPServer(("127.0.0.1", 0), _KeySet)
    threading.Thread(target=keys.serve_forever, daemon=True).start()
    folder = tmp_path_factory.mktemp("gunicorn")
    port = _free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "itsm.settings",
        "DATABASE_URL": f"sqlite:///{folder / 'db.sqlite3'}",
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": "transport-test-" + "s" * 40,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "WEBHOOK_MAX_BODY_BYTES": "65536",
        "WEBHOOK_BODY_TIMEOUT_SECONDS": "1",
        "SPOOL_DIR": str(folder / "spool"),
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": str(WORKERS),
        "GUNICORN_THREADS": "4",
        "TRUSTED_PROXIES": "",
    }
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "-v", "0"], env=env, check=True, cwd=ROOT)  # noqa: S603
    connection = {
        "slug": "contoso",
        "tenant_id": TENANT_ID,
        "audiences": [AUDIENCE],
        "jwks_uri": f"http://127.0.0.1:{keys.server_address[1]}/keys",
    }
    subprocess.run(  # noqa: S603
        [*manage, "seed_connections", "-"],
        input=json.dumps([connection]).encode(),
        env=env,
        check=True,
        cwd=ROOT,
        capture_output=True,
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "itsm.wsgi"],  # the documented command, alone
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                time.sleep(0.2)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        keys.shutdown()
        keys.server_close()


def _exchange(port: int, raw: bytes, *, close_write: bool = False) -> tuple[int, bytes, float]:
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=15) as s:
        s.sendall(raw)
        if close_write:
            s.shutdown(socket.SHUT_WR)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/") else 0
    return status, data.split(b"\r\n\r\n", 1)[-1], time.monotonic() - started


def _request(token: str, body: bytes, length: int | None = None, extra: bytes = b"") -> bytes:
    return (
        b"POST /api/integrations/azure-monitor/contoso/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/json\r\nConnection: close\r\n"
        + f"Authorization: Bearer {token}\r\nContent-Length: {length or len(body)}\r\n".encode()
        + extra
        + b"\r\n"
        + body
    )


def test_gunicorn_serves_a_signed_alert(server: int, signing_key: Any) -> None:
    status, body, _ = _exchange(server, _request(make_token(signing_key), BODY))
    assert status == 201, body


def test_enormous_headers_get_a_4xx_fast(server: int, signing_key: Any) -> None:
    huge = b"X-Padding: " + b"a" * 200_000 + b"\r\n"
    status, _, took = _exchange(server, _request(make_token(signing_key), BODY, extra=huge))
    assert 400 <= status < 500
    assert took < 5


def test_truncated_body_gets_a_400(server: int, signing_key: Any) -> None:
    status, body, took = _exchange(
        server, _request(make_token(signing_key), BODY[:200], length=len(BODY)), close_write=True
    )
    assert status == 400, body
    assert json.loads(body)["code"] == "invalid_json"
    assert took < 5


def test_oversized_body_is_refused_before_it_is_read(server: int, signing_key: Any) -> None:
    status, body, took = _exchange(
        server, _request(make_token(signing_key), b"{", length=50_000_000), close_write=True
    )
    assert status == 413, body
    assert took < 5


def test_slow_body_gets_a_408(server: int, signing_key: Any) -> None:
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", server), timeout=15) as s:
        s.sendall(_request(make_token(signing_key), BODY[:100], length=len(BODY)))
        # ... and then nothing more, as a slow or stalled client would.
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    assert data.startswith(b"HTTP/1.1 408"), data[:200]
    assert json.loads(data.split(b"\r\n\r\n", 1)[1])["code"] == "request_timeout"
    assert time.monotonic() - started < 10


def _alert(n: int | str) -> bytes:
    payload = json.loads(BODY)
    payload["data"]["essentials"]["alertId"] += f"-transport-{n}"
    return json.dumps(payload).encode()


def _trickle(port: int, head: bytes, stop: threading.Event, every: float) -> None:
    """A client that sends its headers, then one byte of body every `every` seconds."""
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(head)
        for byte in BODY:
            if stop.wait(every):
                return
            s.sendall(bytes([byte]))


def test_gunicorn_trickled_body_gets_a_408_at_one_deadline(server: int, signing_key: Any) -> None:
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", server), timeout=15) as s:
        s.sendall(_request(make_token(signing_key), b"", length=len(BODY)))
        data = b""
        s.settimeout(0.3)
        for byte in BODY:  # a byte every 0.3 s: never silent as long as a per-read timeout
            with contextlib.suppress(TimeoutError):
                data += s.recv(65536)
            if data or time.monotonic() - started > 10:
                break
            s.sendall(bytes([byte]))
    assert data.startswith(b"HTTP/1.1 408"), data[:200]
    assert time.monotonic() - started < 3  # WEBHOOK_BODY_TIMEOUT_SECONDS is 1


@pytest.mark.parametrize("token", ["", "not-a-jwt"], ids=["no-token", "bad-token"])
def test_gunicorn_slow_strangers_do_not_stop_valid_deliveries(
    server: int, signing_key: Any, token: str
) -> None:
    stop = threading.Event()
    head = _request(token, b"", length=len(BODY)).replace(b"Connection: close\r\n", b"")
    strangers = [
        threading.Thread(target=_trickle, args=(server, head, stop, 2.0), daemon=True)
        for _ in range(WORKERS)
    ]
    try:
        for stranger in strangers:
            stranger.start()
        time.sleep(0.5)  # they are connected and being served
        for n in range(3):
            alert = _alert(f"{token or 'none'}-{n}")
            status, body, took = _exchange(server, _request(make_token(signing_key), alert))
            assert status == 201, body
            assert took < 2
    finally:
        stop.set()
        for stranger in strangers:
            stranger.join(5)


def test_gunicorn_closes_a_refused_strangers_connection_instead_of_draining_it(
    server: int,
) -> None:
    # gunicorn drains an unread body before reusing a connection, a read at a time: a
    # stranger trickling bytes after its 401 would hold a worker thread for minutes.
    with socket.create_connection(("127.0.0.1", server), timeout=5) as s:
        s.sendall(_request("", b"", length=len(BODY)).replace(b"Connection: close\r\n", b""))
        data = s.recv(65536)
        assert data.startswith(b"HTTP/1.1 401"), data[:200]
        started = time.monotonic()
        closed = False
        with contextlib.suppress(OSError):
            for byte in BODY[:20]:
                s.sendall(bytes([byte]))
                s.settimeout(0.5)
                with contextlib.suppress(TimeoutError):
                    if s.recv(65536) == b"":
                        closed = True
                        break
    assert closed or time.monotonic() - started < 3, "the refused connection stayed open"


def test_gunicorn_stranger_is_answered_without_its_body(server: int) -> None:
    with socket.create_connection(("127.0.0.1", server), timeout=5) as s:
        s.sendall(_request("", b"", length=len(BODY)))  # and no body at all
        data = s.recv(65536)
    assert data.startswith(b"HTTP/1.1 401"), data[:200]


def test_gunicorn_webhook_url_without_slash_is_not_redirected(
    server: int, signing_key: Any
) -> None:
    raw = _request(make_token(signing_key), _alert(99)).replace(b"/contoso/ ", b"/contoso ")
    status, body, _ = _exchange(server, raw)
    assert status == 201, body
