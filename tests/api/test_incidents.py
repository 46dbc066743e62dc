"""Incidents: list and retrieve (contract fields, filters, ordering, pagination), create, edit."""

from typing import Any

import pytest
from rest_framework.test import APIClient

from incidents.models import Incident, JournalEntry
from tests.factories import AssignmentGroupFactory, ConfigurationItemFactory, UserFactory
from tests.helpers import LOG_V2, RESOURCE_HEALTH, VM_ID, assert_constant_queries, fire, results

pytestmark = pytest.mark.django_db


def test_incident_list_requires_authentication(anonymous: APIClient) -> None:
    response = anonymous.get("/api/incidents/")
    assert response.status_code == 401
    assert set(response.json()) == {"detail", "code"}
    assert response["WWW-Authenticate"] == "Token"


def test_incident_list_shows_contract_fields(viewer: APIClient, incidents: dict) -> None:
    body = viewer.get("/api/incidents/").json()
    assert body["count"] == 3
    assert set(body) == {"count", "next", "previous", "results"}
    vm = next(i for i in body["results"] if i["number"] == incidents["vm"])
    assert set(vm) == {
        "number", "title", "description", "state", "impact", "urgency", "priority",
        "severity", "opened_at", "resolved_at", "closed_at", "assignment_group",
        "assigned_to", "resolution_code", "resolution_notes", "connection",
        "configuration_items", "alerts", "is_flapping", "alert_count", "sla",
    }  # fmt: skip
    assert vm["connection"] == "contoso"
    assert vm["severity"] == "Sev1"
    assert vm["priority"] == 2
    assert vm["configuration_items"] == [
        {
            "id": vm["configuration_items"][0]["id"],
            "name": "test-VM",
            "azure_resource_id": VM_ID.lower(),
            "ci_class": "microsoft.compute/virtualmachines",
        }
    ]
    alert = vm["alerts"][0]
    assert set(alert) == {
        "alert_id", "alert_rule", "monitoring_service", "signal_type",
        "monitor_condition", "fired_at", "resolved_at", "configuration_items", "azure_resolves",
        "tracking_id",
    }  # fmt: skip
    assert alert["alert_id"] == "/a/1"
    assert alert["monitor_condition"] == "Fired"
    assert alert["configuration_items"] == ["test-VM"]
    assert alert["signal_type"] == "Activity Log"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("severity=Sev1", {"vm"}),
        ("severity=Sev1&severity=Sev4", {"vm", "storage"}),
        ("priority=4", {"budget"}),
        ("state=new", {"vm", "storage", "budget"}),
        ("state=resolved", set()),
        ("alert_id=/a/2", {"storage"}),
        (f"configuration_item={VM_ID.upper()}", {"vm"}),
        ("connection=contoso", {"vm", "storage", "budget"}),
        ("connection=other", set()),
        ("search=test-storageAccount", {"storage"}),
        ("search=test-ResourceHealthAlertRule", {"vm"}),
        ("opened_after=2025-04-15T18:18:00Z", {"vm"}),
        ("opened_before=2025-04-15T18:00:00Z", {"budget"}),
    ],
)
def test_incident_list_filters(
    viewer: APIClient, incidents: dict, query: str, expected: set
) -> None:
    numbers = {i["number"] for i in results(viewer.get(f"/api/incidents/?{query}"))}
    assert numbers == {incidents[name] for name in expected}


def test_incident_list_search_by_number(viewer: APIClient, incidents: dict) -> None:
    body = viewer.get(f"/api/incidents/?search={incidents['budget']}").json()
    assert [i["number"] for i in body["results"]] == [incidents["budget"]]


@pytest.mark.parametrize(
    "query", ["severity=Sev9", "state=open", "priority=9", "opened_after=yesterday"]
)
def test_incident_list_refuses_unknown_filter_values(
    viewer: APIClient, incidents: dict, query: str
) -> None:
    response = viewer.get(f"/api/incidents/?{query}")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert query.split("=")[0] in body["errors"]


@pytest.mark.parametrize(
    ("ordering", "expected"),
    [
        ("", ["vm", "storage", "budget"]),  # newest first
        ("opened_at", ["budget", "storage", "vm"]),
        ("priority", ["vm", "budget", "storage"]),
        ("-priority", ["storage", "budget", "vm"]),
        ("number", ["vm", "storage", "budget"]),
        ("-number", ["budget", "storage", "vm"]),
        ("severity,number", ["vm", "storage", "budget"]),  # no severity: last
        ("-severity", ["storage", "vm", "budget"]),
        ("state,-number", ["budget", "storage", "vm"]),
        ("not_a_field", ["vm", "storage", "budget"]),  # ignored: the default order
    ],
)
def test_incident_list_ordering(
    viewer: APIClient, incidents: dict, ordering: str, expected: list
) -> None:
    body = results(viewer.get(f"/api/incidents/?ordering={ordering}"))
    assert [i["number"] for i in body] == [incidents[name] for name in expected]


def test_incident_list_paginates(viewer: APIClient, incidents: dict) -> None:
    first = viewer.get("/api/incidents/?page_size=2&ordering=number").json()
    assert (first["count"], len(first["results"]), first["previous"]) == (3, 2, None)
    second = viewer.get(first["next"]).json()
    assert [i["number"] for i in first["results"] + second["results"]] == sorted(incidents.values())
    assert second["next"] is None
    response = viewer.get("/api/incidents/?page=9")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_incident_list_query_count_is_constant(
    viewer: APIClient, post_alert: Any, connection: Any
) -> None:
    fire(post_alert, RESOURCE_HEALTH, "/q/1")

    def more() -> None:
        for n in range(2, 8):
            fire(post_alert, LOG_V2, f"/q/{n}")
        incident = Incident.objects.first()
        incident.assigned_to = UserFactory(username="alice")
        incident.assignment_group = AssignmentGroupFactory()
        incident.save()

    assert_constant_queries(viewer, "/api/incidents/", more)


def test_incident_retrieve_by_number(viewer: APIClient, incidents: dict) -> None:
    response = viewer.get(f"/api/incidents/{incidents['vm']}/")
    assert response.status_code == 200
    assert response.json()["number"] == incidents["vm"]
    missing = viewer.get("/api/incidents/INC9999999/")
    assert missing.status_code == 404
    assert set(missing.json()) == {"detail", "code"}


def test_incident_list_shows_assignment_names(viewer: APIClient, incidents: dict) -> None:
    Incident.objects.filter(number=incidents["vm"]).update(
        assigned_to=UserFactory(username="alice"),
        assignment_group=AssignmentGroupFactory(name="Cloud ops"),
    )
    vm = viewer.get(f"/api/incidents/{incidents['vm']}/").json()
    assert (vm["assigned_to"], vm["assignment_group"]) == ("alice", "Cloud ops")


def test_incident_create_opens_a_manual_incident(operator: APIClient) -> None:
    cis = [ConfigurationItemFactory(name="vm-a"), ConfigurationItemFactory(name="vm-b")]
    AssignmentGroupFactory(name="Cloud ops")
    response = operator.post(
        "/api/incidents/",
        {
            "title": "  Disk full on vm-a  ",
            "description": "Seen by the backup job.",
            "impact": 1,
            "urgency": 2,
            "configuration_items": [cis[1].pk, cis[0].pk, cis[1].pk],
            "assigned_to": "olga",
            "assignment_group": "Cloud ops",
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["title"] == "Disk full on vm-a"
    assert (body["impact"], body["urgency"], body["priority"]) == (1, 2, 2)
    assert (body["state"], body["severity"], body["connection"], body["alerts"]) == (
        "new",
        None,
        None,
        [],
    )
    assert [ci["name"] for ci in body["configuration_items"]] == ["vm-a", "vm-b"]
    assert (body["assigned_to"], body["assignment_group"]) == ("olga", "Cloud ops")
    kinds = JournalEntry.objects.filter(incident__number=body["number"]).values_list(
        "kind", "actor_name"
    )
    assert sorted(kinds) == [("assigned", "olga"), ("opened", "olga")]


def test_incident_create_defaults(operator: APIClient) -> None:
    body = operator.post("/api/incidents/", {"title": "Printer on fire"}, format="json").json()
    assert (body["impact"], body["urgency"], body["priority"], body["description"]) == (
        2,
        2,
        3,
        "",
    )
    assert (body["assigned_to"], body["configuration_items"]) == (None, [])


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "title"),
        ({"title": "   "}, "title"),
        ({"title": "x" * 256}, "title"),
        ({"title": "x", "impact": 4}, "impact"),
        ({"title": "x", "urgency": "high"}, "urgency"),
        ({"title": "x", "configuration_items": [999999]}, "configuration_items"),
        ({"title": "x", "configuration_items": "1"}, "configuration_items"),
        ({"title": "x", "assigned_to": "nobody-here"}, "assigned_to"),
        ({"title": "x", "assigned_to": "a\x00b"}, "assigned_to"),
        ({"title": "x", "assignment_group": "No such team"}, "assignment_group"),
        ({"title": "x\x00y"}, "title"),
    ],
)
def test_incident_create_validates(operator: APIClient, payload: dict, field: str) -> None:
    response = operator.post("/api/incidents/", payload, format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert not Incident.objects.exists()


def test_incident_create_refuses_malformed_json(operator: APIClient) -> None:
    response = operator.post("/api/incidents/", "not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"


def test_incident_edit_changes_fields_and_assignment(operator: APIClient) -> None:
    # Opened by hand: its title is the operators' (an Azure incident's is Azure's).
    number = operator.post(
        "/api/incidents/", {"title": "Storage", "impact": 3, "urgency": 3}, format="json"
    ).json()["number"]
    AssignmentGroupFactory(name="Cloud ops")
    response = operator.patch(
        f"/api/incidents/{number}/",
        {"title": "Storage latency", "impact": 1, "urgency": 1, "assigned_to": "olga"},
        format="json",
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["title"], body["priority"], body["assigned_to"]) == ("Storage latency", 1, "olga")
    journal = list(JournalEntry.objects.filter(incident__number=number).order_by("pk"))
    assert [e.kind for e in journal][-2:] == ["updated", "assigned"]
    assert "Priority 5 → 1" in journal[-2].message

    # The group alone; the person stays. The same values again change (and journal) nothing.
    body = operator.patch(
        f"/api/incidents/{number}/", {"assignment_group": "Cloud ops"}, format="json"
    ).json()
    assert (body["assigned_to"], body["assignment_group"]) == ("olga", "Cloud ops")
    entries = JournalEntry.objects.filter(incident__number=number).count()
    operator.patch(
        f"/api/incidents/{number}/",
        {"title": "Storage latency", "assigned_to": "olga"},
        format="json",
    )
    assert JournalEntry.objects.filter(incident__number=number).count() == entries
    body = operator.patch(f"/api/incidents/{number}/", {"assigned_to": None}, format="json").json()
    assert (body["assigned_to"], body["assignment_group"]) == (None, "Cloud ops")


def test_incident_edit_is_refused_once_closed(operator: APIClient, incidents: dict) -> None:
    number = incidents["vm"]
    operator.post(f"/api/incidents/{number}/cancel/", {"reason": "noise"}, format="json")
    response = operator.patch(f"/api/incidents/{number}/", {"title": "New"}, format="json")
    assert response.status_code == 409
    assert response.json() == {
        "detail": f"{number} is canceled; it cannot be edited.",
        "code": "transition_not_allowed",
    }
    response = operator.patch(f"/api/incidents/{number}/", {"assigned_to": "olga"}, format="json")
    assert response.status_code == 409
    assert Incident.objects.get(number=number).assigned_to is None


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"title": ""}, "title"),
        ({"impact": 0}, "impact"),
        ({"assigned_to": "ghost"}, "assigned_to"),
        ({"state": "closed"}, "state"),  # not editable: refused, nothing changes
    ],
)
def test_incident_edit_validates(
    operator: APIClient, incidents: dict, payload: dict, field: str
) -> None:
    number = incidents["vm"]
    response = operator.patch(f"/api/incidents/{number}/", payload, format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert Incident.objects.get(number=number).state == "new"


def test_incident_put_is_not_offered(operator: APIClient, incidents: dict) -> None:
    response = operator.put(f"/api/incidents/{incidents['vm']}/", {"title": "x"}, format="json")
    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"
