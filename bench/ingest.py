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
import os
import secrets
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from itsmbench import ROOT as ROOT  # also puts the project on sys.path
from itsmbench.events import event_config_install
from itsmbench.load import Client as Client
from itsmbench.load import Request as Request
from itsmbench.load import new_alert_body, run_phase, sample_names_for
from itsmbench.profiling import PySpy, profile_in_process, spy_breakdown
from itsmbench.queries import count_queries, queries_skipped
from itsmbench.report import (
    judge,
    judge_without_queries,
    print_profile,
    print_report,
    print_spy,
    write_json,
)
from itsmbench.server import BENCH_AUDIENCE as BENCH_AUDIENCE
from itsmbench.server import BENCH_SLUG as BENCH_SLUG
from itsmbench.server import BENCH_TENANT_ID as BENCH_TENANT_ID
from itsmbench.server import Gunicorn as Gunicorn
from itsmbench.server import JwksServer as JwksServer
from itsmbench.server import bench_connection_ensure as bench_connection_ensure
from itsmbench.server import bench_token, parse_pids, postgres_pids
from itsmbench.server import django_setup as django_setup

# The names re-exported above ("X as X") are what bench/soak.py imports from this module.

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
MAX_SECONDS_CAP = 3000  # the one token is valid for an hour; stay well inside it


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line (see bench/README.md, "Options")."""
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
        help="PIDs of the database server ('auto': the postmaster of DATABASE_URL's port and "
        "its backends of DATABASE_URL's database, '' for none)",
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
    p.add_argument(
        "--event-rules",
        type=int,
        default=0,
        metavar="N",
        help="install N correlation rules that do not match the bench's alerts (issue 10)",
    )
    p.add_argument(
        "--event-windows",
        type=int,
        default=0,
        metavar="M",
        help="install M active maintenance windows that do not cover the bench's alerts",
    )
    p.add_argument(
        "--assignment-rules",
        type=int,
        default=0,
        metavar="A",
        help="install A assignment rules that do not match the bench's alerts (issue 11)",
    )
    p.add_argument(
        "--notification-rules",
        type=int,
        default=0,
        metavar="R",
        help="install R notification rules (priority 1 only: the bench's alerts are P5)",
    )
    args = p.parse_args(argv)
    if args.alerts < 1 or args.concurrency < 1 or args.warmup < 0 or args.targets < 0:
        p.error("-n and -c must be >= 1; --warmup and --targets >= 0")
    counts = (args.event_rules, args.event_windows, args.assignment_rules, args.notification_rules)
    if not all(0 <= n <= 500 for n in counts):
        p.error("--event-rules, --event-windows, --assignment-rules, --notification-rules: 0-500")
    if args.targets > 500:
        p.error("--targets: the webhook accepts at most 500 targets per alert")
    args.max_seconds = min(args.max_seconds, MAX_SECONDS_CAP)
    if args.py_spy and not (args.start_gunicorn or args.server_pids):
        p.error("--py-spy needs --start-gunicorn or --server-pids")
    return args


def main(argv: list[str] | None = None) -> int:
    """One run: setup, query count, load, optional profile, report; 1 if a budget line fails."""
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
    db_name = None
    if args.db_pids == "auto":
        db_pids = (
            postgres_pids(int(db.get("PORT") or 5432)) if connection.vendor == "postgresql" else []
        )
        # Only this database's backends: the server may serve other people's tests.
        db_name = str(db.get("NAME")) if db_pids else None
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
    token = bench_token(key)
    results: dict[str, Any] = {}
    with JwksServer(devtokens.jwks_document(key)) as jwks_server:
        action = bench_connection_ensure(jwks_server.uri)
        print(f"connection {BENCH_SLUG!r} {action}; key set at {jwks_server.uri}", flush=True)
        print(
            "event management: "
            + event_config_install(
                rules=args.event_rules,
                windows=args.event_windows,
                assignment_rules=args.assignment_rules,
                notification_rules=args.notification_rules,
            ),
            flush=True,
        )
        queries = queries_skipped(connection.vendor) if args.skip_queries else count_queries(token)
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
                db_name=db_name,
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
        "event_rules": args.event_rules,
        "event_windows": args.event_windows,
        "assignment_rules": args.assignment_rules,
        "notification_rules": args.notification_rules,
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
        write_json(results, args.json)
    return 0 if all(line["verdict"] != "FAIL" for line in results["budget"]) else 1


def run_load(
    args: argparse.Namespace,
    *,
    host: str,
    port: int,
    token: str,
    deadline: float,
    server_pids: list[int],
    db_pids: list[int],
    db_name: str | None,
    webhook_path: str,
) -> dict[str, Any]:
    """Warm up, then the three phases: /healthz, new alerts, repeats of those alerts."""
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
        "db_name": db_name,
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
