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
- poison deliveries (authenticated, parseable, but their alert ID is too large for the
  unique index on PostgreSQL: a deterministic database failure) are refused with 400, or
  spooled while the database is down and set aside by the drain, never retried forever,
  and each is kept in the delivery log as refused;
- a tampered spool file (wrong integrity tag) is never ingested and ends in failed/.

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
        # Poison needs PostgreSQL's index row limit; SQLite stores the same body fine.
        from django.db import connection as db

        self.poison_enabled = db.vendor == "postgresql"

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
            status = self.post(client, body, self.token)
            with self.ledger.lock:
                self.ledger.statuses[status] += 1
                self.ledger.sent["valid"] += 1
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
        """Send a delivery that fails deterministically in the database: never a 2xx but 202."""
        # ~980 random CJK characters: under the parser's length in characters, ~2,900 bytes
        # that do not compress, too large for a btree index row (SQLSTATE 54000).
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
            elif roll < 0.97 or not self.poison_enabled:
                self.hostile(client, "bad-body")
            else:
                self.poison(client, rng, n, seed)
        client.close()


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
    args = p.parse_args(argv)
    if args.duration > 1800:
        raise SystemExit("--duration is capped at 1800 s")
    if args.restart_at is not None and not (args.db_stop and args.db_start):
        raise SystemExit("--restart-at needs --db-stop and --db-start")

    django_setup()
    from integrations import devtokens

    key = devtokens.generate_key()
    spool_dir = Path(tempfile.mkdtemp(prefix="itsm-soak-spool-"))
    env = {
        **os.environ,
        "DJANGO_DEBUG": "0",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "DJANGO_SECRET_KEY": os.environ.get("DJANGO_SECRET_KEY", "soak-" + "x" * 50),
        "SPOOL_DIR": str(spool_dir),
        "SPOOL_DRAIN_INTERVAL_SECONDS": "1",
        "LOG_LEVEL": "WARNING",
    }
    server = Gunicorn(
        port=args.port,
        workers=2,
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
        for t in threads:
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
            for t in threads:
                t.join(timeout=args.duration + 120)
            drained = drain_by_hand(env)
            left = wait_for_spool(spool_dir, 120)
        finally:
            if args.start_gunicorn:
                server.stop()
        figures = reconcile(ledger, traffic.prefix)
        poison = reconcile_poison(ledger, spool_dir, tampered, down)

    print(f"soak: {args.duration:.0f}s, {args.concurrency} clients; {restarted or 'no restart'}")
    print("deliveries sent:", dict(ledger.sent))
    print("answers:", dict(sorted(ledger.statuses.items())))
    print(
        f"queued (202): {ledger.statuses[202]}, lost: {len(ledger.lost)}, "
        f"unexpected answers: {len(ledger.wrong)}, spool left: {left}"
    )
    print("reconciliation:", figures)
    print("poison and tampering:", poison)
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
