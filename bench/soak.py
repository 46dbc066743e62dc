"""Soak test: minutes of mixed webhook traffic with a database restart in the middle, then a
reconciliation that every accepted alert is stored exactly once, in the right state.

Traffic, from C client threads for --duration seconds: new alerts, repeats, resolutions,
out-of-order pairs (Resolved before Fired), bad tokens and bad bodies. Valid messages that
get a 503 (or no answer) are retried the way Azure retries (a few times, a few seconds
apart). At --restart-at seconds the database is stopped with --db-stop, left down for
--down-seconds, and started with --db-start (shell commands). Afterwards the bench waits
for the spool to drain and checks, in the database:

- every alert that got a 2xx has exactly one Alert row and one incident;
- an alert whose Resolved message was accepted is resolved (alert and incident), the others
  fired;
- no alert exists that no 2xx accepted (bad tokens and bad bodies changed nothing);
- poison deliveries (authenticated, well-formed JSON, but their alert ID is ~2,900 UTF-8
  bytes: too large for PostgreSQL's unique index) are never stored and never retried
  forever: the parser refuses them with 400 before any database work (MAX_ALERT_ID_BYTES),
  even while the database is down; should one get through to the database, it may be
  spooled (202) and must then be set aside by the drain. Each refusal made while the
  database is up is kept in the delivery log as refused;
- a tampered spool file (wrong integrity tag) is never ingested and ends in failed/;
- slow clients (--slow-clients, one per gunicorn worker by default) that send their headers
  and then trickle the body a byte every few seconds, for the whole run, on the webhook:
  without a token and with a bogus one they are answered (401, or 429 past the failure
  limit) before their body arrives; with a valid token, 408 at the one body deadline
  (WEBHOOK_BODY_TIMEOUT_SECONDS), however steadily they trickle;
- meanwhile, no valid delivery waits more than --max-latency seconds for its answer,
  outside the database-down window (p50/p99 are reported).

Example (PostgreSQL on a server the bench may restart):

    DATABASE_URL=postgres://postgres@127.0.0.1:55433/itsm .venv/bin/python bench/soak.py \\
      --start-gunicorn --duration 180 -c 6 --restart-at 60 --down-seconds 8 \\
      --db-stop "pg_ctl -D /path/data -m fast -w stop" --db-start "pg_ctl -D ... -w start"

Loopback only; every loop is bounded by --duration and a deadline.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ingest import (
    BENCH_AUDIENCE,
    BENCH_SLUG,
    BENCH_TENANT_ID,
    ROOT,
    Client,
    Gunicorn,
    JwksServer,
    Request,
    bench_connection_ensure,
    django_setup,
)

RETRIES = (1.0, 2.0, 4.0, 8.0, 15.0)  # Azure: a few retries over about 75 s
WORKERS = 2  # gunicorn workers; the rest (gthread, threads, keep-alive) is gunicorn.conf.py's


@dataclass
class SlowResult:
    """One slow connection: what it sent, what it got, and when."""

    kind: str  # no-token, bad-token, valid-token
    started: float
    status: int  # 0: no answer
    answered_after: float  # seconds from the end of the headers to the answer
    body_bytes_sent: int  # before the answer
    body_length: int
    closed_after: float | None  # seconds from the answer to the server's close (None: never)


@dataclass
class Ledger:
    """What the clients sent and what the server accepted, per alert ID."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    statuses: Counter = field(default_factory=Counter)
    sent: Counter = field(default_factory=Counter)
    accepted: dict[str, set[str]] = field(default_factory=dict)  # alertId -> conditions
    fired: list[str] = field(default_factory=list)  # accepted Fired, not yet resolved
    lost: list[str] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)
    poison: list[tuple[str, int, float]] = field(default_factory=list)  # id, status, when
    # (sent at, seconds to the answer) of every valid delivery attempt that got an answer
    latencies: list[tuple[float, float]] = field(default_factory=list)
    slow: list[SlowResult] = field(default_factory=list)

    def accept(self, alert_id: str, condition: str) -> None:
        with self.lock:
            self.accepted.setdefault(alert_id, set()).add(condition)
            if condition == "Fired" and "Resolved" not in self.accepted[alert_id]:
                self.fired.append(alert_id)

    def take_fired(self) -> str | None:
        with self.lock:
            return self.fired.pop(random.randrange(len(self.fired))) if self.fired else None

    def any_accepted(self) -> str | None:
        with self.lock:
            return random.choice(list(self.accepted)) if self.accepted else None


class Traffic:
    def __init__(self, port: int, token: str, ledger: Ledger, deadline: float) -> None:
        self.port, self.token, self.ledger, self.deadline = port, token, ledger, deadline
        # Alert IDs of this run only: earlier runs' alerts may be in the same database.
        self.prefix = f"/soak/{os.urandom(4).hex()}/"
        from integrations.demo import fired_payload

        self.template = fired_payload("metric")

    def body(self, alert_id: str, condition: str) -> bytes:
        payload = json.loads(json.dumps(self.template))
        essentials = payload["data"]["essentials"]
        essentials["alertId"], essentials["monitorCondition"] = alert_id, condition
        if condition == "Resolved":
            essentials["resolvedDateTime"] = essentials["firedDateTime"]
        return json.dumps(payload).encode()

    def post(self, client: Client, body: bytes, token: str) -> int:
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
        try:
            status, _ = client.send(
                Request("POST", f"/api/integrations/azure-monitor/{BENCH_SLUG}/", body, headers)
            )
        except OSError:
            return 0  # no answer: Azure retries network errors
        return status

    def deliver(self, client: Client, alert_id: str, condition: str) -> None:
        """Send a valid message, retrying like Azure on 503 and network errors."""
        body = self.body(alert_id, condition)
        for wait in (0.0, *RETRIES):
            if wait:
                time.sleep(wait)
            sent_at = time.monotonic()
            status = self.post(client, body, self.token)
            took = time.monotonic() - sent_at
            with self.ledger.lock:
                self.ledger.statuses[status] += 1
                self.ledger.sent["valid"] += 1
                self.ledger.latencies.append((sent_at, took))
            if status in (200, 201, 202):
                self.ledger.accept(alert_id, condition)
                return
            # A valid delivery is never throttled: 429 here is a failure, not a retry.
            if status not in (0, 503, 504, 408):
                with self.ledger.lock:
                    self.ledger.wrong.append(f"{alert_id} {condition}: {status}")
                return
        with self.ledger.lock:
            self.ledger.lost.append(f"{alert_id} {condition}")

    def hostile(self, client: Client, kind: str) -> None:
        if kind == "bad-token":
            status = self.post(
                client,
                self.body(f"/soak/forged/{os.urandom(4).hex()}", "Fired"),
                self.token[:-8] + "AAAAAAAA",
            )
            expected = (401, 429)  # past the failed-authentication limit: 429
        else:
            status = self.post(
                client, b'{"schemaId": "azureMonitorCommonAlertSchema", "data"', self.token
            )
            expected = (400, 503)  # a refusal is still answered while the database is down
        with self.ledger.lock:
            self.ledger.statuses[status] += 1
            self.ledger.sent[kind] += 1
            if status not in expected and status != 0:
                self.ledger.wrong.append(f"{kind}: {status}")

    def poison(self, client: Client, rng: random.Random, n: int, seed: int) -> None:
        """Send a delivery that can never be stored: never a 2xx other than 202."""
        # ~980 random CJK characters: ~2,900 bytes that do not compress, too large for a
        # btree index row (SQLSTATE 54000); the parser refuses it first (over 1024 bytes).
        noise = "".join(chr(rng.randrange(0x4E00, 0x9FFF)) for _ in range(980))
        alert_id = f"{self.prefix}poison/{seed}/{n}/{noise}"
        status = self.post(client, self.body(alert_id, "Fired"), self.token)
        with self.ledger.lock:
            self.ledger.statuses[status] += 1
            self.ledger.sent["poison"] += 1
            self.ledger.poison.append((alert_id, status, time.monotonic()))
            if status not in (400, 202, 503, 0):
                self.ledger.wrong.append(f"poison: {status}")

    def run(self, seed: int) -> None:
        rng = random.Random(seed)
        client = Client("127.0.0.1", self.port, 30)
        n = 0
        while time.monotonic() < self.deadline:
            n += 1
            roll = rng.random()
            if roll < 0.35:
                self.deliver(client, f"{self.prefix}{seed}/{n}", "Fired")
            elif roll < 0.55:
                alert_id = self.ledger.take_fired()
                if alert_id:
                    self.deliver(client, alert_id, "Resolved")
            elif roll < 0.70:
                alert_id = self.ledger.any_accepted()
                if alert_id:
                    self.deliver(client, alert_id, rng.choice(["Fired", "Resolved"]))
            elif roll < 0.82:
                alert_id = f"{self.prefix}{seed}/{n}/ooo"  # Resolved first, then the late Fired
                self.deliver(client, alert_id, "Resolved")
                self.deliver(client, alert_id, "Fired")
            elif roll < 0.91:
                self.hostile(client, "bad-token")
            elif roll < 0.97:
                self.hostile(client, "bad-body")
            else:
                self.poison(client, rng, n, seed)
        client.close()


class SlowClients:
    """Connections that trickle a body a byte at a time, for the whole run.

    Each thread cycles through no token, a bogus token and a valid one: it sends the
    headers (Content-Length of a real alert, keep-alive), then one byte every `every`
    seconds, watching for the answer in between. After the answer it keeps trickling, as
    a careless or hostile client would, until the server closes the connection (at most
    `linger` seconds), then starts over.
    """

    KINDS = ("no-token", "bad-token", "valid-token")
    linger_default = 30.0

    def __init__(
        self,
        traffic: Traffic,
        ledger: Ledger,
        deadline: float,
        every: float,
        linger: float = linger_default,
    ) -> None:
        self.traffic, self.ledger, self.deadline = traffic, ledger, deadline
        self.every, self.linger = every, linger

    def head(self, kind: str, length: int) -> bytes:
        token = {
            "no-token": None,
            "bad-token": self.traffic.token[:-8] + "AAAAAAAA",
            "valid-token": self.traffic.token,
        }[kind]
        auth = f"Authorization: Bearer {token}\r\n" if token else ""
        return (
            f"POST /api/integrations/azure-monitor/{BENCH_SLUG}/ HTTP/1.1\r\n"
            f"Host: 127.0.0.1\r\nContent-Type: application/json\r\n{auth}"
            f"Content-Length: {length}\r\n\r\n"
        ).encode()

    def one(self, kind: str, n: int, seed: int) -> SlowResult:
        # Never a complete body, so never an alert (the answer comes first in any case).
        body = self.traffic.body(f"{self.traffic.prefix}slow/{seed}/{n}", "Fired")
        started = time.monotonic()
        status, answered_at, before, closed_at = 0, 0.0, 0, None
        data = b""
        with socket.create_connection(("127.0.0.1", self.traffic.port), timeout=30) as s:
            s.sendall(self.head(kind, len(body)))
            headers_at = time.monotonic()
            for byte in body:
                s.settimeout(self.every)
                try:
                    chunk = s.recv(65536)
                except TimeoutError:
                    chunk = None
                except OSError:  # reset by the server
                    chunk = b""
                if chunk == b"":
                    closed_at = time.monotonic()
                    break
                if chunk and not status:
                    data += chunk
                    if data.startswith(b"HTTP/") and data.count(b" ") >= 2:
                        status = int(data.split(b" ", 2)[1])
                        answered_at = time.monotonic()
                now = time.monotonic()
                if (status and now - answered_at > self.linger) or now - started > 90:
                    break  # kept open after the answer; or never answered
                try:
                    s.sendall(bytes([byte]))
                except OSError:
                    closed_at = time.monotonic()
                    break
                if not status:
                    before += 1
        return SlowResult(
            kind,
            started,
            status,
            answered_at - headers_at if status else 0.0,
            before,
            len(body),
            closed_at - answered_at if status and closed_at else None,
        )

    def run(self, seed: int) -> None:
        n = 0
        while time.monotonic() < self.deadline:
            kind = self.KINDS[(seed + n) % len(self.KINDS)]
            n += 1
            try:
                result = self.one(kind, n, seed)
            except OSError:  # could not connect or send the headers
                result = SlowResult(kind, time.monotonic(), 0, 0.0, 0, 0, None)
                time.sleep(self.every)
            with self.ledger.lock:
                self.ledger.slow.append(result)


def reconcile_slow(
    ledger: Ledger, body_timeout: float, down: tuple[float, float] | None
) -> dict[str, object]:
    """What the slow connections got, and whether each got what it should have."""
    expected = {"no-token": (401, 429), "bad-token": (401, 429), "valid-token": (408,)}
    out: dict[str, object] = {"connections": len(ledger.slow)}
    wrong = []
    for kind in SlowClients.KINDS:
        results = [r for r in ledger.slow if r.kind == kind]
        statuses = Counter(r.status for r in results)
        out[kind] = {
            "connections": len(results),
            "answers": dict(sorted(statuses.items())),
            "max body bytes before the answer": max(
                (r.body_bytes_sent for r in results), default=0
            ),
            "answered after s (min/max)": (
                f"{min((r.answered_after for r in results), default=0):.2f}/"
                f"{max((r.answered_after for r in results), default=0):.2f}"
            ),
            # gunicorn drains an unread body for a while after the answer, then closes.
            "server closed s after the answer (max)": round(
                max((r.closed_after for r in results if r.closed_after is not None), default=0), 2
            ),
            f"still open {SlowClients.linger_default:g}s after the answer": sum(
                1 for r in results if r.status and r.closed_after is None
            ),
        }
        for r in results:
            in_down = down is not None and down[0] - 1 <= r.started <= down[1] + 5
            if r.status == 503 and in_down:
                continue  # the connection's settings could not be read: Azure would retry
            ok = r.status in expected[kind] and r.body_bytes_sent < r.body_length
            if kind == "valid-token" and r.status == 408:
                # One deadline for the whole body, though a byte came every `every` s.
                ok = ok and body_timeout - 0.5 <= r.answered_after <= body_timeout + 2
            elif ok:
                ok = r.body_bytes_sent == 0  # answered before any of its body was sent
            if not ok:
                wrong.append(
                    f"slow {kind}: {r.status} after {r.answered_after:.2f}s, "
                    f"{r.body_bytes_sent}/{r.body_length} body bytes sent"
                )
    out["wrong"] = len(wrong)
    with ledger.lock:
        ledger.wrong.extend(wrong)
    return out


def reconcile_latency(
    ledger: Ledger, down: tuple[float, float] | None, limit: float, started: float
) -> dict[str, object]:
    """Valid deliveries' answer times, outside the database-down window and inside it."""

    def in_down(sent_at: float, took: float) -> bool:
        # From a second before the stop to 5 s after the start (reconnection, spool drain).
        return down is not None and sent_at + took >= down[0] - 1 and sent_at <= down[1] + 5

    def figures(values: list[float]) -> str:
        if len(values) < 2:
            return f"n={len(values)}"
        values = sorted(values)
        p50 = statistics.median(values) * 1000
        p99 = values[min(len(values) - 1, int(len(values) * 0.99))] * 1000
        return f"n={len(values)} p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {values[-1] * 1000:.0f} ms"

    outside = [took for sent_at, took in ledger.latencies if not in_down(sent_at, took)]
    inside = [took for sent_at, took in ledger.latencies if in_down(sent_at, took)]
    slow = [
        (sent_at, took)
        for sent_at, took in ledger.latencies
        if took > limit and not in_down(sent_at, took)
    ]
    with ledger.lock:
        ledger.wrong.extend(
            f"valid delivery sent at {sent_at - started:.1f}s answered after {took:.2f}s"
            for sent_at, took in slow[:10]
        )
    return {
        "all": figures([took for _, took in ledger.latencies]),
        "database up": figures(outside),
        "database-down window": figures(inside),
        f"over {limit:g}s with the database up": len(slow),
    }


def reconcile(ledger: Ledger, prefix: str) -> dict[str, int]:
    from django.db import connections

    from integrations.models import Alert

    connections.close_all()
    rows = Alert.objects.filter(connection__slug=BENCH_SLUG, alert_id__startswith=prefix)
    stored = Counter(rows.values_list("alert_id", flat=True))
    states = dict(rows.values_list("alert_id", "monitor_condition"))
    incident_states = dict(rows.values_list("alert_id", "incident__state"))
    duplicated = sum(1 for n in stored.values() if n > 1)
    missing = [a for a in ledger.accepted if a not in stored]
    unexpected = [a for a in stored if a not in ledger.accepted]
    wrong_state = [
        a
        for a, conditions in ledger.accepted.items()
        if a in states
        and (
            states[a] != ("Resolved" if "Resolved" in conditions else "Fired")
            or (incident_states[a] == "resolved") != ("Resolved" in conditions)
        )
    ]
    return {
        "alerts accepted": len(ledger.accepted),
        "alerts stored": len(stored),
        "missing": len(missing),
        "duplicated": duplicated,
        "unexpected": len(unexpected),
        "wrong state": len(wrong_state),
    }


def tampered_file_plant(spool_dir: Path, prefix: str) -> tuple[str, Path]:
    """Put a forged spool file (a valid record, a wrong tag) first in line; return its alert ID."""
    import base64
    from datetime import UTC, datetime

    from integrations.demo import fired_payload

    alert_id = f"{prefix}tampered"
    payload = fired_payload("metric")
    payload["data"]["essentials"]["alertId"] = alert_id
    record = json.dumps(
        {
            "connection": BENCH_SLUG,
            "caller_app_id": "461e8683-5575-4561-ac7f-899cc907d62a",
            "caller_object_id": "",
            "caller_tenant_id": BENCH_TENANT_ID,
            "content_type": "application/json",
            "received_at": datetime.now(UTC).isoformat(),
            "body": base64.b64encode(json.dumps(payload).encode()).decode(),
        }
    ).encode()
    spool_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = spool_dir / f"{0:020d}-0000000-000000.json"  # sorts before every real file
    path.write_bytes(b"0" * 64 + b"\n" + record)
    return alert_id, path


def reconcile_poison(
    ledger: Ledger, spool_dir: Path, tampered: tuple[str, Path], down: tuple[float, float] | None
) -> dict[str, int]:
    """Check that poison and the tampered file were kept aside, never ingested or lost."""
    from integrations.models import Alert, Delivery

    ids = [alert_id for alert_id, _, _ in ledger.poison]
    # A parse refusal records no alert ID: find each poison delivery by its body.
    wanted = {json.dumps(alert_id)[1:-1]: alert_id for alert_id in ids}
    rejected = Delivery.objects.filter(
        connection__slug=BENCH_SLUG, outcome="rejected", body__isnull=False
    ).values_list("body", flat=True)
    kept = set()
    for body in rejected.iterator():
        found = re.search(r'"alertId": "([^"]*)"', bytes(body).decode("utf-8", "replace"))
        if found and found.group(1) in wanted:
            kept.add(wanted[found.group(1)])

    def while_down(when: float) -> bool:
        # Refusals cannot be recorded while the database is down (they are answered).
        return down is not None and down[0] - 1 <= when <= down[1] + 10

    unkept = [
        alert_id
        for alert_id, status, when in ledger.poison
        if alert_id not in kept and (status == 202 or (status == 400 and not while_down(when)))
    ]
    tampered_id, tampered_path = tampered
    return {
        "poison sent": len(ids),
        "poison refused (400)": sum(1 for _, status, _ in ledger.poison if status == 400),
        "poison queued (202)": sum(1 for _, status, _ in ledger.poison if status == 202),
        "poison kept in the log": len(kept),
        # Answered, but not logged: the delivery log is in the database.
        "poison refused, not logged (database down)": sum(
            1
            for alert_id, status, when in ledger.poison
            if status == 400 and while_down(when) and alert_id not in kept
        ),
        "poison not kept": len(unkept),
        "poison stored as alerts": Alert.objects.filter(alert_id__in=ids).count(),
        "tampered stored": Alert.objects.filter(alert_id=tampered_id).count(),
        "tampered not in failed/": int(not (spool_dir / "failed" / tampered_path.name).exists()),
        "spool files set aside": len(list((spool_dir / "failed").glob("*.json"))),
    }


def drain_by_hand(env: dict[str, str]) -> str:
    """Run `manage.py drain_spool` (a process that spooled nothing runs no drainer)."""
    done = subprocess.run(
        [sys.executable, "manage.py", "drain_spool"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return (done.stdout + done.stderr).strip()


def wait_for_spool(spool_dir: Path, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        left = len(list(spool_dir.glob("*.json"))) + len(list(spool_dir.glob("*.claimed")))
        if left == 0:
            return 0
        time.sleep(0.5)
    return len(list(spool_dir.glob("*.json")))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--duration", type=float, default=120)
    p.add_argument("-c", "--concurrency", type=int, default=6)
    p.add_argument("--port", type=int, default=8002)
    p.add_argument("--restart-at", type=float, default=None, help="seconds into the run")
    p.add_argument("--down-seconds", type=float, default=5)
    p.add_argument("--db-stop", default=os.environ.get("ITSM_TEST_PG_STOP"))
    p.add_argument("--db-start", default=os.environ.get("ITSM_TEST_PG_START"))
    p.add_argument("--start-gunicorn", action="store_true")
    p.add_argument(
        "--slow-clients",
        type=int,
        default=WORKERS,
        help="connections trickling a body the whole run (default: one per gunicorn worker)",
    )
    p.add_argument("--slow-every", type=float, default=3.0, help="seconds between their bytes")
    p.add_argument(
        "--max-latency",
        type=float,
        default=2.0,
        help="longest answer a valid delivery may wait with the database up (seconds)",
    )
    args = p.parse_args(argv)
    if args.duration > 1800:
        raise SystemExit("--duration is capped at 1800 s")
    if args.restart_at is not None and not (args.db_stop and args.db_start):
        raise SystemExit("--restart-at needs --db-stop and --db-start")

    # .env may say DJANGO_DEBUG=1, or set no key: production settings, here and in gunicorn.
    os.environ.setdefault("DJANGO_SECRET_KEY", "soak-" + "x" * 50)
    os.environ.setdefault("DJANGO_DEBUG", "0")
    django_setup()
    from django.conf import settings

    from integrations import devtokens

    key = devtokens.generate_key()
    spool_dir = Path(tempfile.mkdtemp(prefix="itsm-soak-spool-"))
    env = {
        **os.environ,
        "DJANGO_DEBUG": "0",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "DJANGO_SECRET_KEY": os.environ["DJANGO_SECRET_KEY"],
        "SPOOL_DIR": str(spool_dir),
        "SPOOL_DRAIN_INTERVAL_SECONDS": "1",
        "LOG_LEVEL": "WARNING",
    }
    server = Gunicorn(
        port=args.port,
        workers=WORKERS,
        env=env,
        log_path=Path(tempfile.gettempdir()) / "itsm-soak-gunicorn.log",
        timeout=60,
    )
    if args.start_gunicorn:
        server.migrate()
    with JwksServer(devtokens.jwks_document(key)) as jwks:
        bench_connection_ensure(jwks.uri)
        token = devtokens.sign(
            devtokens.entra_claims(tenant_id=BENCH_TENANT_ID, audience=BENCH_AUDIENCE), key
        )
        if args.start_gunicorn:
            server.start()
        ledger = Ledger()
        tampered = tampered_file_plant(spool_dir, f"/soak/{os.urandom(4).hex()}/")
        started = time.monotonic()
        traffic = Traffic(args.port, token, ledger, started + args.duration)
        threads = [
            threading.Thread(target=traffic.run, args=(i,), daemon=True)
            for i in range(args.concurrency)
        ]
        slow = SlowClients(traffic, ledger, started + args.duration, args.slow_every)
        slow_threads = [
            threading.Thread(target=slow.run, args=(i,), daemon=True)
            for i in range(args.slow_clients)
        ]
        for t in threads + slow_threads:
            t.start()
        restarted = ""
        down: tuple[float, float] | None = None
        try:
            if args.restart_at is not None:
                time.sleep(max(0.0, started + args.restart_at - time.monotonic()))
                subprocess.run(["bash", "-c", args.db_stop], check=True, timeout=60)
                down_at = time.monotonic() - started
                time.sleep(args.down_seconds)
                subprocess.run(["bash", "-c", args.db_start], check=True, timeout=60)
                down = (started + down_at, time.monotonic())
                restarted = f"database down from {down_at:.0f}s for {args.down_seconds:.0f}s"
            for t in threads + slow_threads:
                t.join(timeout=args.duration + 120)
            drained = drain_by_hand(env)
            left = wait_for_spool(spool_dir, 120)
        finally:
            if args.start_gunicorn:
                server.stop()
        figures = reconcile(ledger, traffic.prefix)
        poison = reconcile_poison(ledger, spool_dir, tampered, down)
        slow_figures = reconcile_slow(ledger, settings.WEBHOOK_BODY_TIMEOUT_SECONDS, down)
        latency = reconcile_latency(ledger, down, args.max_latency, started)

    print(f"soak: {args.duration:.0f}s, {args.concurrency} clients; {restarted or 'no restart'}")
    print("deliveries sent:", dict(ledger.sent))
    print("answers:", dict(sorted(ledger.statuses.items())))
    print(
        f"queued (202): {ledger.statuses[202]}, lost: {len(ledger.lost)}, "
        f"unexpected answers: {len(ledger.wrong)}, spool left: {left}"
    )
    print("reconciliation:", figures)
    print("poison and tampering:", poison)
    print(
        f"slow clients ({args.slow_clients}, a byte every {args.slow_every:g}s; body deadline "
        f"{settings.WEBHOOK_BODY_TIMEOUT_SECONDS:g}s):"
    )
    for key, value in slow_figures.items():
        print(f"   {key}: {value}")
    print("valid deliveries' answer times:", latency)
    print("drain_spool:", drained.replace("\n", " | ")[:500])
    for line in (ledger.lost + ledger.wrong)[:10]:
        print("  ", line)
    bad = (
        ledger.lost
        or ledger.wrong
        or left
        or any(figures[k] for k in ("missing", "duplicated", "unexpected", "wrong state"))
        or any(
            poison[k]
            for k in (
                "poison not kept",
                "poison stored as alerts",
                "tampered stored",
                "tampered not in failed/",
            )
        )
    )
    print("RESULT:", "FAIL" if bad else "PASS (nothing lost, nothing duplicated)")
    return 1 if bad else 0


if __name__ == "__main__":
    os.chdir(ROOT)
    sys.exit(main())
