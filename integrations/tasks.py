"""Background jobs of the integrations app (registered through core.jobs)."""

import logging
from datetime import datetime, timedelta

from django.conf import settings

from core import jobs
from integrations.flapping import FLAPPING_END_JOB, flapping_end
from integrations.maintenance import RELEASE_JOB, maintenance_window_release
from integrations.services import AUTO_RESOLVE_JOB, delivery_purge, incident_auto_resolve

logger = logging.getLogger(__name__)


@jobs.periodic("17 3 * * *", name="integrations.purge_deliveries")
def purge_deliveries(*, scheduled_at: datetime) -> None:
    """Daily, when DELIVERY_PURGE_DAILY is on: purge deliveries past DELIVERY_RETENTION_DAYS."""
    if not settings.DELIVERY_PURGE_DAILY:
        return
    days = settings.DELIVERY_RETENTION_DAYS
    if days < 1:
        logger.error("deliveries.purge_skipped reason=retention_below_one_day days=%s", days)
        return
    # From the due time, not the clock: a late or repeated run deletes the same rows.
    before = scheduled_at - timedelta(days=days)
    count = delivery_purge(before=before)
    logger.info("deliveries.purged count=%s before=%s", count, before.isoformat())


@jobs.job(AUTO_RESOLVE_JOB, attempts=5)
def auto_resolve(*, incident_id: int) -> None:
    """Resolve a quiet incident of alerts Azure never resolves (a connection's setting)."""
    incident_auto_resolve(incident_id=incident_id)


@jobs.job(RELEASE_JOB, attempts=5)
def maintenance_release(*, window_id: int) -> None:
    """At a maintenance window's end: open incidents for what it held that still fires."""
    maintenance_window_release(window_id=window_id)


@jobs.job(FLAPPING_END_JOB, attempts=5)
def flapping_ended(*, incident_id: int) -> None:
    """Clear an incident's flapping mark once its alert rule has been quiet long enough."""
    flapping_end(incident_id=incident_id)
