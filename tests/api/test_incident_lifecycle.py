"""The write side of the incident API: lifecycle actions and the journal (contract)."""

import pytest
from django.contrib.auth.models import Permission
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from incidents.models import Incident
from tests.factories import AssignmentGroupFactory, UserFactory

pytestmark = pytest.mark.django_db


def _client_for(user) -> APIClient:  # noqa: ANN001
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


@pytest.fixture
def operator() -> APIClient:
    user = UserFactory(username="olga")
    user.user_permissions.add(Permission.objects.get(codename="change_incident"))
    return _client_for(user)


@pytest.fixture
def number(post_alert, connection) -> str:  # noqa: ANN001
    return post_alert("azure/resource-health-fired.json").json()["incident"]


def test_incident_actions_walk_the_lifecycle(operator: APIClient, number: str) -> None:
    url = f"/api/incidents/{number}"
    AssignmentGroupFactory(name="Cloud ops")
    body = operator.post(
        f"{url}/assign/", {"assigned_to": "olga", "assignment_group": "Cloud ops"}, format="json"
    ).json()
    assert (body["assigned_to"], body["assignment_group"]) == ("olga", "Cloud ops")
    assert operator.post(f"{url}/start/").json()["state"] == "in_progress"
    assert operator.post(f"{url}/hold/", {"reason": "vendor"}, format="json").json()["state"] == (
        "on_hold"
    )
    body = operator.post(
        f"{url}/resolve/",
        {"resolution_code": "workaround", "resolution_notes": "Restarted."},
        format="json",
    ).json()
    assert (body["state"], body["resolution_code"], body["resolution_notes"]) == (
        "resolved",
        "workaround",
        "Restarted.",
    )
    assert operator.post(f"{url}/reopen/").json()["state"] == "in_progress"
    operator.post(f"{url}/resolve/", {"resolution_code": "solved"}, format="json")
    body = operator.post(f"{url}/close/").json()
    assert body["state"] == "closed"
    assert body["closed_at"] is not None
    journal = operator.get(f"{url}/journal/").json()
    assert [e["to_state"] for e in journal if e["kind"] == "state_changed"][:2] == [
        "closed",
        "resolved",
    ]
    assert all(e["actor"] == "olga" for e in journal if e["kind"] != "opened")


def test_incident_forbidden_transition_answers_409(operator: APIClient, number: str) -> None:
    response = operator.post(f"/api/incidents/{number}/close/")
    assert response.status_code == 409
    assert response.json() == {
        "detail": f"{number} is new; it cannot be moved to closed.",
        "code": "transition_not_allowed",
    }
    assert Incident.objects.get(number=number).state == "new"


def test_incident_cancel_then_nothing_moves_it(operator: APIClient, number: str) -> None:
    assert operator.post(f"/api/incidents/{number}/cancel/", {"reason": "test"}).status_code == 200
    for verb in ("start", "reopen", "close"):
        assert operator.post(f"/api/incidents/{number}/{verb}/").status_code == 409
    assert (
        operator.post(
            f"/api/incidents/{number}/assign/", {"assigned_to": None}, format="json"
        ).status_code
        == 409
    )


@pytest.mark.parametrize(
    ("verb", "body", "field"),
    [
        ("resolve", {"resolution_code": "magic"}, "resolution_code"),
        ("resolve", {}, "resolution_code"),
        ("hold", {}, "reason"),
        ("assign", {"assigned_to": "nobody-here"}, "assigned_to"),
        ("assign", {"assignment_group": "No such team"}, "assignment_group"),
    ],
)
def test_incident_actions_validate_their_input(
    operator: APIClient, number: str, verb: str, body: dict, field: str
) -> None:
    response = operator.post(f"/api/incidents/{number}/{verb}/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"]
    incident = Incident.objects.get(number=number)
    assert (incident.state, incident.assigned_to) == ("new", None)


def test_incident_journal_work_note(operator: APIClient, number: str) -> None:
    response = operator.post(
        f"/api/incidents/{number}/journal/", {"message": "Looking into it."}, format="json"
    )
    assert response.status_code == 201
    assert response.json()["kind"] == "work_note"
    journal = operator.get(f"/api/incidents/{number}/journal/").json()
    assert journal[0]["message"] == "Looking into it."
    assert journal[-1]["kind"] == "opened"
    assert journal[-1]["actor"] == "Azure Monitor"
    empty = operator.post(f"/api/incidents/{number}/journal/", {"message": ""}, format="json")
    assert empty.status_code == 400


def test_incident_actions_need_the_change_permission(number: str) -> None:
    reader = _client_for(UserFactory(username="viewer"))
    assert reader.get(f"/api/incidents/{number}/").status_code == 200
    assert reader.get(f"/api/incidents/{number}/journal/").status_code == 200
    for verb in ("start", "journal"):
        response = reader.post(f"/api/incidents/{number}/{verb}/", {"message": "x"})
        assert response.status_code == 403
    assert Incident.objects.get(number=number).state == "new"
    assert APIClient().post(f"/api/incidents/{number}/start/").status_code in (401, 403)
