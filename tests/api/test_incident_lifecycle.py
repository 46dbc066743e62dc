"""The write side of the incident API: lifecycle actions and the journal (contract).

The API calls the same services as the admin and the webhook (`incidents.services`), so
it follows the same transition table and writes the same journal; the tests below hold
it to both.
"""

from typing import Any

import pytest
from rest_framework.test import APIClient

from incidents import services
from incidents.choices import IncidentState
from incidents.models import Incident, JournalEntry
from tests.factories import AssignmentGroupFactory, IncidentFactory
from tests.helpers import STATIC, assert_constant_queries, client_for, fire, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def number(post_alert: Any, connection: Any) -> str:
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
    body = operator.post(f"{url}/reopen/", {"reason": "Slow again."}, format="json").json()
    assert body["state"] == "in_progress"
    operator.post(f"{url}/resolve/", {"resolution_code": "solved"}, format="json")
    body = operator.post(f"{url}/close/").json()
    assert body["state"] == "closed"
    assert body["closed_at"] is not None
    journal = operator.get(f"{url}/journal/").json()["results"]
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
    response = operator.post(f"/api/incidents/{number}/cancel/", {"reason": "test"}, format="json")
    assert response.status_code == 200
    for verb in ("start", "reopen", "close", "cancel"):
        response = operator.post(f"/api/incidents/{number}/{verb}/", {"reason": "x"}, format="json")
        assert response.status_code == 409
    assert (
        operator.post(
            f"/api/incidents/{number}/assign/", {"assigned_to": None}, format="json"
        ).status_code
        == 409
    )


# The state each action moves to, and its body (None: no body).
ACTIONS = {
    "start": (IncidentState.IN_PROGRESS, None),
    "hold": (IncidentState.ON_HOLD, {"reason": "waiting for the vendor"}),
    "resolve": (IncidentState.RESOLVED, {"resolution_code": "solved"}),
    "close": (IncidentState.CLOSED, None),
    "cancel": (IncidentState.CANCELED, {"reason": "false alarm"}),
    "reopen": (IncidentState.IN_PROGRESS, {"reason": "came back"}),
}


@pytest.mark.parametrize("state", IncidentState.values)
@pytest.mark.parametrize("verb", list(ACTIONS))
def test_incident_actions_follow_the_shared_transition_table(
    operator: APIClient, state: str, verb: str
) -> None:
    incident = IncidentFactory(state=state, resolved_at="2025-01-01T00:00:00Z")
    target, body = ACTIONS[verb]
    response = operator.post(f"/api/incidents/{incident.number}/{verb}/", body or {}, format="json")
    # The table, plus: only a resolved incident is reopened, and it is never just started
    # (a reopen clears the resolution).
    allowed = target in services.TRANSITIONS[state] and (verb == "reopen") == (
        state == "resolved" and target == IncidentState.IN_PROGRESS
    )
    assert response.status_code == (200 if allowed else 409), response.json()
    incident.refresh_from_db()
    assert incident.state == (target if allowed else state)


def _journal(incident: Incident) -> list[tuple]:
    return list(
        JournalEntry.objects.filter(incident=incident)
        .order_by("pk")
        .values_list("kind", "from_state", "to_state", "message", "actor_name")
    )


def test_incident_lifecycle_via_api_equals_the_services_the_admin_calls(
    operator: APIClient, post_alert: Any, connection: Any
) -> None:
    """Walk one incident through the API and its twin through the services (what the
    admin's actions call): same states, same fields, same journal."""
    group = AssignmentGroupFactory(name="Cloud ops")
    olga = JournalEntry._meta.get_field("actor").related_model.objects.get(username="olga")
    by_api = Incident.objects.get(number=fire(post_alert, STATIC, "/twin/api"))
    by_services = Incident.objects.get(number=fire(post_alert, STATIC, "/twin/services"))
    steps = [
        ("assign", {"assigned_to": "olga", "assignment_group": "Cloud ops"}),
        ("start", None),
        ("hold", {"reason": "vendor"}),
        ("resolve", {"resolution_code": "workaround", "resolution_notes": "Restarted."}),
        ("reopen", {"reason": "again"}),
        ("resolve", {"resolution_code": "solved", "resolution_notes": ""}),
        ("close", None),
    ]
    for verb, body in steps:
        url = f"/api/incidents/{by_api.number}/{verb}/"
        assert operator.post(url, body or {}, format="json").status_code == 200
    calls = {
        "assign": lambda i: services.incident_assign(
            incident=i, actor=olga, assigned_to=olga, assignment_group=group
        ),
        "start": lambda i: services.incident_start(incident=i, actor=olga),
        "hold": lambda i: services.incident_hold(incident=i, actor=olga, reason="vendor"),
        "reopen": lambda i: services.incident_reopen(incident=i, actor=olga, reason="again"),
        "close": lambda i: services.incident_close(incident=i, actor=olga),
    }
    for verb, body in steps:
        incident = Incident.objects.get(pk=by_services.pk)
        if verb == "resolve":
            services.incident_resolve(incident=incident, actor=olga, **body)
        else:
            calls[verb](incident)

    api, svc = (Incident.objects.get(pk=i.pk) for i in (by_api, by_services))
    fields = ("state", "resolution_code", "resolution_notes", "assigned_id", "group_id")
    values = [
        (i.state, i.resolution_code, i.resolution_notes, i.assigned_to_id, i.assignment_group_id)
        for i in (api, svc)
    ]
    assert dict(zip(fields, values[0], strict=True)) == dict(zip(fields, values[1], strict=True))
    assert _journal(api) == _journal(svc)
    assert len(_journal(api)) == 1 + len(steps)


@pytest.mark.parametrize(
    ("verb", "body", "field"),
    [
        ("resolve", {"resolution_code": "magic"}, "resolution_code"),
        ("resolve", {}, "resolution_code"),
        ("hold", {}, "reason"),
        ("hold", {"reason": "x" * 2001}, "reason"),
        ("assign", {"assigned_to": "nobody-here"}, "assigned_to"),
        ("assign", {"assignment_group": "No such team"}, "assignment_group"),
        ("assign", {"assigned_to": 42}, "assigned_to"),
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


def test_incident_action_on_unknown_number_is_404(operator: APIClient) -> None:
    response = operator.post("/api/incidents/INC0999999/start/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_incident_journal_work_note(operator: APIClient, number: str) -> None:
    response = operator.post(
        f"/api/incidents/{number}/journal/", {"message": "Looking into it."}, format="json"
    )
    assert response.status_code == 201
    assert response.json()["kind"] == "work_note"
    assert set(response.json()) == {
        "id", "created_at", "kind", "actor", "message", "from_state", "to_state",
    }  # fmt: skip
    journal = operator.get(f"/api/incidents/{number}/journal/").json()["results"]
    assert journal[0]["message"] == "Looking into it."
    assert journal[-1]["kind"] == "opened"
    assert journal[-1]["actor"] == "Azure Monitor"
    for empty in ("", "   "):
        response = operator.post(
            f"/api/incidents/{number}/journal/", {"message": empty}, format="json"
        )
        assert response.status_code == 400


def test_incident_journal_paginates_and_counts_queries_once(
    operator: APIClient, number: str
) -> None:
    url = f"/api/incidents/{number}/journal/"

    def notes() -> None:
        for n in range(5):
            operator.post(url, {"message": f"note {n}"}, format="json")

    assert_constant_queries(operator, url, notes)
    page = operator.get(f"{url}?page_size=2").json()
    assert (page["count"], len(page["results"])) == (6, 2)
    assert page["results"][0]["message"] == "note 4"


def test_incident_actions_need_the_change_permission(number: str) -> None:
    reader = client_for(make_user("viewer"))
    assert reader.get(f"/api/incidents/{number}/").status_code == 200
    assert reader.get(f"/api/incidents/{number}/journal/").status_code == 200
    for verb in ("start", "journal"):
        response = reader.post(f"/api/incidents/{number}/{verb}/", {"message": "x"})
        assert response.status_code == 403
        assert response.json()["code"] == "permission_denied"
    assert Incident.objects.get(number=number).state == "new"
    assert APIClient().post(f"/api/incidents/{number}/start/").status_code == 401


@pytest.mark.parametrize("verb", ["hold", "cancel"])
@pytest.mark.parametrize("body", [{}, {"reason": ""}, {"reason": "   "}, {"reason": None}])
def test_incident_actions_need_a_reason_as_the_console_does(
    operator: APIClient, number: str, verb: str, body: dict
) -> None:
    """The service requires the reason, so the API refuses what the console refuses."""
    response = operator.post(f"/api/incidents/{number}/{verb}/", body, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "reason_required"
    assert list(response.json()["errors"]) == ["reason"]
    assert Incident.objects.get(number=number).state == "new"
    assert not JournalEntry.objects.filter(incident__number=number, kind="state_changed").exists()


def test_incident_reopen_needs_a_reason(operator: APIClient, number: str) -> None:
    operator.post(f"/api/incidents/{number}/resolve/", {"resolution_code": "solved"}, format="json")
    response = operator.post(f"/api/incidents/{number}/reopen/")
    assert (response.status_code, response.json()["code"]) == (400, "reason_required")
    assert Incident.objects.get(number=number).state == "resolved"


def test_incident_actions_are_the_lifecycle_tables_rows(operator: APIClient, number: str) -> None:
    """Every row of the table the API offers is an action, documented from the table."""
    from incidents.lifecycle import LIFECYCLE

    schema = operator.get("/api/schema/?format=json").json()
    for action in LIFECYCLE.values():
        operation = schema["paths"].get(f"/api/incidents/{{number}}/{action.name}/")
        if not action.in_api:
            assert operation is None
            continue
        assert operation["post"]["operationId"] == f"incidents_{action.name}"
        assert operation["post"]["description"] == action.summary
        assert ("requestBody" in operation["post"]) == bool(action.inputs)
