"""Concurrent first alerts of one correlation group (PostgreSQL): one incident holds them all.

A storm's alerts arrive together. Each thread's first look-up of the group's open incident
is held at a barrier until every thread has looked and found none, so all of them go on to
open it: the worst case. The partial unique constraint on the open group's key lets one
commit; the others' transactions fail, retry, and join it.
"""

import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection as db_connection

from incidents.models import Incident
from integrations import correlation
from integrations.models import Alert, Connection, Delivery
from tests.helpers import TIMEOUT, is_postgres, make_token
from tests.integrations.test_correlation import make_rule, storm_alert
from tests.integrations.test_races import THREADS, deliver_concurrently

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def _postgres_only() -> None:
    if not is_postgres():
        pytest.skip("needs PostgreSQL: SQLite serialises writers, so there is no race to test")


@pytest.fixture
def group_lookups_meet(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hold each thread's first group look-up until every thread has made it."""
    barrier = threading.Barrier(THREADS)
    seen = threading.local()
    real_lookup = correlation.group_incident

    def lookup_then_wait(*, key: str) -> Incident | None:
        found = real_lookup(key=key)
        if not getattr(seen, "waited", False):
            seen.waited = True
            barrier.wait(timeout=TIMEOUT)
        return found

    monkeypatch.setattr(correlation, "group_incident", lookup_then_wait)


@pytest.fixture
def _group_constraint_dropped() -> Iterator[None]:
    """Drop the one-open-incident-per-group constraint for the negative control."""
    (constraint,) = [c for c in Incident._meta.constraints if c.name.endswith("_per_group")]
    with db_connection.schema_editor() as editor:
        editor.remove_constraint(Incident, constraint)
    try:
        yield
    finally:
        Delivery.objects.all().delete()
        Alert.objects.all().delete()
        Incident.objects.all().delete()
        with db_connection.schema_editor() as editor:
            editor.add_constraint(Incident, constraint)


def _storm() -> list[bytes]:
    return [json.dumps(storm_alert(f"vm-{i}", minutes=i / 10)).encode() for i in range(THREADS)]


@pytest.mark.usefixtures("_postgres_only", "group_lookups_meet")
def test_correlation_concurrent_first_alerts_of_a_group_open_one_incident(
    connection: Connection, key_set: Any, signing_key: Any
) -> None:
    rule = make_rule()

    responses = deliver_concurrently(connection.webhook_path, _storm(), make_token(signing_key))

    assert sorted(r.json()["status"] for r in responses) == ["created"] + ["grouped"] * (
        THREADS - 1
    )
    incident = Incident.objects.get()
    assert {r.json()["incident"] for r in responses} == {incident.number}
    assert incident.alert_count == THREADS
    assert incident.configuration_items.count() == THREADS
    assert Alert.objects.filter(incident=incident, correlation_rule=rule).count() == THREADS
    assert Delivery.objects.count() == THREADS


@pytest.mark.usefixtures("_postgres_only", "group_lookups_meet", "_group_constraint_dropped")
def test_correlation_race_without_group_constraint_opens_an_incident_each(
    connection: Connection, key_set: Any, signing_key: Any
) -> None:
    """Negative control: the same race, minus the constraint, opens duplicates.

    So the test above passes because of the constraint, not because the threads happened
    to run one after another (the row lock cannot help: there is no row yet to lock).
    """
    make_rule()

    responses = deliver_concurrently(connection.webhook_path, _storm(), make_token(signing_key))

    assert [r.json()["status"] for r in responses] == ["created"] * THREADS
    assert Incident.objects.count() == THREADS
