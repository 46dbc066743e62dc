import io
from datetime import timedelta
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from incidents.models import Incident
from integrations.models import Alert, Connection, Delivery
from tests.helpers import STATIC, with_essentials

pytestmark = pytest.mark.django_db


def _purge(*args: str) -> str:
    out = io.StringIO()
    call_command("purge_deliveries", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def aged(connection: Connection, post_alert: Any) -> None:
    for n in range(5):
        post_alert(with_essentials(STATIC, alertId=f"/a/{n}"))
    old = timezone.now() - timedelta(days=40)
    Delivery.objects.filter(reported_alert_id__in=["/a/0", "/a/1", "/a/2"]).update(received_at=old)
    Delivery.objects.create(
        connection=connection,
        received_at=timezone.now(),
        body=b"{}",
        outcome="duplicate",
        status_code=200,
        replay_of=Delivery.objects.get(reported_alert_id="/a/0"),
    )


def test_purge_deliveries_removes_old_deliveries_in_batches_only(aged: None) -> None:
    assert "Deleted 3 deliveries" in _purge("--older-than", "30", "--batch-size", "2")
    assert Delivery.objects.count() == 3
    assert Incident.objects.count() == Alert.objects.count() == 5
    assert Delivery.objects.filter(replay_of__isnull=False).count() == 0


def test_purge_deliveries_dry_run_deletes_nothing(aged: None) -> None:
    assert "Would delete 3 deliveries" in _purge("--older-than", "30", "--dry-run")
    assert Delivery.objects.count() == 6


def test_purge_deliveries_default_retention_is_the_setting(aged: None, settings: Any) -> None:
    settings.DELIVERY_RETENTION_DAYS = 60
    assert "Deleted 0 deliveries" in _purge()


def test_purge_deliveries_refuses_nonsense() -> None:
    with pytest.raises(CommandError, match="at least 1 day"):
        _purge("--older-than", "0")
