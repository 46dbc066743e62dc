"""The incident API's edges: a change that lost a race answers 409, what Azure owns and
fields the API does not know are refused (400, naming the field)."""

from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from incidents import services
from incidents.api.views import IncidentViewSet
from incidents.models import Incident, JournalEntry
from tests.factories import IncidentFactory
from tests.helpers import STATIC, fire

pytestmark = pytest.mark.django_db


def change_after_load(
    monkeypatch: pytest.MonkeyPatch, meanwhile: Callable[[Incident], object]
) -> None:
    """Change the incident in the database just after the view has loaded it."""
    real = IncidentViewSet.get_object

    def get_then_change(self: IncidentViewSet) -> Incident:
        incident = real(self)
        meanwhile(Incident.objects.get(pk=incident.pk))
        return incident

    monkeypatch.setattr(IncidentViewSet, "get_object", get_then_change)


def azure_resolves(incident: Incident) -> None:
    services.incident_resolve(
        incident=incident, actor="Azure Monitor", resolution_code="resolved_by_source"
    )


def someone_cancels(incident: Incident) -> None:
    services.incident_cancel(incident=incident, actor="someone else", reason="noise")


@pytest.mark.parametrize(
    ("method", "path", "body", "meanwhile", "now"),
    [
        ("post", "cancel/", {"reason": "noise"}, azure_resolves, "resolved"),
        ("post", "start/", None, azure_resolves, "resolved"),
        ("post", "hold/", {"reason": "vendor"}, someone_cancels, "canceled"),
        ("post", "resolve/", {"resolution_code": "solved"}, someone_cancels, "canceled"),
        ("post", "assign/", {"assigned_to": "olga"}, someone_cancels, "canceled"),
        ("patch", "", {"impact": 1}, someone_cancels, "canceled"),
    ],
)
def test_incident_change_that_lost_a_race_answers_409(
    operator: APIClient,
    post_alert: Any,
    connection: Any,
    monkeypatch: pytest.MonkeyPatch,
    method: str,
    path: str,
    body: dict | None,
    meanwhile: Callable[[Incident], object],
    now: str,
) -> None:
    number = fire(post_alert, STATIC, "/race/1")
    before = Incident.objects.get(number=number)
    change_after_load(monkeypatch, meanwhile)
    entries = JournalEntry.objects.filter(incident__number=number).count()

    response = getattr(operator, method)(f"/api/incidents/{number}/{path}", body, format="json")

    assert response.status_code == 409, response.json()
    assert response.json() == {
        "detail": f"{number} changed meanwhile (it is now {now}); reload it.",
        "code": "state_changed",
    }
    incident = Incident.objects.get(number=number)
    assert (incident.state, incident.impact, incident.assigned_to) == (now, before.impact, None)
    assert JournalEntry.objects.filter(incident__number=number).count() == entries + 1


@pytest.mark.parametrize("field", ["title", "description"])
def test_incident_edit_refuses_what_azure_owns(
    operator: APIClient, post_alert: Any, connection: Any, field: str
) -> None:
    number = fire(post_alert, STATIC, "/azure/1")
    before = Incident.objects.get(number=number)

    response = operator.patch(f"/api/incidents/{number}/", {field: "Mine now"}, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "azure_owned"
    assert list(response.json()["errors"]) == [field]
    assert f"its {field} cannot be edited" in response.json()["detail"]
    after = Incident.objects.get(number=number)
    assert (after.title, after.description) == (before.title, before.description)


def test_incident_edit_of_an_azure_incident_accepts_its_own_title_and_other_fields(
    operator: APIClient, post_alert: Any, connection: Any
) -> None:
    # A client that sends back what it read, with one change, is not refused.
    number = fire(post_alert, STATIC, "/azure/2")
    title = Incident.objects.get(number=number).title
    response = operator.patch(
        f"/api/incidents/{number}/", {"title": title, "impact": 1}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert (response.json()["title"], response.json()["impact"]) == (title, 1)


def test_incident_edit_of_an_incident_opened_by_hand_changes_its_title(
    operator: APIClient,
) -> None:
    incident = IncidentFactory()
    response = operator.patch(
        f"/api/incidents/{incident.number}/",
        {"title": "Renamed", "description": "d"},
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert (response.json()["title"], response.json()["description"]) == ("Renamed", "d")


@pytest.mark.parametrize(
    ("method", "payload", "unknown"),
    [
        ("post", {"title": "x", "priority": 1}, ["priority"]),
        ("post", {"title": "x", "titel": "typo", "state": "closed"}, ["state", "titel"]),
        ("patch", {"state": "closed"}, ["state"]),
        ("patch", {"impact": 1, "severity": "Sev0"}, ["severity"]),
    ],
)
def test_incident_create_and_edit_refuse_unknown_fields(
    operator: APIClient, method: str, payload: dict, unknown: list[str]
) -> None:
    incident = IncidentFactory()
    url = "/api/incidents/" if method == "post" else f"/api/incidents/{incident.number}/"
    count = Incident.objects.count()

    response = getattr(operator, method)(url, payload, format="json")

    assert response.status_code == 400
    errors = response.json()["errors"]
    assert sorted(errors) == unknown
    assert all("Unknown field" in errors[name][0] for name in unknown)
    assert Incident.objects.count() == count
    stored = Incident.objects.get(pk=incident.pk)
    assert (stored.state, stored.impact, stored.title) == (
        incident.state,
        incident.impact,
        incident.title,
    )
