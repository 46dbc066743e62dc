"""SQL statements per webhook request, counted in this process on the server's database.

Through `django.test.Client` and `CaptureQueriesContext`, as `assertNumQueries` counts them:
new alerts with 1 and 20 targets (new, then known) and a repeat. PostgreSQL's per-request
connection health check runs outside Django's query log, so it is counted on its own.
"""

from __future__ import annotations

import json
import secrets
from collections import Counter
from typing import Any

from itsmbench.load import new_alert_body
from itsmbench.server import BENCH_SLUG

QUERY_TARGET_COUNTS = (1, 20)  # "constant in the number of targets": compared between these


def _kind(sql: str) -> str:
    """The statement's first keyword (SELECT, INSERT, WITH, ...)."""
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


def queries_skipped(vendor: str) -> dict[str, Any]:
    """The result of `count_queries` when --skip-queries leaves it out."""
    return {
        "vendor": vendor,
        "cases": {},
        "new_constant_in_targets": False,
        "all_statuses_as_expected": False,
    }
