"""Load generation: the requests the bench sends and the client threads that send them.

`run_phase` sends one list of requests from C threads, each with its own connection, and
measures requests/s, latency percentiles and the CPU of the server, the database, this
process and the whole machine over the phase. `new_alert_body` builds the alerts (a fresh
alertId each, targets drawn from a pool of storage accounts).
"""

from __future__ import annotations

import http.client
import json
import math
import secrets
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from itsmbench.cpu import (
    CLK_TCK,
    database_cpu_ticks,
    machine_cpu_ticks,
    self_cpu_seconds,
    ticks_delta_seconds,
    tree_cpu_seconds,
)


@dataclass(frozen=True, slots=True)
class Request:
    """One HTTP request, built before the phase starts."""

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
    """What one phase sent, what came back, and the CPU it cost."""

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


RUN = secrets.token_hex(4)  # this run's rules: never another run's (flapping)


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
    db_name: str | None = None,
) -> PhaseResult:
    """Send `requests` from `concurrency` threads, each with its own connection.

    With `db_name` (and one PID, the postmaster), database CPU is that of the backends
    serving `db_name` only (`database_cpu_ticks`); otherwise that of `db_pids`' trees.
    """
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
    per_backend = db_name is not None and len(db_pids) == 1
    db0 = tree_cpu_seconds(db_pids) if db_pids and not per_backend else None
    backends0 = database_cpu_ticks(db_pids[0], db_name) if per_backend and db_name else None
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
    if backends0 is not None and db_name:
        result.db_cpu_s = ticks_delta_seconds(backends0, database_cpu_ticks(db_pids[0], db_name))
    return result


def sample_names_for(spec: str) -> list[str]:
    """The samples of --samples ("metric", "a,b" or "all"), checked against the catalogue."""
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
    # One rule per alert (and per run): a rule firing again on a pooled target with a new
    # alertId would be flapping (it reopens, 200), not the new incident this phase measures.
    subscription = essentials["alertId"].split("/")[2]
    essentials["alertRuleID"] = (
        f"/subscriptions/{subscription}/resourceGroups/bench-rg/providers/"
        f"microsoft.insights/metricAlerts/bench-{RUN}-{prefix}{first_target}"
    )
    if targets > 0:
        ids = target_ids(subscription, first_target, targets, pool, prefix)
        essentials["alertTargetIDs"] = ids
        essentials["configurationItems"] = [i.rsplit("/", 1)[1] for i in ids]
    return json.dumps(payload).encode()
