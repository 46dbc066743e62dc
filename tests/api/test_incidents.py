import pytest
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from incidents.models import Incident
from tests.conftest import with_essentials
from tests.factories import AssignmentGroupFactory, UserFactory

pytestmark = pytest.mark.django_db

VM = (
    "/subscriptions/aaaa0a0a-bb1b-cc2c-dd3d-eeeeee4e4e4e/resourcegroups/test-RG/providers/"
    "microsoft.compute/virtualmachines/test-VM"
)


@pytest.fixture
def reader() -> APIClient:
    client = APIClient()
    token = Token.objects.create(user=UserFactory(username="reader"))
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def _fire(post_alert, name: str, alert_id: str, **essentials) -> str:  # noqa: ANN001
    payload = with_essentials(name, alertId=alert_id, **essentials)
    response = post_alert(payload)
    assert response.status_code == 201, response.json()
    return response.json()["incident"]


@pytest.fixture
def incidents(post_alert, connection) -> dict[str, str]:  # noqa: ANN001
    return {
        "vm": _fire(post_alert, "azure/resource-health-fired.json", "/a/1", severity="Sev1"),
        "storage": _fire(post_alert, "azure/platform-metric-static-threshold-fired.json", "/a/2"),
        "budget": _fire(post_alert, "azure/budget-costalerts-actual-fired.json", "/a/3"),
    }


def test_incident_list_requires_authentication(api_client: APIClient) -> None:
    response = api_client.get("/api/incidents/")
    assert response.status_code in (401, 403)
    assert set(response.json()) == {"detail", "code"}


def test_incident_list_shows_contract_fields(reader: APIClient, incidents: dict) -> None:
    body = reader.get("/api/incidents/").json()
    assert body["count"] == 3
    assert set(body) == {"count", "next", "previous", "results"}
    vm = next(i for i in body["results"] if i["number"] == incidents["vm"])
    assert set(vm) >= {
        "number", "title", "description", "state", "impact", "urgency", "priority",
        "severity", "opened_at", "resolved_at", "closed_at", "assignment_group",
        "assigned_to", "resolution_code", "resolution_notes", "connection",
        "configuration_items", "alerts",
    }  # fmt: skip
    assert vm["connection"] == "contoso"
    assert vm["severity"] == "Sev1"
    assert vm["priority"] == 2
    assert vm["configuration_items"] == [
        {
            "id": vm["configuration_items"][0]["id"],
            "name": "test-VM",
            "azure_resource_id": VM.lower(),
            "ci_class": "microsoft.compute/virtualmachines",
        }
    ]
    alert = vm["alerts"][0]
    assert alert["alert_id"] == "/a/1"
    assert alert["monitor_condition"] == "Fired"
    assert alert["configuration_items"] == ["test-VM"]
    assert alert["signal_type"] == "Activity Log"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("severity=Sev1", {"vm"}),
        ("priority=4", {"budget"}),
        ("state=new", {"vm", "storage", "budget"}),
        ("state=resolved", set()),
        ("alert_id=/a/2", {"storage"}),
        (f"configuration_item={VM.upper()}", {"vm"}),
        ("connection=contoso", {"vm", "storage", "budget"}),
        ("connection=other", set()),
        ("search=test-storageAccount", {"storage"}),
        ("search=test-ResourceHealthAlertRule", {"vm"}),
        ("opened_after=2025-04-15T18:18:00Z", {"vm"}),
        ("opened_before=2025-04-15T18:00:00Z", {"budget"}),
    ],
)
def test_incident_list_filters(
    reader: APIClient, incidents: dict, query: str, expected: set
) -> None:
    response = reader.get(f"/api/incidents/?{query}")
    assert response.status_code == 200
    numbers = {i["number"] for i in response.json()["results"]}
    assert numbers == {incidents[name] for name in expected}


def test_incident_list_search_by_number(reader: APIClient, incidents: dict) -> None:
    body = reader.get(f"/api/incidents/?search={incidents['budget']}").json()
    assert [i["number"] for i in body["results"]] == [incidents["budget"]]


def test_incident_list_refuses_unknown_filter_values(reader: APIClient, incidents: dict) -> None:
    response = reader.get("/api/incidents/?severity=Sev9")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"


def test_incident_retrieve_by_number(reader: APIClient, incidents: dict) -> None:
    response = reader.get(f"/api/incidents/{incidents['vm']}/")
    assert response.status_code == 200
    assert response.json()["number"] == incidents["vm"]
    assert reader.get("/api/incidents/INC9999999/").status_code == 404


def test_incident_list_shows_assignment_names(reader: APIClient, incidents: dict) -> None:
    Incident.objects.filter(number=incidents["vm"]).update(
        assigned_to=UserFactory(username="alice"),
        assignment_group=AssignmentGroupFactory(name="Cloud ops"),
    )
    vm = reader.get(f"/api/incidents/{incidents['vm']}/").json()
    assert (vm["assigned_to"], vm["assignment_group"]) == ("alice", "Cloud ops")


def test_incident_list_query_count_is_constant(reader: APIClient, post_alert, connection) -> None:  # noqa: ANN001
    def count() -> int:
        with CaptureQueriesContext(db_connection) as ctx:
            assert reader.get("/api/incidents/").status_code == 200
        return len(ctx.captured_queries)

    _fire(post_alert, "azure/resource-health-fired.json", "/q/1")
    few = count()
    for n in range(2, 8):
        _fire(post_alert, "azure/log-alerts-v2-fired.json", f"/q/{n}")
    assert count() == few


def test_incident_list_paginates(reader: APIClient, incidents: dict) -> None:
    body = reader.get("/api/incidents/?page_size=2").json()
    assert (body["count"], len(body["results"])) == (3, 2)
    assert body["next"] is not None


def test_configuration_item_list_filters(reader: APIClient, incidents: dict) -> None:
    body = reader.get(f"/api/configuration-items/?azure_resource_id={VM.upper()}").json()
    assert [ci["name"] for ci in body["results"]] == ["test-VM"]
    body = reader.get("/api/configuration-items/?ci_class=microsoft.storage/storageaccounts").json()
    assert [ci["name"] for ci in body["results"]] == ["test-storageAccount"]
    body = reader.get("/api/configuration-items/?search=storage").json()
    assert [ci["name"] for ci in body["results"]] == ["test-storageAccount"]


def test_configuration_item_list_query_count_is_constant(
    reader: APIClient, incidents: dict
) -> None:
    with CaptureQueriesContext(db_connection) as ctx:
        body = reader.get("/api/configuration-items/").json()
    assert body["count"] == 2
    assert len(ctx.captured_queries) <= 4


def test_schema_is_served(reader: APIClient) -> None:
    response = reader.get("/api/schema/")
    assert response.status_code == 200
    assert b"/api/integrations/azure-monitor/{slug}/" in response.content
