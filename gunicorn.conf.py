"""gunicorn's production settings: `gunicorn itsm.wsgi`, run from the project folder,
reads this file by default (docs/operations.md, "Processes"). Command-line options win.

- Threaded workers (`gthread`): a slow client holds one thread, not a whole worker, and
  the webhook reads a body only after the caller is authenticated, within one deadline
  (WEBHOOK_BODY_TIMEOUT_SECONDS). For many slow clients, put a buffering proxy in front.
- X-Forwarded-Proto and the other forwarded headers are believed only from
  TRUSTED_PROXIES, the same setting that lets the app take the client address from
  X-Forwarded-For (core.clientaddr). Empty (the default): from nobody.
- Each worker reads the connections and fetches their key sets when it starts
  (integrations.warmup), so it can take and spool deliveries from its first request.
- Metrics (/metrics, core.metrics) are counted by every worker into its own file in
  PROMETHEUS_MULTIPROC_DIR (prometheus_client's multiprocess mode), and a scrape adds
  them up. Unset: the master makes a private folder for this run and removes it at exit.
  Set: the folder is emptied at start (old counts would be added to the new ones); give
  each gunicorn on a host its own. Do not use --preload: the workers must import the app
  after the master set the variable.

Environment (read here, by gunicorn's master, so set it in the service's environment):
GUNICORN_BIND, WEB_CONCURRENCY, GUNICORN_THREADS, GUNICORN_TIMEOUT, TRUSTED_PROXIES,
PROMETHEUS_MULTIPROC_DIR.
"""

import ipaddress
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any


def _trusted_proxies() -> list[str]:
    items = [i.strip() for i in os.environ.get("TRUSTED_PROXIES", "").split(",") if i.strip()]
    # gunicorn wants networks without host bits; the app's setting accepts both.
    return [str(ipaddress.ip_network(item, strict=False)) for item in items]


bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000").split(",")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "gthread"
# Each thread may hold a PostgreSQL connection: size max_connections for
# workers x threads on every host.
threads = int(os.environ.get("GUNICORN_THREADS", "8"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 30
keepalive = 5

forwarded_allow_ips = ",".join(_trusted_proxies())
# gunicorn's default trusts three headers from loopback; we trust one, from our proxies.
secure_scheme_headers = {"X-FORWARDED-PROTO": "https"} if forwarded_allow_ips else {}


def post_worker_init(worker: Any) -> None:
    """Ready the worker's caches before its first request (integrations.warmup)."""
    try:
        from integrations.warmup import worker_warm_up

        worker_warm_up()
    except Exception:
        worker.log.exception("warmup.failed")


def post_request(worker: Any, req: Any, environ: dict[str, Any], resp: Any) -> None:
    """Close, rather than keep, a connection whose request was refused.

    Before reusing a connection gunicorn drains the unread rest of the body, one read at a
    time: a stranger answered 401 who trickles a byte every few seconds would hold a worker
    thread for minutes. Marking the body failed makes gunicorn close the connection instead
    (gunicorn.http.parser: a failed body is never drained). Azure opens a new connection
    for each delivery anyway.
    """
    status = getattr(resp, "status_code", None)
    body = getattr(req, "body", None)
    if body is not None and isinstance(status, int) and status >= 400:
        body.failed = True


METRICS_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
# The folder this master made for the metrics (removed at exit); empty when the operator set one.
_own_metrics_dir: list[str] = []


def on_starting(server: Any) -> None:
    """Before the first worker: point prometheus_client at an empty per-run folder.

    Set here, in the master's environment, the variable reaches every worker it forks;
    setting it when this file is read would leak into whoever reads it (tests).
    """
    folder = os.environ.get(METRICS_DIR_VARIABLE)
    if not folder:
        folder = tempfile.mkdtemp(prefix="itsm-metrics-")
        _own_metrics_dir.append(folder)
        os.environ[METRICS_DIR_VARIABLE] = folder
        return
    path = Path(folder)
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    for stale in path.glob("*.db"):
        stale.unlink()


def child_exit(server: Any, worker: Any) -> None:
    """A worker ended: its counts stay in the totals; its live gauges (if any) go."""
    if os.environ.get(METRICS_DIR_VARIABLE):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


def on_exit(server: Any) -> None:
    """Remove the metrics folder this master made."""
    for folder in _own_metrics_dir:
        shutil.rmtree(folder, ignore_errors=True)
