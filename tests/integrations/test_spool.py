"""While the database is unreachable, valid deliveries wait in a durable spool (202)."""

import io
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.db import OperationalError

from incidents.models import Incident
from integrations import selectors, services, spool
from integrations.models import Alert, Connection, Delivery
from tests.conftest import with_essentials

STATIC = "azure/platform-metric-static-threshold-fired.json"


@pytest.fixture
def spool_in(tmp_path: Path, settings: Any, monkeypatch: pytest.MonkeyPatch) -> Path:
    settings.SPOOL_DIR = tmp_path / "spool"
    monkeypatch.setattr(spool, "ensure_drainer", lambda: None)  # these tests drain by hand
    return settings.SPOOL_DIR


@pytest.fixture
def database_down(monkeypatch: pytest.MonkeyPatch) -> Any:
    def down(**kwargs: Any) -> None:
        raise OperationalError("could not connect to server")

    monkeypatch.setattr(services, "alert_ingest", down)
    monkeypatch.setattr(services, "delivery_record_refused", down)
    return monkeypatch


def _alerts(n: int) -> list[dict]:
    return [with_essentials(STATIC, alertId=f"/subscriptions/s/alerts/{i}") for i in range(n)]


@pytest.mark.django_db
def test_deliveries_are_queued_while_the_database_is_down_then_drained_once(
    connection: Connection, post_alert: Any, spool_in: Path, database_down: Any
) -> None:
    payloads = _alerts(3)
    answers = [post_alert(p) for p in payloads]
    assert [a.status_code for a in answers] == [202, 202, 202]
    assert answers[0].json() == {
        "status": "queued",
        "incident": None,
        "alert_id": "/subscriptions/s/alerts/0",
    }
    assert len(spool.pending()) == 3
    assert not Incident.objects.exists()

    database_down.undo()  # the database is back
    out = io.StringIO()
    call_command("drain_spool", stdout=out)

    assert "3 waiting, 3 ingested, 0 left" in out.getvalue()
    assert Incident.objects.count() == Alert.objects.count() == Delivery.objects.count() == 3
    assert spool.pending() == []
    first = Delivery.objects.get(reported_alert_id="/subscriptions/s/alerts/0")
    assert first.caller_app_id == "461e8683-5575-4561-ac7f-899cc907d62a"
    assert spool.spool_drain() == (0, 0)  # idempotent: nothing twice


@pytest.mark.django_db
def test_drain_keeps_arrival_order(
    connection: Connection, post_alert: Any, spool_in: Path, database_down: Any
) -> None:
    fired = with_essentials(STATIC, alertId="/a/1")
    resolved = with_essentials(STATIC, alertId="/a/1", monitorCondition="Resolved")
    post_alert(fired)
    post_alert(resolved)
    database_down.undo()
    spool.spool_drain()
    assert Incident.objects.get().state == "resolved"
    assert list(Delivery.objects.order_by("pk").values_list("outcome", flat=True)) == [
        "created",
        "resolved",
    ]


@pytest.mark.django_db
def test_drain_stops_and_keeps_files_while_the_database_is_still_down(
    connection: Connection, post_alert: Any, spool_in: Path, database_down: Any
) -> None:
    for payload in _alerts(2):
        post_alert(payload)
    monkeypatched_ingest = services.alert_ingest
    database_down.setattr(services, "spool_ingest", monkeypatched_ingest)
    assert spool.spool_drain() == (0, 2)
    assert len(spool.pending()) == 2


@pytest.mark.django_db
def test_a_full_spool_answers_503_with_retry_after(
    connection: Connection, post_alert: Any, spool_in: Path, database_down: Any, settings: Any
) -> None:
    settings.SPOOL_MAX_FILES = 1
    assert post_alert(_alerts(1)[0]).status_code == 202
    response = post_alert(_alerts(2)[1])
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert response.json()["code"] == "unavailable"


@pytest.mark.django_db
def test_refusals_are_still_answered_while_the_database_is_down(
    connection: Connection, post_alert: Any, spool_in: Path, database_down: Any
) -> None:
    assert post_alert(b"{not json").status_code == 400
    assert spool.pending() == []


@pytest.mark.django_db
def test_cached_connection_settings_authenticate_while_the_database_is_down(
    connection: Connection, post_alert: Any, spool_in: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert post_alert(_alerts(1)[0]).status_code == 201  # settings now cached
    monkeypatch.setattr(selectors.settings, "CONNECTION_CACHE_SECONDS", 0)

    def down(*args: Any, **kwargs: Any) -> None:
        raise OperationalError("down")

    monkeypatch.setattr(selectors.Connection.objects, "filter", down)
    monkeypatch.setattr(services, "alert_ingest", down)
    assert post_alert(_alerts(2)[1]).status_code == 202


def test_spool_files_are_written_whole(spool_in: Path) -> None:
    from datetime import UTC, datetime

    delivery = spool.SpooledDelivery(
        "c", "app", "oid", "tid", "application/json", datetime.now(UTC), b'{"x": "\\u00e9"}'
    )
    path = spool.spool_write(delivery)
    assert path.parent == spool_in
    assert not list(spool_in.glob(".*.tmp"))
    assert spool._read(path) == delivery


@pytest.mark.django_db(transaction=True)
def test_the_background_drainer_ingests_once_the_database_is_back(
    connection: Connection, post_alert: Any, tmp_path: Path, settings: Any, database_down: Any
) -> None:
    import time

    settings.SPOOL_DIR = tmp_path / "spool"
    settings.SPOOL_DRAIN_INTERVAL_SECONDS = 0.05
    assert post_alert(_alerts(1)[0]).status_code == 202  # starts the drainer
    database_down.undo()
    deadline = time.monotonic() + 10
    # A file leaves pending() when claimed, before its transaction commits: wait for both.
    while not Incident.objects.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert Incident.objects.count() == 1
    assert spool.pending() == []
