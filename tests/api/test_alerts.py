"""Alerts (read-only): fields, filters, ordering, pagination, query count."""

from typing import Any

import pytest
from rest_framework.test import APIClient

from integrations.models import Alert
from tests.helpers import (
    BUDGET,
    RESOURCE_HEALTH,
    STATIC,
    assert_constant_queries,
    fire,
    results,
    with_essentials,
)

pytestmark = pytest.mark.django_db


def _ids(response: Any) -> list[str]:
    return [a["alert_id"] for a in results(response)]


def test_alert_list_shows_fields(viewer: APIClient, incidents: dict) -> None:
    alert = next(a for a in results(viewer.get("/api/alerts/")) if a["alert_id"] == "/a/1")
    assert set(alert) == {
        "id", "alert_id", "connection", "incident", "alert_rule", "alert_rule_id", "severity",
        "signal_type", "monitoring_service", "monitor_condition", "target_ids",
        "configuration_items", "fired_at", "resolved_at", "portal_url", "azure_resolves",
        "tracking_id", "created_at",
        "updated_at",
    }  # fmt: skip
    assert (alert["connection"], alert["incident"], alert["severity"]) == (
        "contoso",
        incidents["vm"],
        "Sev1",
    )
    assert alert["monitor_condition"] == "Fired"
    assert alert["target_ids"][0].lower().endswith("/virtualmachines/test-vm")
    assert viewer.get(f"/api/alerts/{alert['id']}/").json() == alert
    assert viewer.get("/api/alerts/999999/").status_code == 404


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("connection=contoso", {"/a/1", "/a/2", "/a/3"}),
        ("connection=nope", set()),
        ("alert_id=/a/2", {"/a/2"}),
        ("alert_rule=TEST-RESOURCEHEALTHALERTRULE", {"/a/1"}),
        ("monitor_condition=Resolved", {"/a/2"}),
        ("monitor_condition=Fired", {"/a/1", "/a/3"}),
        ("monitoring_service=resource health", {"/a/1"}),
        ("fired_after=2025-04-15T18:18:00Z", {"/a/1"}),
        ("fired_before=2025-04-15T18:00:00Z", {"/a/3"}),
    ],
)
def test_alert_list_filters(
    viewer: APIClient, incidents: dict, post_alert: Any, query: str, expected: set
) -> None:
    resolved = with_essentials(STATIC, alertId="/a/2", monitorCondition="Resolved")
    assert post_alert(resolved).status_code == 200
    assert set(_ids(viewer.get(f"/api/alerts/?{query}"))) == expected


@pytest.mark.parametrize("query", ["monitor_condition=Open", "fired_after=soon"])
def test_alert_list_refuses_bad_filter_values(viewer: APIClient, query: str) -> None:
    response = viewer.get(f"/api/alerts/?{query}")
    assert response.status_code == 400
    assert query.split("=")[0] in response.json()["errors"]


@pytest.mark.parametrize(
    ("ordering", "expected"),
    [
        ("", ["/a/3", "/a/2", "/a/1"]),  # newest first
        ("created_at", ["/a/1", "/a/2", "/a/3"]),
        ("fired_at", ["/a/3", "/a/2", "/a/1"]),
        ("-fired_at", ["/a/1", "/a/2", "/a/3"]),
    ],
)
def test_alert_list_ordering(
    viewer: APIClient, incidents: dict, ordering: str, expected: list
) -> None:
    assert _ids(viewer.get(f"/api/alerts/?ordering={ordering}")) == expected


def test_alert_list_paginates(viewer: APIClient, incidents: dict) -> None:
    page = viewer.get("/api/alerts/?page_size=2&ordering=created_at").json()
    assert (page["count"], [a["alert_id"] for a in page["results"]]) == (3, ["/a/1", "/a/2"])
    assert _ids(viewer.get(page["next"])) == ["/a/3"]


def test_alert_list_query_count_is_constant(
    viewer: APIClient, post_alert: Any, connection: Any
) -> None:
    fire(post_alert, RESOURCE_HEALTH, "/q/1")

    def more() -> None:
        for n in range(2, 7):
            fire(post_alert, BUDGET, f"/q/{n}")

    assert_constant_queries(viewer, "/api/alerts/", more)
    assert Alert.objects.count() == 6
