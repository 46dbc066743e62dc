"""The webhook's connection cache: bounded for unknown slugs, and on disk for outages."""

import os
import stat
from pathlib import Path
from typing import Any

import pytest
from django.db import OperationalError

from integrations import selectors, services, snapshot
from integrations.models import Connection
from tests.helpers import STATIC, with_essentials


@pytest.fixture
def spool_in(settings: Any, tmp_path: Path) -> Path:
    settings.SPOOL_DIR = tmp_path / "spool"
    snapshot.written_clear()
    selectors.connection_cache_clear()
    yield settings.SPOOL_DIR
    snapshot.written_clear()
    selectors.connection_cache_clear()


def _database_down(monkeypatch: pytest.MonkeyPatch) -> None:
    def down(*args: Any, **kwargs: Any) -> None:
        raise OperationalError("could not connect to server")

    monkeypatch.setattr(selectors.Connection.objects, "filter", down)
    monkeypatch.setattr(services, "alert_ingest", down)
    monkeypatch.setattr(services, "delivery_record_refused", down)


@pytest.mark.django_db
def test_connection_cache_of_unknown_slugs_is_bounded(
    connection: Connection, spool_in: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(selectors, "MAX_MISSING_SLUGS", 10)
    assert selectors.connection_get_for_webhook(slug="contoso") == connection
    for n in range(100):
        assert selectors.connection_get_for_webhook(slug=f"random-{n}") is None
    assert len(selectors._missing) == 10
    # Random slugs never push a real connection out of the cache.
    assert "contoso" in selectors._connections


@pytest.mark.django_db
def test_connection_settings_are_kept_on_disk_owner_only(
    connection: Connection, spool_in: Path
) -> None:
    selectors.connection_get_for_webhook(slug="contoso")
    path = spool_in / "connections" / "contoso.json"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    kept = snapshot.connection_load("contoso")
    assert kept is not None
    assert (kept.pk, kept.tenant_id, kept.audiences) == (
        connection.pk,
        connection.tenant_id,
        connection.audiences,
    )
    assert kept.updated_at == connection.updated_at


@pytest.mark.django_db
def test_fresh_process_spools_from_disk_while_the_database_is_down(
    connection: Connection, post_alert: Any, spool_in: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    selectors.connection_get_for_webhook(slug="contoso")  # some earlier process read them
    selectors.connection_cache_clear()  # a worker that never read them itself
    _database_down(monkeypatch)

    response = post_alert(with_essentials(STATIC, alertId="/a/outage"))

    assert response.status_code == 202, response.content
    assert response.json()["status"] == "queued"


@pytest.mark.django_db
def test_fresh_process_without_snapshot_still_answers_503(
    connection: Connection, post_alert: Any, spool_in: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _database_down(monkeypatch)
    response = post_alert(STATIC)
    assert response.status_code == 503
    assert response.json()["code"] == "database_unavailable"


@pytest.mark.django_db
def test_deleted_connection_leaves_the_disk(connection: Connection, spool_in: Path) -> None:
    selectors.connection_get_for_webhook(slug="contoso")
    Connection.objects.filter(pk=connection.pk).delete()
    selectors.connection_cache_clear()
    assert selectors.connection_get_for_webhook(slug="contoso") is None
    assert snapshot.connection_load("contoso") is None


def test_damaged_snapshot_is_a_missing_one(spool_in: Path) -> None:
    folder = spool_in / "connections"
    folder.mkdir(parents=True)
    (folder / "contoso.json").write_text("{not json")
    assert snapshot.connection_load("contoso") is None
    assert snapshot.connection_load("../etc/passwd") is None


@pytest.mark.django_db
def test_worker_warm_up_caches_connections_and_fetches_key_sets(
    connection: Connection, spool_in: Path, key_set: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from integrations import warmup

    Connection.objects.create(
        slug="disabled", tenant_id=connection.tenant_id, audiences=["a"], enabled=False
    )
    warmup.worker_warm_up().join(5)

    assert set(selectors._connections) == {"contoso"}
    assert key_set.fetches == 1
    assert snapshot.connection_load("contoso") is not None


@pytest.mark.django_db
def test_worker_warm_up_reads_the_disk_while_the_database_is_down(
    connection: Connection,
    post_alert: Any,
    spool_in: Path,
    key_set: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from integrations import warmup

    selectors.connection_get_for_webhook(slug="contoso")  # an earlier worker read them
    selectors.connection_cache_clear()

    def down(*args: Any, **kwargs: Any) -> None:
        raise OperationalError("could not connect to server")

    monkeypatch.setattr(warmup.Connection.objects, "filter", down)
    warmup.worker_warm_up().join(5)

    assert "contoso" in selectors._connections
    _database_down(monkeypatch)
    assert post_alert(with_essentials(STATIC, alertId="/a/warm")).status_code == 202
    assert key_set.fetches == 1  # fetched at start, not by the delivery
