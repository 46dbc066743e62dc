"""The API's `search` finds Service Health trackingIds and the event's text.

As the console does (tests/admin/test_event_search.py), but the whole value is one term.
"""

from typing import Any

import pytest
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from integrations.models import Alert, Connection
from tests.helpers import STATIC, load_fixture, results

pytestmark = pytest.mark.django_db


@pytest.fixture
def events(post_alert: Any, connection: Connection) -> dict[str, str]:
    """A Service Health outage (fired, then updated) and a metric alert, by number."""
    outage = post_alert(load_fixture("azure/service-health-active.json")).json()["incident"]
    post_alert(load_fixture("azure/service-health-update.json"))
    metric = post_alert(load_fixture(STATIC)).json()["incident"]
    Alert.objects.filter(incident__number=metric).update(
        condition="Percentage CPU 97.3 > 80 over 5 min"
    )
    return {"outage": outage, "metric": metric}


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("TEST-TTT", {"outage"}),  # the trackingId
        ("test-ttt", {"outage"}),
        ("CPU 97.3 > 80", {"metric"}),  # the condition line
        ("customers using", {"outage"}),  # Service Health's communication (description)
        ("customers 97.3", set()),  # one term, not words
    ],
)
def test_incident_search_finds_the_event(
    viewer: APIClient, events: dict[str, str], term: str, expected: set[str]
) -> None:
    found = {i["number"] for i in results(viewer.get("/api/incidents/", {"search": term}))}
    assert found == {events[name] for name in expected}


def test_incident_search_matches_alerts_with_a_union_of_ids_not_distinct(
    viewer: APIClient, events: dict[str, str]
) -> None:
    with CaptureQueriesContext(db_connection) as ctx:
        assert results(viewer.get("/api/incidents/", {"search": "TEST-TTT"}))
    listing = [q["sql"] for q in ctx.captured_queries if 'FROM "incidents_incident"' in q["sql"]]
    # One id list per table (each read from its own indexes), not a join to deduplicate.
    assert any("UNION" in sql for sql in listing)
    assert all("DISTINCT" not in sql for sql in listing), listing
