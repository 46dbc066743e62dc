"""The report: the budget's verdicts, the printed tables, the JSON file.

The budget (from the issue) applies to PostgreSQL behind gunicorn with 2 sync workers on a
2-core machine; on SQLite its verdicts are indicative.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

# The budget (issue text): PostgreSQL behind gunicorn, 2 sync workers, on a 2-core machine.
BUDGET_INGEST_RATIO = 0.4  # new-alert throughput / healthz throughput, at least
BUDGET_CPU_MS_PER_NEW = 2.5  # server CPU (gunicorn master + workers) per new alert, at most
BUDGET_QUERIES_PER_REPEAT = 4  # at most


def _fmt(value: float | None, spec: str = ".2f") -> str:
    """`value` formatted, or "-" when missing."""
    return (
        "-"
        if value is None or (isinstance(value, float) and math.isnan(value))
        else format(value, spec)
    )


def print_report(results: dict[str, Any]) -> None:
    """The run's configuration, the phase table, the query counts and the budget."""
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
        " the backends of the bench's database ('auto'), cli = this bench, other = the rest\n"
        " of the machine (noise);\n"
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
    """The budget, line by line: PASS, FAIL or n/a (also stores the throughput ratios)."""
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


def judge_without_queries(results: dict[str, Any]) -> list[dict[str, str]]:
    """The budget when --skip-queries left the counts out: their lines are n/a."""
    results["queries"]["cases"] = {
        "repeat": {"queries": 0, "status": 200, "health_checks": 0, "by_kind": {}, "outcome": ""}
    }
    lines = judge(results)
    results["queries"]["cases"] = {}
    return [
        dict(line, verdict="n/a", measured="skipped") if "queries" in line["line"] else line
        for line in lines
    ]


def print_profile(profile: dict[str, Any]) -> None:
    """Stage shares and hottest functions of the in-process profile."""
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


def print_spy(spy: dict[str, Any]) -> None:
    """Stage shares and hottest functions of the py-spy recordings."""
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


def write_json(results: dict[str, Any], path: str) -> None:
    """The full results as JSON, to `path` or to stdout ("-")."""
    text = json.dumps(results, indent=2, default=str)
    if path == "-":
        print(text)
    else:
        Path(path).write_text(text + "\n")
