"""Server control: what the bench starts, stops and sets up around the load.

gunicorn (migrated first, stopped at the end), the JWKS endpoint the bench connection
validates against, that connection and the token signed for it, Django in this process (for
the setup and the in-process counts), and the PIDs of the database server.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from itsmbench import ROOT
from itsmbench.cpu import child_pids
from itsmbench.load import Client, Request

BENCH_SLUG = "bench"
BENCH_TENANT_ID = "5e1c7a0b-bbbb-4c3d-9e8f-00000000be4c"
BENCH_AUDIENCE = "api://itsm-bench"
TOKEN_LIFETIME = 3600


class JwksServer:
    """Serves one JWKS document on 127.0.0.1 (an ephemeral port) from a daemon thread."""

    def __init__(self, document: dict[str, Any]) -> None:
        body = json.dumps(document).encode()
        outer = self
        self.fetches = 0

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.fetches += 1
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/keys"

    def __enter__(self) -> JwksServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class Gunicorn:
    """`gunicorn itsm.wsgi --workers 2` on 127.0.0.1, started and stopped by the bench."""

    def __init__(
        self, *, port: int, workers: int, env: dict[str, str], log_path: Path, timeout: float
    ) -> None:
        self.port, self.workers, self.env, self.log_path = port, workers, env, log_path
        self.timeout = timeout
        self.proc: subprocess.Popen | None = None
        self.log = None

    def migrate(self) -> None:
        print("migrate ...", flush=True)
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
            cwd=ROOT,
            env=self.env,
            check=True,
            timeout=600,
        )

    def start(self) -> int:
        with socket.socket() as s:
            s.settimeout(1)
            if s.connect_ex(("127.0.0.1", self.port)) == 0:
                raise SystemExit(f"127.0.0.1:{self.port} is in use; pick another --url port.")
        self.log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "itsm.wsgi",
                "--workers",
                str(self.workers),
                "--bind",
                f"127.0.0.1:{self.port}",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(
                    f"gunicorn exited with {self.proc.returncode}; see {self.log_path}"
                )
            try:
                status, _ = Client("127.0.0.1", self.port, 2).send(
                    Request("GET", "/healthz", None, {})
                )
                if status == 200 and len(child_pids(self.proc.pid)) >= self.workers:
                    return self.proc.pid
            except OSError:
                pass
            time.sleep(0.2)
        raise SystemExit(f"gunicorn did not answer /healthz in {self.timeout:.0f}s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self.log is not None:
            self.log.close()


def django_setup() -> None:
    """Set up Django in this process (production settings module, quiet app log)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "itsm.settings")
    import warnings

    import django

    # WhiteNoise warns that collectstatic has not run; the bench serves no static files.
    warnings.filterwarnings("ignore", message="No directory at", category=UserWarning)

    django.setup()
    import logging

    # The app logs every accepted alert at INFO; in this process that is only noise.
    logging.getLogger("integrations").setLevel(logging.WARNING)


def bench_connection_ensure(jwks_uri: str) -> str:
    """Create or update the `bench` connection, trusting the key set at `jwks_uri`."""
    from django.db import DatabaseError

    from integrations.choices import AZURE_MONITOR_ACTION_GROUP_APP_ID, DEFAULT_REQUIRED_ROLE
    from integrations.services import connection_upsert

    try:
        _, action = connection_upsert(
            slug=BENCH_SLUG,
            values={
                "name": "Benchmark (bench/ingest.py)",
                "tenant_id": BENCH_TENANT_ID,
                "audiences": [BENCH_AUDIENCE],
                "allowed_app_ids": [AZURE_MONITOR_ACTION_GROUP_APP_ID],
                "required_role": DEFAULT_REQUIRED_ROLE,
                "jwks_uri": jwks_uri,
                "allowed_subscriptions": [],
                "enabled": True,
            },
        )
    except DatabaseError as exc:
        raise SystemExit(
            f"Cannot write the bench connection ({exc}); is the database migrated? "
            "(`manage.py migrate`, or use --start-gunicorn, which migrates)"
        ) from None
    return action


def parse_pids(value: str | None) -> list[int]:
    """The PIDs of --server-pids or --db-pids ("1,2")."""
    if not value:
        return []
    try:
        return [int(p) for p in value.split(",") if p.strip()]
    except ValueError:
        raise SystemExit(
            f"--server-pids/--db-pids take comma-separated PIDs, not {value!r}"
        ) from None


def postgres_pids(port: int | None) -> list[int]:
    """The postmaster listening on `port` (its backends are its children), if visible."""
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            args = Path(f"/proc/{entry.name}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if not args or not args[0].endswith(b"/postgres"):
            continue
        # Backends rewrite their command line ("postgres: ..."): only the postmaster matches.
        port_args = [args[i + 1] for i, a in enumerate(args[:-1]) if a == b"-p"]
        if port is None or (port_args and port_args[-1] == str(port).encode()):
            return [int(entry.name)]
    return []


def bench_token(key: Any, *, lifetime: int = TOKEN_LIFETIME) -> str:
    """An Authorization header value: a token signed with `key` as Entra ID signs them."""
    from integrations import devtokens

    claims = devtokens.entra_claims(
        tenant_id=BENCH_TENANT_ID, audience=BENCH_AUDIENCE, lifetime=lifetime
    )
    return "Bearer " + devtokens.sign(claims, key)
