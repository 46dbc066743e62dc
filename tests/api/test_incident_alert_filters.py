"""The incident list's alert rule and monitoring service filters (GET /api/incidents/)."""

import pytest
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from integrations.models import Alert

pytestmark = pytest.mark.django_db


def numbers(client: APIClient, query: str) -> set[str]:
    response = client.get(f"/api/incidents/?{query}")
    assert response.status_code == 200, response.json()
    return {incident["number"] for incident in response.json()["results"]}


def test_incident_list_filters_by_alert_rule(viewer: APIClient, incidents: dict) -> None:
    assert numbers(viewer, "alert_rule=test-metricAlertRule") == {incidents["storage"]}
    assert numbers(viewer, "alert_rule=TEST-METRICALERTRULE") == {incidents["storage"]}
    assert numbers(viewer, "alert_rule=test-metric") == set()  # the whole name, not a part


def test_incident_list_filters_by_monitoring_service(viewer: APIClient, incidents: dict) -> None:
    assert numbers(viewer, "monitoring_service=Resource%20Health") == {incidents["vm"]}
    assert numbers(viewer, "monitoring_service=costalerts") == {incidents["budget"]}
    assert numbers(viewer, "monitoring_service=Log%20Analytics") == set()


def test_incident_list_alert_filters_combine(viewer: APIClient, incidents: dict) -> None:
    assert numbers(viewer, "alert_rule=test-metricAlertRule&monitoring_service=Platform") == {
        incidents["storage"]
    }
    assert numbers(viewer, "alert_rule=test-metricAlertRule&monitoring_service=CostAlerts") == set()


def test_incident_list_alert_filter_lists_an_incident_once(
    viewer: APIClient, incidents: dict
) -> None:
    # A second alert of the same rule on the same incident (Azure fired it again).
    again = Alert.objects.get(incident__number=incidents["storage"])
    again.pk = None
    again.alert_id = "/a/2-again"
    again.save()

    response = viewer.get("/api/incidents/?alert_rule=test-metricAlertRule")

    assert [i["number"] for i in response.json()["results"]] == [incidents["storage"]]
    assert response.json()["count"] == 1


def test_incident_list_alert_filter_uses_exists_not_distinct(
    viewer: APIClient, incidents: dict
) -> None:
    with CaptureQueriesContext(db_connection) as ctx:
        viewer.get("/api/incidents/?alert_rule=test-metricAlertRule")
    listing = [q["sql"] for q in ctx.captured_queries if 'FROM "incidents_incident"' in q["sql"]]
    assert listing
    assert all("EXISTS" in sql and "DISTINCT" not in sql for sql in listing), listing
