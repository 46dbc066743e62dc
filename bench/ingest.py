"""Benchmark the Secure Webhook ingest against a running server (see bench/README.md).

Sends N signed alerts at concurrency C to `POST /api/integrations/azure-monitor/bench/` and
prints alerts/s, p50/p99 latency and server CPU per request for new and for repeated alerts,
next to the same figures for `GET /healthz` (the web stack's ceiling), measured in the same
run. SQL queries per new and per repeated alert are counted in this process through
`django.test.Client` on the same database. Then the budget, line by line, PASS or FAIL.

The bench signs tokens like Entra ID (integrations.devtokens) with a key it generates, and
serves that key's JWKS itself on 127.0.0.1; the `bench` connection points there. Traffic
goes to loopback only. Every loop is bounded by a count and by an overall deadline.

    .venv/bin/python bench/ingest.py --start-gunicorn -n 2000 -c 4
    .venv/bin/python bench/ingest.py --url http://127.0.0.1:8001 --server-pids 1234
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import math
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

BENCH_SLUG = "bench"
BENCH_TENANT_ID = "5e1c7a0b-bbbb-4c3d-9e8f-00000000be4c"
BENCH_AUDIENCE = "api://itsm-bench"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
TOKEN_LIFETIME = 3600
MAX_SECONDS_CAP = 3000  # the one token is valid for an hour; stay well inside it

# The budget (issue text): PostgreSQL behind gunicorn, 2 sync workers, on a 2-core machine.
BUDGET_INGEST_RATIO = 0.4  # new-alert throughput / healthz throughput, at least
BUDGET_CPU_MS_PER_NEW = 2.5  # server CPU (gunicorn master + workers) per new alert, at most
BUDGET_QUERIES_PER_REPEAT = 4  # at most
QUERY_TARGET_COUNTS = (1, 20)  # "constant in the number of targets": compared between these


# --- /proc sampling -------------------------------------------------------------------------

CLK_TCK = os.sysconf("SC_CLK_TCK")


def _proc_stat(pid: int) -> tuple[int, int] | None:
    """(ppid, utime+stime+cutime+cstime in ticks) of a live process, or None."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # comm (field 2) may hold spaces and parentheses: split after its closing one.
    fields = raw[raw.rindex(")") + 2 :].split()
    ppid = int(fields[1])
    ticks = sum(int(v) for v in fields[11:15])  # utime, stime, cutime, cstime
    return ppid, ticks


def tree_cpu_seconds(roots: list[int]) -> float:
    """CPU time of `roots` and all their live descendants (a gunicorn master + workers).

    Each live process counts its own time plus that of its reaped children, so a worker
    that exits moves into its parent's total and is never counted twice.
    """
    stats: dict[int, tuple[int, int]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            st = _proc_stat(int(entry.name))
            if st is not None:
                stats[int(entry.name)] = st
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in stats.items():
        children.setdefault(ppid, []).append(pid)
    seen: set[int] = set()
    todo = [p for p in roots if p in stats]
    total = 0
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        total += stats[pid][1]
        todo.extend(children.get(pid, ()))
    return total / CLK_TCK


def machine_cpu_ticks() -> tuple[int, int]:
    """(busy, total) ticks of all CPUs since boot, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    total = sum(values[:8])  # guest time is already inside user/nice
    return total - idle, total


def self_cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system


# --- the JWKS endpoint the bench connection validates against --------------------------------


class JwksServer:
    """Serves one JWKS document on 127.0.0.1 (an ephemeral port) from a daemon thread."""

    def __init__(self, document: dict[str, Any], port: int = 0) -> None:
        body = json.dumps(document).encode()
        outer = self
        self.fetches = 0

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                outer.fetches += 1
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
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


# --- HTTP load ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    path: str
    body: bytes | None
    headers: dict[str, str]


class Client:
    """One HTTP/1.1 connection, reused while the server keeps it open, reopened otherwise.

    gunicorn's sync workers close the connection after every response, so against them
    every request pays a TCP connect: the same for every phase.
    """

    def __init__(self, host: str, port: int, timeout: float) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self.conn: http.client.HTTPConnection | None = None

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def send(self, req: Request) -> tuple[int, bytes]:
        for attempt in (1, 2):
            reused = self.conn is not None
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            try:
                self.conn.request(req.method, req.path, body=req.body, headers=req.headers)
                resp = self.conn.getresponse()
                data = resp.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self.close()
                if reused and attempt == 1:
                    continue  # the server closed an idle kept-alive connection: reconnect once
                raise
            except Exception:
                self.close()
                raise
            if resp.will_close:
                self.close()
            return resp.status, data
        raise AssertionError("unreachable")


@dataclass
class PhaseResult:
    name: str
    expected_status: int
    requests: int = 0
    sent: int = 0
    elapsed_s: float = 0.0
    statuses: Counter = field(default_factory=Counter)  # HTTP status (or exception name)
    latencies_ms: list[float] = field(default_factory=list)
    server_cpu_s: float | None = None
    db_cpu_s: float | None = None
    client_cpu_s: float = 0.0
    machine_busy: float | None = None  # fraction of all CPUs busy during the phase
    machine_busy_s: float | None = None  # CPU seconds busy, all processes
    sample_error: str = ""

    @property
    def errors(self) -> dict[str, int]:
        """Non-2xx answers and failed requests, by status (or exception)."""
        out = {str(k): v for k, v in self.statuses.items() if not (200 <= _int(k) < 300)}
        if self.sent < self.requests:
            out["not sent (deadline)"] = self.requests - self.sent
        return out

    @property
    def unexpected(self) -> dict[str, int]:
        """2xx answers other than the expected one (e.g. 200 for an alert meant to be new)."""
        return {
            str(k): v
            for k, v in self.statuses.items()
            if 200 <= _int(k) < 300 and _int(k) != self.expected_status
        }

    @property
    def ok(self) -> int:
        return self.statuses.get(self.expected_status, 0)

    @property
    def rate(self) -> float:
        return self.sent / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def percentile(self, q: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        return ordered[max(0, math.ceil(q * len(ordered)) - 1)]  # nearest rank

    @property
    def other_cpu_s(self) -> float | None:
        """Busy CPU time not spent in the server, the database or this process."""
        if self.machine_busy_s is None or self.server_cpu_s is None:
            return None
        return max(
            0.0, self.machine_busy_s - self.server_cpu_s - (self.db_cpu_s or 0) - self.client_cpu_s
        )

    def per_request_ms(self, seconds: float | None) -> float | None:
        if seconds is None or not self.sent:
            return None
        return seconds * 1000 / self.sent

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "requests": self.requests,
            "sent": self.sent,
            "expected_status": self.expected_status,
            "statuses": {str(k): v for k, v in self.statuses.items()},
            "errors": self.errors,
            "unexpected": self.unexpected,
            "elapsed_s": round(self.elapsed_s, 4),
            "requests_per_s": round(self.rate, 2),
            "p50_ms": round(self.percentile(0.50), 3),
            "p99_ms": round(self.percentile(0.99), 3),
            "max_ms": round(max(self.latencies_ms), 3) if self.latencies_ms else None,
            "server_cpu_ms_per_request": _round(self.per_request_ms(self.server_cpu_s)),
            "db_cpu_ms_per_request": _round(self.per_request_ms(self.db_cpu_s)),
            "client_cpu_ms_per_request": _round(self.per_request_ms(self.client_cpu_s)),
            "machine_cpu_busy": _round(self.machine_busy),
            "other_cpu_ms_per_request": _round(self.per_request_ms(self.other_cpu_s)),
            "sample_error": self.sample_error,
        }


def _int(value: Any) -> int:
    return value if isinstance(value, int) else -1


def _round(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


def run_phase(
    name: str,
    requests: list[Request],
    *,
    expected_status: int,
    host: str,
    port: int,
    concurrency: int,
    timeout: float,
    deadline: float,
    server_pids: list[int],
    db_pids: list[int],
) -> PhaseResult:
    """Send `requests` from `concurrency` threads, each with its own connection."""
    result = PhaseResult(name=name, expected_status=expected_status, requests=len(requests))
    lock = threading.Lock()
    next_index = iter(range(len(requests)))
    stop = threading.Event()

    def worker() -> None:
        client = Client(host, port, timeout)
        try:
            while not stop.is_set() and time.monotonic() < deadline:
                with lock:
                    i = next(next_index, None)
                if i is None:
                    return
                t0 = time.perf_counter()
                try:
                    status, body = client.send(requests[i])
                except (OSError, http.client.HTTPException) as exc:
                    status, body = type(exc).__name__, b""
                ms = (time.perf_counter() - t0) * 1000
                with lock:
                    result.sent += 1
                    result.statuses[status] += 1
                    result.latencies_ms.append(ms)
                    if status != expected_status and not result.sample_error:
                        result.sample_error = f"{status}: {body[:300].decode(errors='replace')}"
        finally:
            client.close()

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    server0 = tree_cpu_seconds(server_pids) if server_pids else None
    db0 = tree_cpu_seconds(db_pids) if db_pids else None
    busy0, total0 = machine_cpu_ticks()
    client0 = self_cpu_seconds()
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()) + timeout + 1)
    stop.set()
    result.elapsed_s = time.perf_counter() - t0
    result.client_cpu_s = self_cpu_seconds() - client0
    busy1, total1 = machine_cpu_ticks()
    result.machine_busy = (busy1 - busy0) / (total1 - total0) if total1 > total0 else None
    result.machine_busy_s = (busy1 - busy0) / CLK_TCK
    if server0 is not None:
        result.server_cpu_s = tree_cpu_seconds(server_pids) - server0
    if db0 is not None:
        result.db_cpu_s = tree_cpu_seconds(db_pids) - db0
    return result


# --- payloads -------------------------------------------------------------------------------


def sample_names_for(spec: str) -> list[str]:
    from integrations.demo import sample_names

    available = sample_names()
    if spec == "all":
        return available
    names = [s.strip() for s in spec.split(",") if s.strip()]
    unknown = [n for n in names if n not in available]
    if unknown or not names:
        raise SystemExit(f"Unknown sample(s) {unknown}; choose from: {', '.join(available)}.")
    return names


def target_ids(subscription: str, first: int, count: int, pool: int, prefix: str) -> list[str]:
    """`count` storage accounts of a pool of `pool` (pool 0: never reused)."""
    numbers = [first + j for j in range(count)]
    if pool > 0:
        numbers = [n % pool for n in numbers]
    return [
        f"/subscriptions/{subscription}/resourceGroups/bench-rg/providers/"
        f"Microsoft.Storage/storageAccounts/{prefix}{n:06d}"
        for n in numbers
    ]


def new_alert_body(
    sample: str, *, targets: int, first_target: int, pool: int, prefix: str
) -> bytes:
    """A fired alert with a fresh alertId; with `targets` > 0, that many pool resources."""
    from integrations.demo import fired_payload

    payload = fired_payload(sample)
    essentials = payload["data"]["essentials"]
    if targets > 0:
        subscription = essentials["alertId"].split("/")[2]
        ids = target_ids(subscription, first_target, targets, pool, prefix)
        essentials["alertTargetIDs"] = ids
        essentials["configurationItems"] = [i.rsplit("/", 1)[1] for i in ids]
    return json.dumps(payload).encode()


# --- in-process SQL query counts ------------------------------------------------------------


def _kind(sql: str) -> str:
    return sql.split(None, 1)[0].upper() if sql.strip() else "?"


def count_queries(token: str) -> dict[str, Any]:
    """Count the SQL of single webhook requests in this process (django.test.Client).

    Each request is preceded by what the WSGI handler does at request start
    (close_old_connections), so PostgreSQL's connection health check is counted too, as
    "health checks" (psycopg runs it directly, so Django's query log never shows it).
    """
    from django.db import close_old_connections, connection, connections
    from django.test import Client as DjangoClient
    from django.test.utils import CaptureQueriesContext, override_settings

    from integrations.models import Connection

    path = Connection(slug=BENCH_SLUG).webhook_path
    client = DjangoClient()
    wrapper = connections["default"]
    real = wrapper.is_usable
    checks = {"n": 0}

    def counting_is_usable() -> bool:
        checks["n"] += 1
        return real()

    def post(body: bytes) -> tuple[int, str, dict[str, Any]]:
        close_old_connections()
        checks["n"] = 0
        with CaptureQueriesContext(connection) as ctx:
            resp = client.post(
                path, data=body, content_type="application/json", HTTP_AUTHORIZATION=token
            )
        sqls = [q["sql"] for q in ctx.captured_queries]
        try:
            answer = json.loads(resp.content)
        except ValueError:
            answer = {"raw": resp.content[:300].decode(errors="replace")}
        return (
            resp.status_code,
            answer.get("status", answer.get("detail", "")),
            {
                "queries": len(sqls),
                "by_kind": dict(Counter(_kind(s) for s in sqls)),
                "health_checks": checks["n"],
                "sql": [s[:300] for s in sqls],
            },
        )

    nonce = secrets.token_hex(3)  # fresh resources: the first alerts create their CIs

    def body(targets: int, tag: str) -> bytes:
        return new_alert_body(
            "metric", targets=targets, first_target=0, pool=0, prefix=f"bq{nonce}{tag}"
        )

    warm = body(1, "w")  # warms this process (JWKS fetch, connection): not counted
    cases: list[tuple[str, int, bytes]] = [
        (f"new, {n} target{'s' if n > 1 else ''}", 201, body(n, f"t{n}"))
        for n in QUERY_TARGET_COUNTS
    ]
    most = max(QUERY_TARGET_COUNTS)
    # The same targets again (CIs exist: the upsert's update path), then a repeat.
    cases.append((f"new, {most} known targets", 201, body(most, f"t{most}")))
    cases.append(("repeat", 200, cases[0][2]))
    results: dict[str, Any] = {"vendor": connection.vendor, "cases": {}}
    with override_settings(ALLOWED_HOSTS=["testserver", "127.0.0.1"]):
        wrapper.is_usable = counting_is_usable
        try:
            status, outcome, _ = post(warm)
            if status != 201:
                raise SystemExit(f"In-process warm-up alert answered {status} {outcome!r}.")
            for label, expected, body in cases:
                status, outcome, counts = post(body)
                counts.update(status=status, outcome=outcome, expected_status=expected)
                results["cases"][label] = counts
        finally:
            del wrapper.is_usable
    new_counts = {
        label: c["queries"] for label, c in results["cases"].items() if label.startswith("new")
    }
    results["new_constant_in_targets"] = len(set(new_counts.values())) == 1
    results["all_statuses_as_expected"] = all(
        c["status"] == c["expected_status"] for c in results["cases"].values()
    )
    return results


# --- in-process profile ---------------------------------------------------------------------

# Where a webhook request spends its time: (label, file suffix, function), nested by indent.
PROFILE_STAGES = (
    ("whole request (WSGI handler)", "django/core/handlers/wsgi.py", "__call__"),
    (
        "  connection lookup (Connection by slug)",
        "integrations/selectors.py",
        "connection_get_for_webhook",
    ),
    ("  token validation (PyJWT, RS256)", "integrations/tokens.py", "validate_token"),
    ("  body parsing", "integrations/parsing.py", "parse_alert"),
    ("  alert_ingest", "integrations/services.py", "alert_ingest"),
    ("    _alert_locked (SELECT .. FOR UPDATE)", "integrations/services.py", "_alert_locked"),
    ("    _alert_create", "integrations/services.py", "_alert_create"),
    ("      ci_upsert_for_resources", "cmdb/services.py", "ci_upsert_for_resources"),
    ("      incident_open", "incidents/services.py", "incident_open"),
    ("    COMMIT", "django/db/backends/base/base.py", "commit"),
    ("  response rendering (DRF)", "rest_framework/response.py", "rendered_content"),
)


def _wsgi_environ(req: Request) -> dict[str, Any]:
    import io

    body = req.body or b""
    environ = {
        "REQUEST_METHOD": req.method,
        "PATH_INFO": req.path,
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8001",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "CONTENT_LENGTH": str(len(body)),
    }
    for name, value in req.headers.items():
        key = name.upper().replace("-", "_")
        environ[key if key == "CONTENT_TYPE" else f"HTTP_{key}"] = value
    return environ


def profile_in_process(
    token: str, *, count: int, deadline: float, out: str | None, top: int
) -> dict[str, Any]:
    """Call the WSGI application in this process, as a gunicorn worker does, and profile it.

    For new alerts then repeats: `count` requests unprofiled (CPU ms per request without
    profiler overhead), then `count` more under cProfile (CPU clock), broken down by stage.
    """
    import cProfile
    import pstats

    from django.core.handlers.wsgi import WSGIHandler
    from django.test.utils import override_settings

    from integrations.models import Connection

    app = WSGIHandler()
    path = Connection(slug=BENCH_SLUG).webhook_path
    headers = {"Authorization": token, "Content-Type": "application/json"}

    def bodies(first: int) -> list[Request]:
        return [
            Request(
                "POST",
                path,
                new_alert_body(
                    "metric", targets=1, first_target=first + i, pool=500, prefix="benchsa"
                ),
                headers,
            )
            for i in range(count)
        ]

    def call(req: Request) -> int:
        statuses = []
        response = app(_wsgi_environ(req), lambda status, *_: statuses.append(status))
        try:
            b"".join(response)
        finally:
            response.close()
        return int(statuses[0].split()[0])

    def run(reqs: list[Request], expected: int) -> tuple[float, Counter]:
        statuses: Counter = Counter()
        c0 = time.process_time()
        done = 0
        for req in reqs:
            if time.monotonic() > deadline:
                break
            statuses[call(req)] += 1
            done += 1
        cpu_ms = (time.process_time() - c0) * 1000 / max(done, 1)
        if set(statuses) != {expected}:
            print(f"  profile: unexpected statuses {dict(statuses)}")
        return cpu_ms, statuses

    out_stats: dict[str, Any] = {"count": count, "kinds": {}}
    print(f"in-process profile: {count} new + {count} repeated alerts, twice ...", flush=True)
    with override_settings(ALLOWED_HOSTS=["127.0.0.1", "testserver"]):
        plain_new, profiled_new = bodies(0), bodies(count)
        for kind, first_pass, second_pass, expected in (
            ("new", plain_new, profiled_new, 201),
            ("repeat", plain_new, profiled_new, 200),
        ):
            cpu_ms, _ = run(first_pass, expected)
            profiler = cProfile.Profile(time.process_time)
            profiler.enable()
            try:
                profiled_ms, _ = run(second_pass, expected)
            finally:
                profiler.disable()
            stats = pstats.Stats(profiler)
            if out:
                stats.dump_stats(f"{out}.{kind}.pstats")
            out_stats["kinds"][kind] = {
                "cpu_ms_per_request": round(cpu_ms, 3),
                "profiled_cpu_ms_per_request": round(profiled_ms, 3),
                "stages": _stage_breakdown(stats, len(second_pass)),
                "top_tottime": _top(stats, "tottime", top),
                "top_cumulative": _top(stats, "cumulative", top),
            }
    return out_stats


def _find(stats: Any, suffix: str, name: str) -> tuple[float, int]:
    """(cumulative seconds, calls) of one function in a pstats.Stats."""
    for (filename, _line, func), (_cc, nc, _tt, ct, _callers) in stats.stats.items():
        if func == name and filename.endswith(suffix):
            return ct, nc
    return 0.0, 0


def _stage_breakdown(stats: Any, requests: int) -> list[dict[str, Any]]:
    whole = _find(stats, *PROFILE_STAGES[0][1:])[0] or 1.0
    rows = []
    for label, suffix, name in PROFILE_STAGES:
        ct, calls = _find(stats, suffix, name)
        rows.append(
            {
                "stage": label,
                "share": round(ct / whole, 3),
                "profiled_ms_per_request": round(ct * 1000 / max(requests, 1), 3),
                "calls_per_request": round(calls / max(requests, 1), 2),
            }
        )
    return _with_rest(rows)


def _with_rest(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Add what the named stages leave over: in alert_ingest, and in the request."""
    share = {row["stage"].strip(): row["share"] for row in rows}

    def left(whole: str, *parts: str) -> float:
        return round(max(0.0, share.get(whole, 0) - sum(share.get(p, 0) for p in parts)), 3)

    stages = [label.strip() for label, _, _ in PROFILE_STAGES]
    ingest_rest = left(stages[4], *stages[5:7], stages[9])
    request_rest = left(stages[0], *stages[1:5], stages[10])
    after = {
        stages[9]: {"stage": "    rest of alert_ingest (Delivery, log)", "share": ingest_rest},
        stages[10]: {"stage": "  rest of the request (middleware, DRF)", "share": request_rest},
    }
    out = []
    for row in rows:
        out.append(row)
        if row["stage"].strip() in after:
            out.append(after[row["stage"].strip()])
    return out


def _top(stats: Any, key: str, top: int) -> list[dict[str, Any]]:
    site = "site-packages/"
    rows = []
    for func in sorted(
        stats.stats,
        key=lambda f: stats.stats[f][2 if key == "tottime" else 3],
        reverse=True,
    )[:top]:
        _cc, nc, tt, ct, _ = stats.stats[func]
        filename, line, name = func
        if site in filename:
            filename = filename.split(site, 1)[1]
        elif filename.startswith(str(ROOT)):
            filename = filename[len(str(ROOT)) + 1 :]
        rows.append(
            {
                "function": f"{filename}:{line}({name})",
                "calls": nc,
                "tottime_s": round(tt, 4),
                "cumtime_s": round(ct, 4),
            }
        )
    return rows


def print_profile(profile: dict[str, Any]) -> None:
    print()
    print(f"In-process profile (WSGI handler called directly, {profile['count']} requests each):")
    for kind, k in profile["kinds"].items():
        print(
            f"  {kind}: {k['cpu_ms_per_request']:.2f} ms CPU per request without profiler "
            f"({k['profiled_cpu_ms_per_request']:.2f} ms under cProfile)"
        )
        for row in k["stages"]:
            if row.get("calls_per_request", 1):
                print(f"    {row['share'] * 100:5.1f}%  {row['stage']}")
        print("    top by own time (cProfile, CPU clock):")
        for row in k["top_tottime"][:12]:
            print(f"      {row['tottime_s']:7.3f}s {row['calls']:>8}  {row['function'][:90]}")


# --- py-spy on the server's workers ---------------------------------------------------------


class PySpy:
    """`py-spy record` on a server process and its children, for one phase (raw stacks)."""

    def __init__(self, pid: int, out: Path) -> None:
        exe = Path(sys.executable).parent / "py-spy"
        found = str(exe) if exe.exists() else shutil.which("py-spy")
        if not found:
            raise SystemExit("--py-spy needs py-spy (.venv/bin/pip install py-spy)")
        self.cmd = [
            found, "record", "--pid", str(pid), "--subprocesses", "--gil", "--nonblocking",
            "--nolineno", "--full-filenames", "--rate", "250", "--format", "raw",
            "--output", str(out),
        ]  # fmt: skip
        self.out = out
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> PySpy:
        self.proc = subprocess.Popen(
            self.cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        time.sleep(1.0)  # let it attach before the load starts
        if self.proc.poll() is not None:
            raise SystemExit(f"py-spy failed: {self.proc.stderr.read()[-500:]}")
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)


def _frame(frame: str) -> tuple[str, str]:
    """(function, file) of a py-spy frame "Class.func (path)"."""
    name, _, rest = frame.rpartition(" (")
    return name.rsplit(".", 1)[-1], rest.rstrip(")")


def left_over(stages: list[dict[str, Any]]) -> float:
    whole = next(r["share"] for r in stages if r["stage"].startswith("whole request"))
    return round(1.0 - whole, 3)


def spy_breakdown(path: Path, top: int = 15) -> dict[str, Any]:
    """Stage shares and hottest functions from py-spy raw (collapsed) stacks."""
    inclusive: Counter = Counter()
    own: Counter = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if not stack or not n.isdigit():
            continue
        frames = stack.split(";")
        total += int(n)
        keys = {_frame(f) for f in frames}
        for key in keys:
            inclusive[key] += int(n)
        own[frames[-1]] += int(n)
    if not total:
        return {"samples": 0, "stages": [], "top_own": []}
    stages = [{"stage": "whole worker (GIL held), gunicorn included", "share": 1.0}]
    for label, suffix, name in PROFILE_STAGES:
        n = sum(v for (f, file), v in inclusive.items() if f == name and file.endswith(suffix))
        stages.append({"stage": label, "share": round(n / total, 3)})
    stages = _with_rest(stages)
    stages.append({"stage": "gunicorn, outside the WSGI app", "share": left_over(stages)})
    site = "site-packages/"
    top_own = []
    for frame, v in own.most_common(top):
        func, _, file = frame.rpartition(" (")
        short = file.rstrip(")").split(site, 1)[-1].removeprefix(f"{ROOT}/")
        top_own.append({"share": round(v / total, 4), "function": f"{func} ({short})"})
    return {"samples": total, "stages": stages, "top_own": top_own}


def print_spy(spy: dict[str, Any]) -> None:
    print()
    print("py-spy on the gunicorn workers (samples holding the GIL; these phases were slowed):")
    for kind, k in spy.items():
        print(f"  {kind}: {k['samples']} samples, {k['file']}")
        for row in k["stages"]:
            if row["share"]:
                print(f"    {row['share'] * 100:5.1f}%  {row['stage']}")
        print("    top by own samples:")
        for row in k["top_own"]:
            print(f"      {row['share'] * 100:5.1f}%  {row['function'][:100]}")


# --- gunicorn -------------------------------------------------------------------------------


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
                if status == 200 and len(self._workers()) >= self.workers:
                    return self.proc.pid
            except OSError:
                pass
            time.sleep(0.2)
        raise SystemExit(f"gunicorn did not answer /healthz in {self.timeout:.0f}s")

    def _workers(self) -> list[int]:
        if self.proc is None:
            return []
        out = []
        for entry in os.scandir("/proc"):
            if entry.name.isdigit():
                st = _proc_stat(int(entry.name))
                if st is not None and st[0] == self.proc.pid:
                    out.append(int(entry.name))
        return out

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


# --- setup ----------------------------------------------------------------------------------


def django_setup() -> None:
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


# --- report ---------------------------------------------------------------------------------


def _fmt(value: float | None, spec: str = ".2f") -> str:
    return (
        "-"
        if value is None or (isinstance(value, float) and math.isnan(value))
        else format(value, spec)
    )


def print_report(results: dict[str, Any]) -> None:
    cfg = results["config"]
    print()
    print(
        f"database {cfg['database']}  server {cfg['url']}  N={cfg['alerts']} C={cfg['concurrency']}"
        f"  targets/alert={cfg['targets']} (pool {cfg['resource_pool'] or 'unbounded'})"
        f"  samples={cfg['samples']}"
    )
    header = (
        f"{'phase':<12}{'requests':>9}{'errors':>8}{'req/s':>9}{'p50 ms':>8}{'p99 ms':>8}"
        f"{'srv CPU ms':>11}{'db CPU ms':>10}{'cli CPU ms':>11}{'other ms':>9}{'CPU busy':>9}"
    )
    print(header)
    print("-" * len(header))
    for p in results["phases"].values():
        errors = sum(p["errors"].values()) + sum(p["unexpected"].values())
        busy = p["machine_cpu_busy"]
        print(
            f"{p['name']:<12}{p['sent']:>9}{errors:>8}{_fmt(p['requests_per_s'], '.1f'):>9}"
            f"{_fmt(p['p50_ms']):>8}{_fmt(p['p99_ms']):>8}"
            f"{_fmt(p['server_cpu_ms_per_request']):>11}{_fmt(p['db_cpu_ms_per_request']):>10}"
            f"{_fmt(p['client_cpu_ms_per_request']):>11}"
            f"{_fmt(p['other_cpu_ms_per_request']):>9}"
            f"{(_fmt(busy * 100, '.0f') + '%') if busy is not None else '-':>9}"
        )
        if errors:
            print(f"{'':<12}statuses {p['statuses']}  first error: {p['sample_error'][:160]}")
    print(
        "(CPU columns: ms per request. srv = gunicorn master + workers, db = postmaster +\n"
        " backends, cli = this bench, other = the rest of the machine (noise);\n"
        " CPU busy = share of all CPUs busy during the phase)"
    )
    q = results["queries"]
    print()
    print(f"SQL queries per request (in-process, django.test.Client, {q['vendor']}):")
    if not q["cases"]:
        print("  skipped (--skip-queries)")
    for label, c in q["cases"].items():
        kinds = ", ".join(f"{k} {v}" for k, v in sorted(c["by_kind"].items()))
        extra = f" + {c['health_checks']} health check" if c["health_checks"] else ""
        print(
            f"  {label:<24}{c['queries']:>3} queries{extra}  ({kinds})  -> {c['status']} "
            f"{c['outcome']}"
        )
    print()
    note = "" if q["vendor"] == "postgresql" else f" -- this run is on {q['vendor']}: indicative"
    print(f"Budget (set for PostgreSQL, gunicorn 2 sync workers, 2 cores){note}:")
    for line in results["budget"]:
        print(f"  {line['verdict']:<5} {line['line']}: {line['measured']}")


def judge(results: dict[str, Any]) -> list[dict[str, str]]:
    phases = results["phases"]
    health, new, repeat = phases["healthz"], phases["new"], phases["repeat"]
    lines = []

    def add(line: str, ok: bool | None, measured: str) -> None:
        verdict = "n/a" if ok is None else ("PASS" if ok else "FAIL")
        lines.append({"line": line, "verdict": verdict, "measured": measured})

    clean = all(not p["errors"] and not p["unexpected"] for p in phases.values())
    add(
        "every request answered as expected (validity)",
        clean,
        "; ".join(f"{p['name']} {p['statuses']}" for p in phases.values()),
    )
    ratio = new["requests_per_s"] / health["requests_per_s"] if health["requests_per_s"] else 0
    rep_ratio = (
        repeat["requests_per_s"] / health["requests_per_s"] if health["requests_per_s"] else 0
    )
    results["ratios"] = {
        "new_over_healthz": round(ratio, 3),
        "repeat_over_healthz": round(rep_ratio, 3),
    }
    add(
        f"new-alert throughput >= {BUDGET_INGEST_RATIO} x /healthz",
        ratio >= BUDGET_INGEST_RATIO,
        f"{new['requests_per_s']:.1f}/s vs {health['requests_per_s']:.1f}/s = {ratio:.2f}x "
        f"(repeats {rep_ratio:.2f}x)",
    )
    cpu = new["server_cpu_ms_per_request"]
    add(
        f"server CPU per new alert <= {BUDGET_CPU_MS_PER_NEW} ms",
        None if cpu is None else cpu <= BUDGET_CPU_MS_PER_NEW,
        "no server PIDs given"
        if cpu is None
        else f"{cpu:.2f} ms (repeat {_fmt(repeat['server_cpu_ms_per_request'])} ms, "
        f"healthz {_fmt(health['server_cpu_ms_per_request'])} ms)",
    )
    q = results["queries"]["cases"]
    news = {k: v["queries"] for k, v in q.items() if k.startswith("new")}
    add(
        "queries per new alert constant in its number of targets",
        results["queries"]["new_constant_in_targets"]
        and results["queries"]["all_statuses_as_expected"],
        ", ".join(f"{k}: {v}" for k, v in news.items()),
    )
    rq = q["repeat"]
    add(
        f"queries per repeated alert <= {BUDGET_QUERIES_PER_REPEAT}",
        rq["queries"] <= BUDGET_QUERIES_PER_REPEAT and rq["status"] == 200,
        f"{rq['queries']}"
        + (f" (+{rq['health_checks']} health check)" if rq["health_checks"] else ""),
    )
    return lines


# --- main -----------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--url", default="http://127.0.0.1:8001", help="server base URL (loopback)")
    p.add_argument("-n", "--alerts", type=int, default=2000, help="requests per phase (N)")
    p.add_argument("-c", "--concurrency", type=int, default=4, help="client threads (C)")
    p.add_argument("--targets", type=int, default=1, help="targets per alert (0: the sample's)")
    p.add_argument(
        "--resource-pool",
        type=int,
        default=500,
        help="targets are drawn round-robin from this many storage accounts (0: all new)",
    )
    p.add_argument("--samples", default="metric", help="sample names, comma-separated, or 'all'")
    p.add_argument("--repeats", type=int, default=None, help="repeated alerts (default N)")
    p.add_argument("--warmup", type=int, default=20, help="warm-up requests of each kind")
    p.add_argument("--server-pids", help="PIDs of the server (a gunicorn master: + workers)")
    p.add_argument(
        "--db-pids",
        default="auto",
        help="PIDs of the database server ('auto': the postmaster of DATABASE_URL's port, "
        "'' for none)",
    )
    p.add_argument("--start-gunicorn", action="store_true", help="start and stop gunicorn here")
    p.add_argument("--workers", type=int, default=2, help="gunicorn workers (--start-gunicorn)")
    p.add_argument(
        "--server-log",
        default=str(Path(tempfile.gettempdir()) / "itsm-bench-gunicorn.log"),
        help="gunicorn's output (--start-gunicorn)",
    )
    p.add_argument("--timeout", type=float, default=30.0, help="seconds per request")
    p.add_argument("--max-seconds", type=float, default=900.0, help="overall deadline")
    p.add_argument("--skip-queries", action="store_true", help="skip the in-process SQL count")
    p.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="N",
        help="after the load, profile N new + N repeated alerts in this process (cProfile)",
    )
    p.add_argument(
        "--py-spy",
        metavar="PREFIX",
        help="record the server's workers with py-spy during the alert phases (PREFIX.*.txt);"
        " slows those phases",
    )
    p.add_argument("--profile-out", metavar="PREFIX", help="write PREFIX.{new,repeat}.pstats")
    p.add_argument("--json", metavar="PATH", help="also write the results as JSON ('-': stdout)")
    args = p.parse_args(argv)
    if args.alerts < 1 or args.concurrency < 1 or args.warmup < 0 or args.targets < 0:
        p.error("-n and -c must be >= 1; --warmup and --targets >= 0")
    if args.targets > 500:
        p.error("--targets: the webhook accepts at most 500 targets per alert")
    args.max_seconds = min(args.max_seconds, MAX_SECONDS_CAP)
    if args.py_spy and not (args.start_gunicorn or args.server_pids):
        p.error("--py-spy needs --start-gunicorn or --server-pids")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    deadline = started + args.max_seconds
    url = urlsplit(args.url)
    if url.scheme != "http" or url.hostname not in LOOPBACK_HOSTS:
        raise SystemExit("--url must be http:// on 127.0.0.1 (the bench never leaves loopback)")
    host, port = url.hostname, url.port or 80
    if args.start_gunicorn and host != "127.0.0.1":
        raise SystemExit("--start-gunicorn binds 127.0.0.1: use --url http://127.0.0.1:PORT")

    # The server's environment is ours as given; this process adds what settings require.
    server_env = dict(os.environ)
    if not os.environ.get("DJANGO_SECRET_KEY"):
        os.environ["DJANGO_SECRET_KEY"] = server_env["DJANGO_SECRET_KEY"] = secrets.token_urlsafe(
            50
        )
    # .env may say DJANGO_DEBUG=1; measure production settings unless told otherwise.
    os.environ.setdefault("DJANGO_DEBUG", "0")
    django_setup()
    from django.conf import settings
    from django.db import connection, connections

    from integrations import devtokens
    from integrations.models import Connection

    db = settings.DATABASES["default"]
    database = f"{connection.vendor}:{db.get('NAME')}"
    if args.db_pids == "auto":
        db_pids = (
            postgres_pids(int(db.get("PORT") or 5432)) if connection.vendor == "postgresql" else []
        )
    else:
        db_pids = parse_pids(args.db_pids)

    gunicorn = None
    server_pids = parse_pids(args.server_pids)
    if args.start_gunicorn:
        server_env.update(
            DJANGO_DEBUG="0",
            DJANGO_ALLOWED_HOSTS="127.0.0.1",
            DJANGO_SETTINGS_MODULE="itsm.settings",
        )
        gunicorn = Gunicorn(
            port=port,
            workers=args.workers,
            env=server_env,
            log_path=Path(args.server_log),
            timeout=60,
        )
        gunicorn.migrate()

    key = devtokens.generate_key()
    token = "Bearer " + devtokens.sign(
        devtokens.entra_claims(
            tenant_id=BENCH_TENANT_ID, audience=BENCH_AUDIENCE, lifetime=TOKEN_LIFETIME
        ),
        key,
    )
    results: dict[str, Any] = {}
    with JwksServer(devtokens.jwks_document(key)) as jwks_server:
        action = bench_connection_ensure(jwks_server.uri)
        print(f"connection {BENCH_SLUG!r} {action}; key set at {jwks_server.uri}", flush=True)
        queries = (
            {
                "vendor": connection.vendor,
                "cases": {},
                "new_constant_in_targets": False,
                "all_statuses_as_expected": False,
            }
            if args.skip_queries
            else count_queries(token)
        )
        connections.close_all()  # hold no connection (nor SQLite lock) during the load

        try:
            if gunicorn is not None:
                server_pids = [gunicorn.start()]
                print(f"gunicorn started: master {server_pids[0]}, log {args.server_log}")
            results = run_load(
                args,
                host=host,
                port=port,
                token=token,
                deadline=deadline,
                server_pids=server_pids,
                db_pids=db_pids,
                webhook_path=Connection(slug=BENCH_SLUG).webhook_path,
            )
        finally:
            if gunicorn is not None:
                gunicorn.stop()
        if args.profile:
            results["profile"] = profile_in_process(
                token, count=args.profile, deadline=deadline, out=args.profile_out, top=25
            )
            connections.close_all()
        results["jwks_fetches"] = jwks_server.fetches
    results["queries"] = queries
    results["config"] = {
        "database": database,
        "url": args.url,
        "alerts": args.alerts,
        "repeats": args.repeats if args.repeats is not None else args.alerts,
        "concurrency": args.concurrency,
        "targets": args.targets,
        "resource_pool": args.resource_pool,
        "samples": args.samples,
        "workers": args.workers if args.start_gunicorn else None,
        "server_pids": server_pids,
        "db_pids": db_pids,
        "cpus": os.cpu_count(),
        "duration_s": round(time.monotonic() - started, 1),
    }
    results["budget"] = judge(results) if not args.skip_queries else judge_without_queries(results)
    print_report(results)
    if results.get("py_spy"):
        print_spy(results["py_spy"])
    if "profile" in results:
        print_profile(results["profile"])
    if args.json:
        text = json.dumps(results, indent=2, default=str)
        if args.json == "-":
            print(text)
        else:
            Path(args.json).write_text(text + "\n")
    return 0 if all(line["verdict"] != "FAIL" for line in results["budget"]) else 1


def judge_without_queries(results: dict[str, Any]) -> list[dict[str, str]]:
    results["queries"]["cases"] = {
        "repeat": {"queries": 0, "status": 200, "health_checks": 0, "by_kind": {}, "outcome": ""}
    }
    lines = judge(results)
    results["queries"]["cases"] = {}
    return [
        dict(line, verdict="n/a", measured="skipped") if "queries" in line["line"] else line
        for line in lines
    ]


def run_load(
    args: argparse.Namespace,
    *,
    host: str,
    port: int,
    token: str,
    deadline: float,
    server_pids: list[int],
    db_pids: list[int],
    webhook_path: str,
) -> dict[str, Any]:
    n = args.alerts
    repeats = args.repeats if args.repeats is not None else n
    samples = sample_names_for(args.samples)
    prefix = "benchsa" if args.resource_pool else f"benchsa{secrets.token_hex(3)}x"
    alert_headers = {"Authorization": token, "Content-Type": "application/json"}

    def new_alerts(count: int, offset: int) -> list[Request]:
        return [
            Request(
                "POST",
                webhook_path,
                new_alert_body(
                    samples[(offset + i) % len(samples)],
                    targets=args.targets,
                    first_target=(offset + i) * max(args.targets, 1),
                    pool=args.resource_pool,
                    prefix=prefix,
                ),
                alert_headers,
            )
            for i in range(count)
        ]

    health = [Request("GET", "/healthz", None, {})] * n
    print(f"preparing {n} new alerts ...", flush=True)
    warm_new = new_alerts(args.warmup, 0)
    fresh = new_alerts(n, args.warmup)
    again = [fresh[i % n] for i in range(repeats)]  # the same bodies: repeats of known alerts

    common = {
        "host": host,
        "port": port,
        "concurrency": args.concurrency,
        "timeout": args.timeout,
        "deadline": deadline,
        "server_pids": server_pids,
        "db_pids": db_pids,
    }
    print("warm-up ...", flush=True)
    warm = [
        run_phase("warm healthz", health[: args.warmup], expected_status=200, **common),
        run_phase("warm new", warm_new, expected_status=201, **common),
        run_phase("warm repeat", warm_new, expected_status=200, **common),
    ]
    for w in warm:
        if w.errors:
            raise SystemExit(f"warm-up failed: {w.name} {dict(w.statuses)}: {w.sample_error}")
    phases = {}
    spy: dict[str, Any] = {}
    for name, reqs, expected in (
        ("healthz", health, 200),
        ("new", fresh, 201),
        ("repeat", again, 200),
    ):
        print(f"{name} x {len(reqs)} at concurrency {args.concurrency} ...", flush=True)
        if args.py_spy and name != "healthz":
            out = Path(f"{args.py_spy}.{name}.txt")
            with PySpy(server_pids[0], out):
                phases[name] = run_phase(name, reqs, expected_status=expected, **common).as_dict()
            spy[name] = {"file": str(out), **spy_breakdown(out)}
        else:
            phases[name] = run_phase(name, reqs, expected_status=expected, **common).as_dict()
    return {"phases": phases, "warmup": [w.as_dict() for w in warm], "py_spy": spy}


if __name__ == "__main__":
    with contextlib.suppress(BrokenPipeError):
        sys.exit(main())
