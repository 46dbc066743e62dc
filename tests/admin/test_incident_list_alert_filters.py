"""The incident list's filters by alert rule and by monitoring service."""

from datetime import timedelta
from typing import Any

import pytest
from django.core.cache import cache
from django.db import connection as db_connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from incidents.admin import filters
from integrations.models import Alert
from tests.helpers import INCIDENTS, RESOURCE_HEALTH, Fire

pytestmark = pytest.mark.django_db


def numbers(response: Any) -> set[str]:
    assert response.status_code == 200
    return {incident.number for incident in response.context["cl"].result_list}


def offered(response: Any, title: str) -> list[str]:
    """The values a filter offers, without its "All"."""
    spec = next(s for s in response.context["cl"].filter_specs if s.title == title)
    return [value for value, _ in spec.lookup_choices]


def test_incident_list_filters_by_alert_rule_and_monitoring_service(
    operator_client: Client, fire: Fire
) -> None:
    cpu = fire("vm-1", alertRule="High CPU")
    disk = fire("vm-2", alertRule="Disk full")
    health = fire("vm-3", fixture=RESOURCE_HEALTH)

    def listed(query: str) -> set[str]:
        return numbers(operator_client.get(f"{INCIDENTS}?{query}"))

    assert listed("alert_rule=High%20CPU") == {cpu.number}
    assert listed("monitoring_service=Platform") == {cpu.number, disk.number}
    assert listed("monitoring_service=Resource%20Health") == {health.number}
    assert listed("monitoring_service=Platform&alert_rule=Disk%20full") == {disk.number}
    response = operator_client.get(INCIDENTS)
    assert offered(response, "alert rule") == [
        "Disk full",
        "High CPU",
        "test-ResourceHealthAlertRule",
    ]
    assert offered(response, "monitoring service") == ["Platform", "Resource Health"]
    page = response.content.decode()
    assert "By alert rule" in page
    assert "By monitoring service" in page


def test_incident_list_alert_filters_offer_the_most_used_values_of_the_last_30_days(
    operator_client: Client, fire: Fire, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(filters, "ALERT_VALUES_SHOWN", 2)
    for rule, times in [("Often", 3), ("Sometimes", 2), ("Once", 1)]:
        for _ in range(times):
            fire("vm-1", alertRule=rule)
    old = fire("vm-2", alertRule="Long ago")
    Alert.objects.filter(incident=old).update(created_at=timezone.now() - timedelta(days=31))

    response = operator_client.get(INCIDENTS)

    assert offered(response, "alert rule") == ["Often", "Sometimes"]
    # Any other value still filters (a link from the dashboard, a value typed in the URL).
    response = operator_client.get(INCIDENTS, {"alert_rule": "Long ago"})
    assert numbers(response) == {old.number}
    assert offered(response, "alert rule") == ["Often", "Sometimes", "Long ago"]
    assert numbers(operator_client.get(INCIDENTS, {"alert_rule": "Never fired"})) == set()


def test_incident_list_alert_filter_lists_an_incident_once(
    operator_client: Client, fire: Fire
) -> None:
    incident = fire("vm-1", alertRule="Flapping")
    again = incident.alerts.get()
    again.pk = None
    again.alert_id += "-again"
    again.save()

    response = operator_client.get(INCIDENTS, {"alert_rule": "Flapping"})

    assert [i.number for i in response.context["cl"].result_list] == [incident.number]
    assert response.context["cl"].result_count == 1


def test_incident_list_alert_filters_use_exists_and_one_query_for_their_choices(
    operator_client: Client, fire: Fire
) -> None:
    fire("vm-1", alertRule="Disk full")
    with CaptureQueriesContext(db_connection) as ctx:
        operator_client.get(
            INCIDENTS, {"alert_rule": "Disk full", "monitoring_service": "Platform"}
        )
    sql = [q["sql"] for q in ctx.captured_queries]
    listing = [s for s in sql if 'FROM "incidents_incident"' in s and "EXISTS" in s]
    assert listing  # the count and the page
    # (The date drill-down's distinct days are no join.)
    assert not [s for s in listing if "DISTINCT" in s and "trunc" not in s.lower()]
    choices = [s for s in sql if "GROUP BY" in s and '"integrations_alert"."alert_rule"' in s]
    assert len(choices) == 1


def test_incident_list_alert_filter_values_are_read_once_a_minute_per_process(
    operator_client: Client, fire: Fire
) -> None:
    fire("vm-1", alertRule="High CPU")
    assert offered(operator_client.get(INCIDENTS), "alert rule") == ["High CPU"]
    fire("vm-2", alertRule="Disk full")

    with CaptureQueriesContext(db_connection) as queries:
        response = operator_client.get(INCIDENTS)

    assert offered(response, "alert rule") == ["High CPU"]  # from this minute's read
    assert not [
        q for q in queries.captured_queries if "COUNT" in q["sql"] and "alert_rule" in q["sql"]
    ]
    # Its URL filters by the new rule at once.
    assert len(numbers(operator_client.get(INCIDENTS, {"alert_rule": "Disk full"}))) == 1
    assert filters.ALERT_VALUES_FRESH_SECONDS == 60
    cache.clear()  # the minute is over
    assert offered(operator_client.get(INCIDENTS), "alert rule") == ["Disk full", "High CPU"]
