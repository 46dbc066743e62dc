"""`POST /api/incidents/{number}/merge/` and `/split/` (operators)."""

from typing import Any

import pytest
from rest_framework.test import APIClient

from incidents.choices import IncidentState, JournalKind
from incidents.models import Incident
from incidents.services import incident_cancel
from integrations.models import Alert, Connection
from tests.helpers import STATIC, alert_id, client_as, fire, vm_id

pytestmark = pytest.mark.django_db


@pytest.fixture
def two(post_alert: Any, connection: Connection) -> tuple[str, str]:
    """Two incidents, one alert each (vm-a, then vm-b with Sev1)."""
    first = fire(post_alert, STATIC, alert_id(), alertTargetIDs=[vm_id("vm-a")])
    second = fire(post_alert, STATIC, alert_id(), alertTargetIDs=[vm_id("vm-b")], severity="Sev1")
    return first, second


def _merge(client: APIClient, number: str, into: str) -> Any:
    return client.post(f"/api/incidents/{number}/merge/", {"into": into}, format="json")


def _split(client: APIClient, number: str, alert_ids: list) -> Any:
    return client.post(f"/api/incidents/{number}/split/", {"alert_ids": alert_ids}, format="json")


def test_incident_merge_answers_the_target_with_its_alerts(
    operator: APIClient, two: tuple[str, str]
) -> None:
    target, source = two

    response = _merge(operator, source, target)

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["number"] == target
    assert len(body["alerts"]) == 2
    assert body["alert_count"] == 2
    merged = Incident.objects.get(number=source)
    assert merged.state == IncidentState.CANCELED
    assert merged.resolution_code == "duplicate"


def test_incident_merge_into_itself_is_a_409_with_a_code(
    operator: APIClient, two: tuple[str, str]
) -> None:
    response = _merge(operator, two[0], two[0])

    assert response.status_code == 409
    assert response.json()["code"] == "merge_into_itself"


def test_incident_merge_into_a_canceled_incident_is_a_409(
    operator: APIClient, two: tuple[str, str]
) -> None:
    target, source = two
    incident_cancel(incident=Incident.objects.get(number=target), actor="test", reason="dup")

    response = _merge(operator, source, target)

    assert response.status_code == 409
    assert response.json()["code"] == "merge_target_closed"
    assert Alert.objects.filter(incident__number=source).count() == 1


def test_incident_merge_from_a_canceled_incident_is_a_409(
    operator: APIClient, two: tuple[str, str]
) -> None:
    target, source = two
    incident_cancel(incident=Incident.objects.get(number=source), actor="test", reason="dup")

    response = _merge(operator, source, target)

    assert response.status_code == 409
    assert response.json()["code"] == "merge_source_closed"


@pytest.mark.parametrize("into", ["INC9999999", "nonsense", ""])
def test_incident_merge_into_an_unknown_incident_is_a_400(
    operator: APIClient, two: tuple[str, str], into: str
) -> None:
    response = _merge(operator, two[1], into)

    assert response.status_code == 400
    assert "into" in response.json()["errors"]


def test_incident_merge_of_an_unknown_incident_is_a_404(
    operator: APIClient, two: tuple[str, str]
) -> None:
    assert _merge(operator, "INC9999999", two[0]).status_code == 404


@pytest.mark.parametrize(("role", "code"), [("anonymous", 401), ("nobody", 403), ("viewer", 403)])
def test_incident_merge_and_split_need_the_change_permission(
    two: tuple[str, str], role: str, code: int
) -> None:
    client = client_as(role, f"{role}-user")

    assert _merge(client, two[1], two[0]).status_code == code
    assert _split(client, two[1], ["x"]).status_code == code
    assert Incident.objects.get(number=two[1]).state == IncidentState.NEW


def _merged(operator: APIClient, two: tuple[str, str]) -> tuple[str, list[Alert]]:
    target, source = two
    assert _merge(operator, source, target).status_code == 200
    return target, list(Alert.objects.filter(incident__number=target).order_by("fired_at", "pk"))


def test_incident_split_answers_201_with_the_new_incident(
    operator: APIClient, two: tuple[str, str]
) -> None:
    number, alerts = _merged(operator, two)
    moving = next(a for a in alerts if a.severity == "Sev1")

    response = _split(operator, number, [moving.alert_id])

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["number"] not in two
    assert [a["alert_id"] for a in body["alerts"]] == [moving.alert_id]
    assert body["alert_count"] == 1
    assert body["severity"] == "Sev1"
    assert [ci["name"] for ci in body["configuration_items"]] == ["vm-b"]
    new = Incident.objects.get(number=body["number"])
    assert new.journal.filter(kind=JournalKind.SPLIT).exists()
    assert Incident.objects.get(number=number).alert_count == 1


def test_incident_split_takes_alert_ids_from_the_alerts_api_too(
    operator: APIClient, two: tuple[str, str]
) -> None:
    number, alerts = _merged(operator, two)

    response = _split(operator, number, [alerts[0].pk])

    assert response.status_code == 201, response.content


@pytest.mark.parametrize(
    ("which", "code"), [("none", "split_nothing"), ("all", "split_all"), ("other", "invalid")]
)
def test_incident_split_refuses_no_alert_every_alert_or_another_incidents(
    operator: APIClient, post_alert: Any, two: tuple[str, str], which: str, code: str
) -> None:
    number, alerts = _merged(operator, two)
    other = fire(post_alert, STATIC, "/elsewhere")
    ids = {
        "none": [],
        "all": [a.alert_id for a in alerts],
        "other": ["/elsewhere"],
    }[which]
    before = Incident.objects.count()

    response = _split(operator, number, ids)

    assert response.status_code == 400, response.content
    assert response.json()["code"] == code
    assert "alert_ids" in response.json()["errors"]
    assert Incident.objects.count() == before
    assert Alert.objects.filter(alert_id="/elsewhere", incident__number=other).exists()


def test_incident_split_of_a_canceled_incident_is_a_409(
    operator: APIClient, two: tuple[str, str]
) -> None:
    number = two[0]
    alert = Alert.objects.get(incident__number=number)
    incident_cancel(incident=Incident.objects.get(number=number), actor="test", reason="x")

    response = _split(operator, number, [alert.alert_id])

    assert response.status_code == 409
    assert response.json()["code"] == "split_not_open"


@pytest.mark.parametrize(
    "body", [{}, {"alert_ids": "x"}, {"alert_ids": [True]}, {"alert_ids": [None]}]
)
def test_incident_split_refuses_a_malformed_body(
    operator: APIClient, two: tuple[str, str], body: dict
) -> None:
    response = operator.post(f"/api/incidents/{two[0]}/split/", body, format="json")

    assert response.status_code == 400
    assert "alert_ids" in response.json()["errors"]


def test_incident_api_shows_alert_count(viewer: APIClient, two: tuple[str, str]) -> None:
    body = viewer.get(f"/api/incidents/{two[0]}/").json()

    assert body["alert_count"] == 1


def test_merge_and_split_are_in_the_schema_with_409(viewer: APIClient) -> None:
    paths = viewer.get("/api/schema/?format=json").json()["paths"]

    for verb, ok in (("merge", "200"), ("split", "201")):
        responses = paths[f"/api/incidents/{{number}}/{verb}/"]["post"]["responses"]
        assert {ok, "400", "404", "409"} <= set(responses)
