"""Profiles: where a webhook request spends its time, by stage and by function.

`profile_in_process` calls the WSGI application in this process, as a gunicorn worker does,
with and without cProfile. `PySpy` records the gunicorn workers during a phase and
`spy_breakdown` reads its stacks. Both report the same stages (`PROFILE_STAGES`).
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from itsmbench import ROOT
from itsmbench.load import Request, new_alert_body
from itsmbench.server import BENCH_SLUG

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
    (
        "    _alert_find (one SELECT, FOR UPDATE on a Resolved)",
        "integrations/services.py",
        "_alert_find",
    ),
    ("    _alert_create", "integrations/services.py", "_alert_create"),
    ("      ci_upsert_for_resources", "cmdb/services.py", "ci_upsert_for_resources"),
    ("      incident_insert (one statement)", "integrations/fastpath.py", "incident_insert"),
    ("    COMMIT", "django/db/backends/base/base.py", "commit"),
    ("  response rendering (DRF)", "rest_framework/response.py", "rendered_content"),
)


def _wsgi_environ(req: Request) -> dict[str, Any]:
    """The WSGI environ gunicorn would pass for `req`."""
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
    """The `top` functions by own ("tottime") or cumulative time, with short file names."""
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


def _left_over(stages: list[dict[str, Any]]) -> float:
    """The share of the samples outside the WSGI application."""
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
    stages.append({"stage": "gunicorn, outside the WSGI app", "share": _left_over(stages)})
    site = "site-packages/"
    top_own = []
    for frame, v in own.most_common(top):
        func, _, file = frame.rpartition(" (")
        short = file.rstrip(")").split(site, 1)[-1].removeprefix(f"{ROOT}/")
        top_own.append({"share": round(v / total, 4), "function": f"{func} ({short})"})
    return {"samples": total, "stages": stages, "top_own": top_own}
