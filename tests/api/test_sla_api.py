"""`/api/sla-targets/` (staff) and each incident's `sla` (contract: SLA)."""

from datetime import datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from rest_framework.test import APIClient

from incidents.models import Incident, SlaTarget
from integrations.models import Connection
from tests.helpers import STATIC, alert_id, assert_constant_queries, results, with_essentials

pytestmark = pytest.mark.django_db

URL = "/api/sla-targets/"


def _at(text: str) -> datetime:
    """A date-time the API wrote."""
    value = parse_datetime(text)
    assert value is not None
    return value


def test_sla_targets_list_the_contract_defaults(superuser: APIClient) -> None:
    response = superuser.get(URL)
    assert response.status_code == 200
    assert response.json() == [
        {"priority": 1, "respond_minutes": 15, "resolve_minutes": 240},
        {"priority": 2, "respond_minutes": 30, "resolve_minutes": 480},
        {"priority": 3, "respond_minutes": 240, "resolve_minutes": 1440},
        {"priority": 4, "respond_minutes": 480, "resolve_minutes": 4320},
        {"priority": 5, "respond_minutes": 1440, "resolve_minutes": 7200},
    ]


def test_sla_target_patch_by_priority_changes_what_new_incidents_take(
    superuser: APIClient,
) -> None:
    response = superuser.patch(f"{URL}2/", {"respond_minutes": 20}, format="json")
    assert response.status_code == 200, response.content
    assert response.json() == {"priority": 2, "respond_minutes": 20, "resolve_minutes": 480}
    assert SlaTarget.objects.get(priority=2).respond_minutes == 20
    created = superuser.post(
        "/api/incidents/", {"title": "t", "impact": 1, "urgency": 2}, format="json"
    ).json()
    assert created["priority"] == 2
    respond_by = _at(created["sla"]["respond_by"])
    opened_at = _at(created["opened_at"])
    assert respond_by - opened_at == timedelta(minutes=20)


def test_sla_target_patch_refuses_nonsense(superuser: APIClient) -> None:
    assert superuser.patch(f"{URL}1/", {"respond_minutes": 0}, format="json").status_code == 400
    assert superuser.patch(f"{URL}1/", {"priority": 3}, format="json").status_code == 400
    assert superuser.patch(f"{URL}9/", {"respond_minutes": 5}, format="json").status_code == 404


def test_sla_targets_are_for_staff(staff: APIClient, operator: APIClient) -> None:
    assert staff.get(URL).status_code == 200
    assert operator.get(URL).status_code == 403
    assert staff.patch(f"{URL}1/", {"respond_minutes": 5}, format="json").status_code == 403


def test_incident_sla_shows_both_clocks_as_the_contract_says(
    operator: APIClient, connection: Connection, post_alert: Any
) -> None:
    number = post_alert(with_essentials(STATIC, severity="Sev0")).json()["incident"]
    body = operator.get(f"/api/incidents/{number}/").json()
    sla = body["sla"]
    assert set(sla) == {
        "respond_by",
        "resolve_by",
        "responded_at",
        "paused",
        "respond_breached",
        "resolve_breached",
    }
    opened = _at(body["opened_at"])
    assert _at(sla["respond_by"]) - opened == timedelta(minutes=15)
    assert _at(sla["resolve_by"]) - opened == timedelta(hours=4)
    assert (sla["responded_at"], sla["paused"]) == (None, False)

    operator.post(f"/api/incidents/{number}/hold/", {"reason": "vendor"}, format="json")
    held = operator.get(f"/api/incidents/{number}/").json()["sla"]
    assert held["paused"] is True
    started = operator.post(f"/api/incidents/{number}/start/").json()["sla"]
    assert started["responded_at"] is not None


def test_incident_sla_breached_once_past_its_deadline(
    operator: APIClient, connection: Connection, post_alert: Any
) -> None:
    fired = (timezone.now() - timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    payload = with_essentials(STATIC, severity="Sev0", firedDateTime=fired)
    number = post_alert(payload).json()["incident"]
    sla = operator.get(f"/api/incidents/{number}/").json()["sla"]
    assert (sla["respond_breached"], sla["resolve_breached"]) == (True, False)


def test_incident_sla_is_null_for_incidents_older_than_the_clocks(
    operator: APIClient, connection: Connection, post_alert: Any
) -> None:
    number = post_alert(STATIC).json()["incident"]
    Incident.objects.update(sla_respond_by=None, sla_resolve_by=None)
    assert operator.get(f"/api/incidents/{number}/").json()["sla"] is None


def test_incident_list_with_sla_queries_do_not_grow(
    operator: APIClient, connection: Connection, post_alert: Any
) -> None:
    post_alert(STATIC)

    def add() -> None:
        for _ in range(3):
            post_alert(with_essentials(STATIC, alertId=alert_id()))

    assert_constant_queries(operator, "/api/incidents/", add)
    assert all(row["sla"] for row in results(operator.get("/api/incidents/")))
