"""The large lists read no column of their whole table to draw their filters (issue 12).

No date drill-down on the incidents and deliveries (a SELECT DISTINCT of every row's
date), and the deliveries' status code and the alerts' severity and monitoring service
offer fixed or recent values, not the distinct values of the table.
"""

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection as db_connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from integrations.models import Alert, Delivery
from tests.helpers import ALERTS, DELIVERIES, INCIDENTS, Fire

pytestmark = pytest.mark.django_db


def _queries(client: Client, url: str) -> list[str]:
    with CaptureQueriesContext(db_connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, url
    return [q["sql"].upper() for q in ctx.captured_queries]


def _choices(client: Client, url: str, title: str) -> list[str]:
    response = client.get(url)
    spec = next(s for s in response.context["cl"].filter_specs if s.title == title)
    return [str(value) for value, _ in spec.lookup_choices]


@pytest.mark.parametrize("url", [INCIDENTS + "?state=all", DELIVERIES, ALERTS])
def test_large_list_selects_no_distinct_values_of_its_table(
    operator_client: Client, fire: Fire, url: str
) -> None:
    fire("vm-1")
    assert not [sql for sql in _queries(operator_client, url) if "DISTINCT" in sql]


def test_large_list_has_no_date_drill_down(operator_client: Client, fire: Fire) -> None:
    fire("vm-1")
    for url in (INCIDENTS, DELIVERIES):
        assert operator_client.get(url).context["cl"].date_hierarchy is None


def test_delivery_status_filter_offers_the_webhook_statuses_and_filters(
    operator_client: Client, fire: Fire, post_alert: Any
) -> None:
    fire("vm-1")
    post_alert(b"{nope")
    assert _choices(operator_client, DELIVERIES, "status code") == [
        "200",
        "201",
        "202",
        "400",
        "403",
        "415",
    ]
    listed = operator_client.get(DELIVERIES + "?status_code__exact=400").context["cl"]
    assert [d.status_code for d in listed.result_list] == [400]
    assert Delivery.objects.count() == 2
    none = operator_client.get(DELIVERIES + "?status_code__exact=abc").context["cl"]
    assert list(none.result_list) == []


def test_alert_severity_filter_offers_azure_severities_and_filters(
    operator_client: Client, fire: Fire
) -> None:
    fire("vm-1", severity="Sev1")
    fire("vm-2", severity="Sev3")
    assert _choices(operator_client, ALERTS, "severity") == ["Sev0", "Sev1", "Sev2", "Sev3", "Sev4"]
    listed = operator_client.get(ALERTS + "?severity__exact=Sev3").context["cl"]
    assert [a.severity for a in listed.result_list] == ["Sev3"]


def test_alert_service_filter_offers_recent_services_and_any_in_the_address(
    operator_client: Client, fire: Fire
) -> None:
    fire("vm-1", monitoringService="Platform")
    old = fire("vm-2", monitoringService="Log Analytics").alerts.get()
    Alert.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=40))
    assert _choices(operator_client, ALERTS, "monitoring service") == ["Platform"]
    url = ALERTS + "?monitoring_service__exact=Log%20Analytics"
    assert _choices(operator_client, url, "monitoring service") == ["Platform", "Log Analytics"]
    listed = operator_client.get(url).context["cl"]
    assert [a.pk for a in listed.result_list] == [old.pk]
