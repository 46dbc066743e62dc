"""Metrics for the people who run the tool: `GET /metrics` in Prometheus's text format.

Two kinds (docs/operations.md, "Metrics"):

- Events, counted as they happen by the metric objects below: the webhook's answers by
  outcome and HTTP status, and how long it took to give them. A counter increment and a
  histogram observation per delivery, nothing else on the hot path.
- States, read when Prometheus scrapes: the jobs the engine holds (core.jobs) and what
  the apps register with `register_scrape` from their AppConfig.ready (the spool, from
  integrations), so core imports no app.

Under gunicorn each worker process counts on its own. gunicorn.conf.py puts
prometheus_client in multiprocess mode (PROMETHEUS_MULTIPROC_DIR: one file per process),
and whichever worker answers a scrape adds every process's files up. Without that
variable (runserver, manage.py, tests) the counts are this process's.

Only clients whose address (core.clientaddr, through TRUSTED_PROXIES) is in
METRICS_ALLOWED_CIDRS, or that send `Authorization: Bearer <METRICS_TOKEN>`, are served;
everyone else gets 403. The token is compared in constant time and never logged.
"""

import hmac
import ipaddress
import logging
import os
from collections.abc import Callable, Iterable
from functools import lru_cache

from django.conf import settings
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_safe
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector

from core import jobs
from core.clientaddr import Network, client_address, parse_networks

logger = logging.getLogger(__name__)

# The event metrics live here, not in prometheus_client's global registry (which would
# add this process's CPU and memory: meaningless summed over workers).
REGISTRY = CollectorRegistry(auto_describe=True)

WEBHOOK_DELIVERIES = Counter(
    "itsm_webhook_deliveries",
    "Requests the Azure Monitor webhook answered, by outcome (created, resolved, ..., "
    "queued; rejected for a 4xx, failed for a 5xx) and HTTP status.",
    ["outcome", "status"],
    registry=REGISTRY,
)
# From a couple of milliseconds (a duplicate) to the 10 s where Azure gives up.
WEBHOOK_BUCKETS = (0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
WEBHOOK_DURATION = Histogram(
    "itsm_webhook_duration_seconds",
    "Time the webhook took to answer, from the view's start to its answer, by answer "
    "(accepted, rejected, failed).",
    ["answer"],
    buckets=WEBHOOK_BUCKETS,
    registry=REGISTRY,
)

ScrapeFunction = Callable[[], Iterable[Metric]]
_scrapes: dict[str, ScrapeFunction] = {}


def webhook_answered(*, status: int, outcome: str | None, seconds: float) -> None:
    """Count one answer of the webhook and observe how long it took.

    `outcome` is what an accepted delivery did (the answer's `status`); a refusal has
    none, and is counted as rejected (4xx) or failed (5xx) with its status code.
    """
    key = (status, outcome)
    children = _webhook_children.get(key)
    if children is None:
        children = _webhook_children[key] = _webhook_labels(status, outcome)
    counter, histogram = children
    counter.inc()
    histogram.observe(seconds)


# The labelled children by (status, outcome): `labels()` costs more than the increment.
# A race only looks the same children up twice.
_webhook_children: dict[tuple[int, str | None], tuple[Counter, Histogram]] = {}


def _webhook_labels(status: int, outcome: str | None) -> tuple[Counter, Histogram]:
    if status < 300:
        answer, label = "accepted", outcome or "accepted"
    elif status < 500:
        answer = label = "rejected"
    else:
        answer = label = "failed"
    return WEBHOOK_DELIVERIES.labels(label, str(status)), WEBHOOK_DURATION.labels(answer)


def register_scrape(name: str, scrape: ScrapeFunction) -> None:
    """Have `scrape()` read at each scrape; its metrics join the answer.

    For states (a folder's size, a queue's length), computed in the process that answers
    the scrape. Registering a name again replaces the function (AppConfig.ready may run
    more than once in tests).
    """
    _scrapes[name] = scrape


def _jobs_scrape() -> Iterable[Metric]:
    counts = jobs.job_counts()
    family = GaugeMetricFamily(
        "itsm_jobs",
        "Background jobs by state: waiting (due, not taken), scheduled (due later), "
        "running, failed (gave up; kept JOBS_RETENTION_DAYS). On SQLite, this process's.",
        labels=["state"],
    )
    for state in ("waiting", "scheduled", "running", "failed"):
        family.add_metric([state], getattr(counts, state))
    yield family


register_scrape("jobs", _jobs_scrape)


class _ScrapeCollector:
    """The registered scrape functions, each guarded: one that fails (the database is
    down) leaves its metrics out and says so in `itsm_metrics_scrape_up`."""

    def collect(self) -> Iterable[Metric]:
        up = GaugeMetricFamily(
            "itsm_metrics_scrape_up",
            "1 when the scrape-time source answered, 0 when its metrics are left out.",
            labels=["source"],
        )
        for name, scrape in sorted(_scrapes.items()):
            try:
                found = list(scrape())
            except (DatabaseError, OSError) as exc:
                logger.warning("metrics.scrape_failed source=%s error=%s", name, type(exc).__name__)
                up.add_metric([name], 0)
                continue
            up.add_metric([name], 1)
            yield from found
        yield up


class _Events:
    """This process's event metrics (single-process mode)."""

    def collect(self) -> Iterable[Metric]:
        return REGISTRY.collect()


def multiprocess_mode() -> bool:
    """Whether the event metrics are in per-process files (gunicorn.conf.py sets this)."""
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


def exposition(accept: str = "") -> tuple[bytes, str]:
    """The metrics and their content type: every process's events, and the states now.

    Prometheus's text format, or OpenMetrics when the `Accept` header asks for it.
    """
    registry = CollectorRegistry(auto_describe=False)
    if multiprocess_mode():
        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(_as_collector(_Events()))
    registry.register(_as_collector(_ScrapeCollector()))
    encoder, content_type = choose_encoder(accept)
    return encoder(registry), content_type


def _as_collector(collector: object) -> Collector:
    # prometheus_client's Collector is an abstract class; any object with collect() does.
    return collector  # type: ignore[return-value]


@lru_cache(maxsize=8)
def _networks(value: tuple[str, ...]) -> tuple[Network, ...]:
    return parse_networks(value)


def _address_in(address: str, networks: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 from a dual-stack socket is loopback
    return any(ip in network for network in networks)


def _bearer_matches(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    if not token:
        return False
    scheme, _, given = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode(), token.encode())


def allowed(request: HttpRequest) -> bool:
    """Whether this client may read the metrics: its address, or the token."""
    networks = _networks(tuple(settings.METRICS_ALLOWED_CIDRS))
    return _address_in(client_address(request), networks) or _bearer_matches(request)


@require_safe
def metrics_view(request: HttpRequest) -> HttpResponse:
    """Serve the metrics to allowed clients (403 to the others); touches the database only
    for the job counts (PostgreSQL)."""
    if not allowed(request):
        return HttpResponse(
            "Forbidden: /metrics is served to METRICS_ALLOWED_CIDRS or with METRICS_TOKEN.\n",
            status=403,
            content_type="text/plain; charset=utf-8",
        )
    body, content_type = exposition(request.META.get("HTTP_ACCEPT", ""))
    return HttpResponse(body, content_type=content_type)
