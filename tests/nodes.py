"""App nodes on loopback for tests/test_two_nodes.py: gunicorn, its worker, HAProxy, a JWKS.

Each node is what docs/operations.md installs on a host: `gunicorn itsm.wsgi` (production
settings, its own SPOOL_DIR) and `manage.py run_worker`, both in their own process group
so a test can kill a whole node at once. The proxy runs docs/examples/haproxy.cfg as
shipped, with the addresses in its environment. Clients can connect from any loopback
address (127.0.0.2, 127.0.0.3, ...) to play different client machines.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO, Any

from tests.helpers import ROOT

HAPROXY = "/usr/sbin/haproxy"
EXAMPLES = ROOT / "docs" / "examples"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Answer:
    """One HTTP answer: status, headers (lower-case names), body, and the node that sent it."""

    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def node(self) -> str:
        return self.headers.get("x-served-by", "")

    def json(self) -> Any:
        return json.loads(self.body or b"{}")


def request(
    base: str,
    method: str,
    path: str,
    *,
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    source: str = "127.0.0.1",
    timeout: float = 30.0,
) -> Answer:
    """Send one request to `base` ("http://127.0.0.1:PORT") from the loopback address `source`."""
    parts = urllib.parse.urlsplit(base)
    conn = http.client.HTTPConnection(
        parts.hostname or "127.0.0.1", parts.port, timeout=timeout, source_address=(source, 0)
    )
    try:
        conn.request(method, path, body=body, headers=dict(headers or {}))
        response = conn.getresponse()
        return Answer(
            response.status,
            {k.lower(): v for k, v in response.getheaders()},
            response.read(),
        )
    finally:
        conn.close()


def wait_for(check: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"timed out after {seconds:.0f}s waiting for {what}")


class JwksServer:
    """Serves one JWKS document on 127.0.0.1 from a daemon thread (the tenant's key set)."""

    def __init__(self, document: dict[str, Any]) -> None:
        payload = json.dumps(document).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.uri = f"http://127.0.0.1:{self.httpd.server_address[1]}/keys"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _start(args: list[str], *, env: Mapping[str, str], log: Path) -> tuple[subprocess.Popen, IO]:
    out = log.open("ab")
    # Its own session: the whole process group (master and workers) can be signalled.
    proc = subprocess.Popen(  # noqa: S603
        args, cwd=ROOT, env=dict(env), stdout=out, stderr=subprocess.STDOUT, start_new_session=True
    )
    return proc, out


def _stop(proc: subprocess.Popen | None, *, timeout: float = 40) -> None:
    if proc is None or proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    except ProcessLookupError:
        pass


@dataclass
class Node:
    """One app host: gunicorn (production settings) and its job worker, one database."""

    name: str
    env: dict[str, str]
    folder: Path
    workers: int = 2
    port: int = field(default_factory=free_port)
    web: subprocess.Popen | None = None
    worker: subprocess.Popen | None = None
    _logs: list[IO] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def web_log(self) -> Path:
        return self.folder / "gunicorn.log"

    @property
    def worker_log(self) -> Path:
        return self.folder / "worker.log"

    def start(self) -> None:
        env = {
            **self.env,
            "SPOOL_DIR": str(self.folder / "spool"),
            "GUNICORN_BIND": f"127.0.0.1:{self.port}",
            "WEB_CONCURRENCY": str(self.workers),
            "GUNICORN_THREADS": "4",
        }
        self.web, log = _start(
            [sys.executable, "-m", "gunicorn", "itsm.wsgi"], env=env, log=self.web_log
        )
        self._logs.append(log)
        self.worker, log = _start(
            [sys.executable, "manage.py", "run_worker"], env=env, log=self.worker_log
        )
        self._logs.append(log)

    def ready(self) -> bool:
        if self.web is not None and self.web.poll() is not None:
            raise AssertionError(f"{self.name}: gunicorn exited; see {self.web_log}")
        return (
            request(self.url, "GET", "/healthz", timeout=5).status == 200
            and request(self.url, "GET", "/readyz", timeout=5).status == 200
        )

    def kill(self) -> None:
        """SIGKILL this node's gunicorn, master and workers at once (a host that dies)."""
        assert self.web is not None
        os.killpg(self.web.pid, signal.SIGKILL)
        self.web.wait(timeout=10)

    def stop(self) -> None:
        _stop(self.web)
        _stop(self.worker)
        for log in self._logs:
            log.close()


@dataclass
class Proxy:
    """HAProxy in the foreground with docs/examples/haproxy.cfg, round robin over `nodes`."""

    nodes: list[Node]
    folder: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None
    _log: IO | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "ITSM_PROXY_BIND": f"127.0.0.1:{self.port}",
            "ITSM_ERRORS": str(EXAMPLES),
            **{f"ITSM_NODE{n}": f"127.0.0.1:{node.port}" for n, node in enumerate(self.nodes, 1)},
        }
        self.proc, self._log = _start(
            [HAPROXY, "-db", "-f", str(EXAMPLES / "haproxy.cfg")],
            env=env,
            log=self.folder / "haproxy.log",
        )

    def serves_all(self) -> bool:
        """True once consecutive requests have reached every node (health checks passed)."""
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(f"haproxy exited; see {self.folder / 'haproxy.log'}")
        seen = {request(self.url, "GET", "/healthz", timeout=5).node for _ in self.nodes}
        return seen == {node.name for node in self.nodes}

    def stop(self) -> None:
        _stop(self.proc, timeout=10)
        if self._log is not None:
            self._log.close()
