"""Configuration items: list (filters, ordering, pagination), create, edit, their incidents."""

from typing import Any

import pytest
from rest_framework.test import APIClient

from cmdb.models import ConfigurationItem
from incidents.models import Incident
from incidents.services import incident_cancel
from tests.factories import ConfigurationItemFactory
from tests.helpers import (
    LOG_V2,
    RESOURCE_HEALTH,
    STATIC,
    VM_ID,
    assert_constant_queries,
    fire,
    results,
)
from tests.helpers import SUBSCRIPTION as SUB

pytestmark = pytest.mark.django_db


def _names(response: Any) -> list[str]:
    return [ci["name"] for ci in results(response)]


def test_configuration_item_list_shows_fields(viewer: APIClient, incidents: dict) -> None:
    vm = next(
        ci for ci in results(viewer.get("/api/configuration-items/")) if ci["name"] == "test-VM"
    )
    assert vm == {
        "id": vm["id"],
        "name": "test-VM",
        "ci_class": "microsoft.compute/virtualmachines",
        "azure_resource_id": VM_ID.lower(),
        "subscription_id": SUB,
        "resource_group": "test-rg",
        "first_seen_at": vm["first_seen_at"],
        "last_seen_at": vm["last_seen_at"],
        "created_at": vm["created_at"],
        "has_open_incidents": True,
    }


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (f"azure_resource_id={VM_ID.upper()}", {"test-VM"}),
        ("ci_class=Microsoft.Storage/storageAccounts", {"test-storageAccount"}),
        ("search=storage", {"test-storageAccount"}),
        (f"subscription_id={SUB.upper()}", {"test-storageAccount", "test-VM"}),
        ("resource_group=TEST-RG", {"test-storageAccount", "test-VM"}),
        ("resource_group=spare-rg", {"spare"}),
        ("resource_group=nope", set()),
        ("has_open_incidents=true", {"test-VM"}),
        ("has_open_incidents=false", {"spare", "test-storageAccount"}),
    ],
)
def test_configuration_item_list_filters(
    viewer: APIClient, incidents: dict, query: str, expected: set
) -> None:
    ConfigurationItemFactory(name="spare", subscription_id="other", resource_group="spare-rg")
    incident_cancel(
        incident=Incident.objects.get(number=incidents["storage"]), actor="test", reason="noise"
    )
    assert set(_names(viewer.get(f"/api/configuration-items/?{query}"))) == expected


@pytest.mark.parametrize(
    ("ordering", "expected"),
    [
        ("", ["a", "b", "c"]),
        ("-name", ["c", "b", "a"]),
        ("ci_class,name", ["b", "c", "a"]),
        ("-created_at", ["c", "b", "a"]),
    ],
)
def test_configuration_item_list_ordering(viewer: APIClient, ordering: str, expected: list) -> None:
    for name, ci_class in (("a", "z/z"), ("b", "x/x"), ("c", "x/x")):
        ConfigurationItemFactory(name=name, ci_class=ci_class)
    assert _names(viewer.get(f"/api/configuration-items/?ordering={ordering}")) == expected


def test_configuration_item_list_paginates(viewer: APIClient) -> None:
    for n in range(5):
        ConfigurationItemFactory(name=f"ci-{n}")
    page = viewer.get("/api/configuration-items/?page_size=2&page=3").json()
    assert (page["count"], [c["name"] for c in page["results"]], page["next"]) == (
        5,
        ["ci-4"],
        None,
    )


def test_configuration_item_list_query_count_is_constant(
    viewer: APIClient, post_alert: Any, connection: Any
) -> None:
    fire(post_alert, RESOURCE_HEALTH, "/q/1")

    def more() -> None:
        fire(post_alert, STATIC, "/q/2")
        for _ in range(5):
            ConfigurationItemFactory()

    assert_constant_queries(viewer, "/api/configuration-items/", more)


def test_configuration_item_retrieve(viewer: APIClient, incidents: dict) -> None:
    ci = ConfigurationItem.objects.get(name="test-VM")
    body = viewer.get(f"/api/configuration-items/{ci.pk}/").json()
    assert (body["id"], body["has_open_incidents"]) == (ci.pk, True)
    assert viewer.get("/api/configuration-items/999999/").status_code == 404
    assert viewer.get("/api/configuration-items/99999999999999999999999/").status_code == 404


def test_configuration_item_create_from_a_resource_id(operator: APIClient) -> None:
    resource_id = (
        f"/subscriptions/{SUB.upper()}/resourceGroups/RG1/providers/Microsoft.Sql/servers/s1"
        "/databases/db1"
    )
    response = operator.post(
        "/api/configuration-items/", {"azure_resource_id": resource_id}, format="json"
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["name"], body["ci_class"], body["subscription_id"], body["resource_group"]) == (
        "db1",
        "microsoft.sql/servers/databases",
        SUB,
        "rg1",
    )
    assert body["azure_resource_id"] == resource_id.lower()
    assert body["has_open_incidents"] is False

    again = operator.post(
        "/api/configuration-items/", {"azure_resource_id": resource_id.upper()}, format="json"
    )
    assert again.status_code == 400
    assert again.json()["code"] == "duplicate_resource_id"


def test_configuration_item_create_by_hand(operator: APIClient) -> None:
    response = operator.post(
        "/api/configuration-items/",
        {"name": "Core switch", "ci_class": "network/switch"},
        format="json",
    )
    assert response.status_code == 201
    assert (response.json()["azure_resource_id"], response.json()["ci_class"]) == (
        None,
        "network/switch",
    )


@pytest.mark.parametrize(
    ("payload", "fields"),
    [
        ({}, {"name", "ci_class"}),
        ({"name": "x"}, {"ci_class"}),
        ({"name": "x", "ci_class": "y", "azure_resource_id": "vm1"}, {"azure_resource_id"}),
        ({"name": "x" * 256, "ci_class": "y"}, {"name"}),
        ({"name": "x", "ci_class": "y", "subscription_id": "s" * 65}, {"subscription_id"}),
    ],
)
def test_configuration_item_create_validates(
    operator: APIClient, payload: dict, fields: set
) -> None:
    response = operator.post("/api/configuration-items/", payload, format="json")
    assert response.status_code == 400
    assert set(response.json()["errors"]) == fields
    assert not ConfigurationItem.objects.exists()


def test_configuration_item_update_and_partial_update(operator: APIClient) -> None:
    ci = ConfigurationItemFactory(name="vm-1", resource_group="rg")
    url = f"/api/configuration-items/{ci.pk}/"
    body = operator.patch(url, {"name": "vm-one"}, format="json").json()
    assert (body["name"], body["resource_group"], body["azure_resource_id"]) == (
        "vm-one",
        "rg",
        ci.azure_resource_id,
    )
    response = operator.put(url, {"name": "vm-1", "ci_class": "x/y"}, format="json")
    assert response.status_code == 200
    assert (response.json()["ci_class"], response.json()["resource_group"]) == ("x/y", "")
    response = operator.put(url, {"name": "vm-1"}, format="json")
    assert response.status_code == 400
    assert "ci_class" in response.json()["errors"]
    # The resource ID identifies the CI: not editable (ignored).
    body = operator.patch(url, {"azure_resource_id": "/x"}, format="json").json()
    assert body["azure_resource_id"] == ci.azure_resource_id


def test_configuration_item_incidents(viewer: APIClient, incidents: dict, post_alert: Any) -> None:
    vm = ConfigurationItem.objects.get(name="test-VM")
    # A stateless alert: another Resource Health one would join the open incident.
    again = fire(
        post_alert,
        "azure/activity-log-administrative-fired.json",
        "/a/9",
        firedDateTime="2029-01-01T00:00:00Z",
    )
    url = f"/api/configuration-items/{vm.pk}/incidents/"
    assert [i["number"] for i in results(viewer.get(url))] == [again, incidents["vm"]]
    assert [i["number"] for i in results(viewer.get(f"{url}?ordering=number&page_size=1"))] == [
        incidents["vm"]
    ]
    assert results(viewer.get(f"{url}?state=closed")) == []
    missing = viewer.get("/api/configuration-items/999999/incidents/")
    assert missing.status_code == 404
    assert missing.json()["code"] == "not_found"


def test_configuration_item_incidents_query_count_is_constant(
    viewer: APIClient, post_alert: Any, connection: Any
) -> None:
    fire(post_alert, LOG_V2, "/q/1")
    ci = ConfigurationItem.objects.first()

    def more() -> None:
        for n in range(2, 6):
            fire(post_alert, LOG_V2, f"/q/{n}")

    assert_constant_queries(viewer, f"/api/configuration-items/{ci.pk}/incidents/", more)
    assert len(results(viewer.get(f"/api/configuration-items/{ci.pk}/incidents/"))) == 5
