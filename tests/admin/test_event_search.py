"""The console's search finds Service Health trackingIds and the event's text.

The event's text: an alert's condition line and the incident's description (which holds
what Azure wrote: its description, Service Health's communication). Alerts are matched
with EXISTS, so the list needs no DISTINCT (tests/api/test_event_search.py for the API).
"""

from typing import Any

import pytest
from django.db import connection as db_connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from incidents.models import Incident
from integrations.models import Alert, Connection
from tests.helpers import INCIDENTS, STATIC, load_fixture

pytestmark = pytest.mark.django_db


@pytest.fixture
def events(post_alert: Any, connection: Connection) -> dict[str, Incident]:
    """A Service Health outage (fired, then updated) and a metric alert on a VM."""
    outage = post_alert(load_fixture("azure/service-health-active.json")).json()["incident"]
    post_alert(load_fixture("azure/service-health-update.json"))
    metric = post_alert(load_fixture(STATIC)).json()["incident"]
    # The condition line as the ingest writes it for a CPU rule (integrations.headlines).
    Alert.objects.filter(incident__number=metric).update(
        condition="Percentage CPU 97.3 > 80 over 5 min"
    )
    return {
        "outage": Incident.objects.get(number=outage),
        "metric": Incident.objects.get(number=metric),
    }


def found(client: Client, term: str) -> set[str]:
    response = client.get(INCIDENTS, {"q": term, "state": "all"})
    assert response.status_code == 200
    return {incident.number for incident in response.context["cl"].result_list}


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("TEST-TTT", {"outage"}),  # the trackingId
        ("test-ttt", {"outage"}),  # any casing
        ("97.3 > 80", {"metric"}),  # the condition line
        ('"Percentage CPU" 97.3', {"metric"}),  # every word (a quoted phrase is one)
        ("Percentage nonsense", set()),
        ("customers using", {"outage"}),  # Service Health's communication, in the description
        ("TEST-TTT 97.3", set()),
    ],
)
def test_incident_list_search_finds_the_event(
    operator_client: Client, events: dict[str, Incident], term: str, expected: set[str]
) -> None:
    assert found(operator_client, term) == {events[name].number for name in expected}


def test_incident_list_search_matches_alerts_with_a_union_of_ids_not_distinct(
    operator_client: Client, events: dict[str, Incident]
) -> None:
    with CaptureQueriesContext(db_connection) as ctx:
        operator_client.get(INCIDENTS, {"q": "TEST-TTT"})
    listing = [q["sql"] for q in ctx.captured_queries if 'FROM "incidents_incident"' in q["sql"]]
    # One id list per table (each read from its own indexes), not a join to deduplicate.
    assert any("UNION" in sql for sql in listing)
    for sql in listing:
        # (The date drill-down's SELECT DISTINCT of days is not the list's.)
        assert 'DISTINCT "incidents_incident".' not in sql, sql
        # Nor Django's way out of duplicates: the whole list again, as a subquery of keys.
        assert 'IN (SELECT V0."id"' not in sql, sql
