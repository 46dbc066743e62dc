"""Concurrent deliveries of one alert (PostgreSQL): the unique constraint decides, once.

Azure retries and several action groups may deliver the same alert at the same moment.
Each thread has its own API client and database connection; a barrier releases them
together. To make the race certain rather than likely, every thread's first look-up of
the alert is held at a second barrier until all threads have looked and found nothing,
so all of them go on to create it. That is the worst case the constraint must handle.
"""

import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection as db_connection
from rest_framework.test import APIClient

from incidents.models import Incident
from integrations import services
from integrations.models import Alert, Connection, Delivery
from tests.helpers import STATIC, TIMEOUT, is_postgres, load_fixture, make_token

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

THREADS = 10


@pytest.fixture
def _postgres_only() -> None:
    if not is_postgres():
        pytest.skip("needs PostgreSQL: SQLite serialises writers, so there is no race to test")


@pytest.fixture
def lookups_meet(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hold each thread's first alert look-up until every thread has made it."""
    barrier = threading.Barrier(THREADS)
    seen = threading.local()
    real_lookup = services._alert_find

    def lookup_then_wait(connection: Connection, alert_id: str, **kwargs: Any) -> Alert | None:
        row = real_lookup(connection, alert_id, **kwargs)
        if not getattr(seen, "waited", False):
            seen.waited = True
            barrier.wait(timeout=TIMEOUT)
        return row

    monkeypatch.setattr(services, "_alert_find", lookup_then_wait)


def deliver_concurrently(path: str, body: bytes | list[bytes], token: str) -> list[Any]:
    """POST the body (or one body per thread) from THREADS threads at once; return the answers."""
    bodies = body if isinstance(body, list) else [body] * THREADS
    start = threading.Barrier(THREADS)
    responses: list[Any] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def deliver(body: bytes) -> None:
        client = APIClient()
        try:
            start.wait(timeout=TIMEOUT)
            response = client.generic(
                "POST",
                path,
                body,
                content_type="application/json",
                HTTP_AUTHORIZATION=f"Bearer {token}",
            )
            with lock:
                responses.append(response)
        except BaseException as exc:  # reported by the main thread
            with lock:
                errors.append(exc)
        finally:
            db_connection.close()

    threads = [threading.Thread(target=deliver, args=(b,)) for b in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=TIMEOUT * 2)
    assert not any(thread.is_alive() for thread in threads)
    assert not errors, errors
    return responses


@pytest.fixture
def _alert_constraint_dropped() -> Iterator[None]:
    """Drop the (connection, alertId) unique constraint for the negative control.

    The schema change outlives the test's transaction, so it is always put back; the
    duplicates the control creates are deleted first or the constraint could not return.
    """
    (constraint,) = [c for c in Alert._meta.constraints if c.name.endswith("_unique_alert")]
    with db_connection.schema_editor() as editor:
        editor.remove_constraint(Alert, constraint)
    try:
        yield
    finally:
        Delivery.objects.all().delete()
        Alert.objects.all().delete()
        with db_connection.schema_editor() as editor:
            editor.add_constraint(Alert, constraint)


@pytest.mark.usefixtures("_postgres_only", "lookups_meet")
def test_alert_ingest_concurrent_deliveries_open_one_incident(
    connection: Connection, key_set: Any, signing_key: Any
) -> None:
    body = json.dumps(load_fixture(STATIC)).encode()

    responses = deliver_concurrently(connection.webhook_path, body, make_token(signing_key))

    assert len(responses) == THREADS
    assert sorted(r.status_code for r in responses) == [200] * (THREADS - 1) + [201]
    assert {r.json()["incident"] for r in responses} == {Incident.objects.get().number}
    assert sorted(r.json()["status"] for r in responses) == ["created"] + ["duplicate"] * (
        THREADS - 1
    )
    assert Alert.objects.count() == 1
    assert Incident.objects.count() == 1
    assert Incident.objects.get().configuration_items.count() == 1
    assert Delivery.objects.count() == THREADS
    assert set(Delivery.objects.values_list("alert", flat=True)) == {Alert.objects.get().pk}


@pytest.mark.usefixtures("_postgres_only", "lookups_meet", "_alert_constraint_dropped")
def test_alert_ingest_race_without_unique_constraint_duplicates_incidents(
    connection: Connection, key_set: Any, signing_key: Any
) -> None:
    """Negative control: the same race, minus the constraint, does produce duplicates.

    This shows the test above passes because of the constraint, not because the threads
    happened to run one after another. (The row lock cannot help here: there is no row
    to lock until one is created.)
    """
    body = json.dumps(load_fixture(STATIC)).encode()

    responses = deliver_concurrently(connection.webhook_path, body, make_token(signing_key))

    assert [r.status_code for r in responses] == [201] * THREADS
    assert Alert.objects.count() == THREADS
    assert Incident.objects.count() == THREADS


@pytest.mark.usefixtures("_postgres_only", "lookups_meet")
def test_alert_ingest_fired_and_resolved_racing_end_resolved_once(
    connection: Connection, key_set: Any, signing_key: Any
) -> None:
    fired = load_fixture(STATIC)
    resolved = json.loads(json.dumps(fired))
    resolved["data"]["essentials"].update(
        monitorCondition="Resolved", resolvedDateTime="2025-04-15T18:22:12.851Z"
    )
    bodies = [json.dumps(fired if n % 2 else resolved).encode() for n in range(THREADS)]

    responses = deliver_concurrently(connection.webhook_path, bodies, make_token(signing_key))

    assert all(r.status_code in (200, 201) for r in responses)
    assert [r.status_code for r in responses].count(201) == 1
    alert = Alert.objects.get()
    assert alert.monitor_condition == "Resolved"  # the newest Azure timestamp says so
    assert Incident.objects.get().state == "resolved"
    assert Delivery.objects.count() == THREADS
