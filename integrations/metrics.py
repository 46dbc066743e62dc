"""The integration's scrape-time metrics: the spool's depth (core.metrics, /metrics).

Registered from IntegrationsConfig.ready. The spool is this node's folder (SPOOL_DIR),
shared by its gunicorn workers, so whichever worker answers reads the same files.
"""

from collections.abc import Iterable

from prometheus_client.core import GaugeMetricFamily, Metric

from . import spool


def spool_scrape() -> Iterable[Metric]:
    """Deliveries in the spool: waiting for the database, and set aside as failed."""
    family = GaugeMetricFamily(
        "itsm_spool_files",
        "Deliveries in this node's spool (SPOOL_DIR): waiting (the database was "
        "unavailable; drained when it is back) and failed (set aside, see drain_spool).",
        labels=["state"],
    )
    family.add_metric(["waiting"], len(spool.pending()))
    family.add_metric(["failed"], len(spool.failed()))
    yield family
