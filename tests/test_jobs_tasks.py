"""The apps' jobs (tasks.py): each loads what it needs and calls a service."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from core import jobs
from integrations.models import Connection, Delivery
from integrations.tasks import purge_deliveries

pytestmark = pytest.mark.django_db

DUE = datetime(2030, 6, 1, 3, 17, tzinfo=UTC)


@pytest.fixture
def deliveries(connection: Connection) -> None:
    for days in (100, 91, 89, 1):
        Delivery.objects.create(
            connection=connection,
            received_at=DUE - timedelta(days=days),
            body=b"{}",
            outcome="duplicate",
            status_code=200,
        )


def test_purge_deliveries_is_off_by_default(deliveries: None) -> None:
    purge_deliveries(scheduled_at=DUE)
    assert Delivery.objects.count() == 4


def test_purge_deliveries_keeps_the_retention_window_from_the_due_time(
    deliveries: None, settings: Any
) -> None:
    settings.DELIVERY_PURGE_DAILY = True
    settings.DELIVERY_RETENTION_DAYS = 90
    purge_deliveries(scheduled_at=DUE)
    assert sorted((DUE - d.received_at).days for d in Delivery.objects.all()) == [1, 89]


def test_purge_deliveries_refuses_a_retention_below_one_day(
    deliveries: None, settings: Any
) -> None:
    settings.DELIVERY_PURGE_DAILY = True
    settings.DELIVERY_RETENTION_DAYS = 0
    purge_deliveries(scheduled_at=DUE)
    assert Delivery.objects.count() == 4


def test_purge_deliveries_is_a_daily_periodic_job() -> None:
    spec = jobs._specs["integrations.purge_deliveries"]
    assert (spec.cron, spec.func) == ("17 3 * * *", purge_deliveries)
