"""The notifications' scrape-time metric: tries given up lately (core.metrics, /metrics).

Notifications are sent by job workers (`manage.py run_worker`), which nobody scrapes, so
the figure is read from the attempts they record: one count over the last day's rows
(the `created_at` index), not a scan of the whole history.
"""

from collections.abc import Iterable
from datetime import timedelta

from django.db.models import Count, Q
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily, Metric

from .choices import AttemptOutcome
from .models import NotificationAttempt

WINDOW = timedelta(hours=24)


def notifications_scrape() -> Iterable[Metric]:
    """Notifications given up (outcome failed) in the last 24 hours, and still retrying."""
    since = timezone.now() - WINDOW
    outcomes = (AttemptOutcome.FAILED, AttemptOutcome.RETRYING)
    counts = NotificationAttempt.objects.filter(created_at__gte=since).aggregate(
        **{o.value: Count("id", filter=Q(outcome=o)) for o in outcomes}
    )
    family = GaugeMetricFamily(
        "itsm_notifications_attempts_24h",
        "Notification tries of the last 24 hours by outcome: failed (given up: another "
        "4xx, a bad address, or the last retry failed) and retrying.",
        labels=["outcome"],
    )
    for outcome in outcomes:
        family.add_metric([outcome.value], counts[outcome.value])
    yield family
