"""`/api/correlation-rules/`: staff only, checked whole, written through the services."""

from typing import Any

import pytest
from rest_framework.test import APIClient

from integrations import correlation
from integrations.models import Connection, CorrelationRule
from tests.helpers import assert_constant_queries, client_as, results

pytestmark = pytest.mark.django_db

URL = "/api/correlation-rules/"
# The contract's example.
RULE = {
    "name": "cpu storms per resource group",
    "position": 10,
    "enabled": True,
    "connection": "contoso",
    "match": {
        "monitoring_services": ["Platform"],
        "severities": ["Sev0", "Sev1"],
        "alert_rules": ["cpu-high"],
        "subscriptions": [],
        "resource_groups": [],
        "resource_types": ["microsoft.compute/virtualmachines"],
    },
    "group_by": ["alert_rule", "resource_group"],
    "window_minutes": 10,
    "max_age_minutes": 120,
    "resolve_on": "all",
}


def _rule(**changes: Any) -> CorrelationRule:
    values: dict[str, Any] = {
        "name": "by rule",
        "group_by": ["alert_rule"],
        "match": {},
        **changes,
    }
    return CorrelationRule.objects.create(**values)


def _errors(response: Any) -> dict[str, list[str]]:
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "invalid"
    return body["errors"]


def test_correlation_rule_create_answers_the_rule_as_the_contract_shows_it(
    superuser: APIClient, connection: Connection
) -> None:
    response = superuser.post(URL, RULE, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert {k: body[k] for k in RULE} == RULE
    rule = CorrelationRule.objects.get()
    assert rule.connection == connection
    assert body["id"] == rule.pk


def test_correlation_rule_create_fills_defaults_and_every_match_key(superuser: APIClient) -> None:
    response = superuser.post(
        URL,
        {"name": "by target", "group_by": ["target"], "match": {"severities": ["sev1"]}},
        format="json",
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["connection"] is None
    assert body["position"] == 100
    assert body["enabled"] is True
    assert (body["window_minutes"], body["max_age_minutes"], body["resolve_on"]) == (
        10,
        120,
        "all",
    )
    assert body["match"]["severities"] == ["Sev1"]  # spelled as Azure does
    assert body["match"]["alert_rules"] == []


@pytest.mark.parametrize(
    ("changes", "field", "says"),
    [
        ({"match": {"colours": ["red"]}}, "match", "unknown key colours"),
        ({"match": {"alert_rules": "cpu-high"}}, "match", "alert_rules must be a list"),
        ({"match": {"alert_rules": [1]}}, "match", "alert_rules must be a list of strings"),
        ({"match": {"severities": ["Sev9"]}}, "match", "Sev9 is not a severity"),
        ({"match": []}, "match", "must be an object"),
        ({"group_by": []}, "group_by", "at least one"),
        ({"group_by": ["colour"]}, "group_by", "colour cannot be grouped by"),
        ({"group_by": ["target", "target"]}, "group_by", "target is named more than once"),
        ({"group_by": "target"}, "group_by", "must be a list"),
        ({"window_minutes": 0}, "window_minutes", "at least 1"),
        ({"max_age_minutes": 5}, "max_age_minutes", "at least the window (10 minutes)"),
        ({"resolve_on": "sometimes"}, "resolve_on", "not a valid choice"),
        ({"connection": "nowhere"}, "connection", "does not exist"),
        ({"colour": "red"}, "colour", "Unknown field"),
        ({"name": "  "}, "name", ""),
    ],
)
def test_correlation_rule_create_refuses_a_wrong_rule_naming_the_field(
    superuser: APIClient, connection: Connection, changes: dict, field: str, says: str
) -> None:
    response = superuser.post(URL, {**RULE, **changes}, format="json")

    errors = _errors(response)
    assert field in errors, errors
    assert says in " ".join(errors[field])
    assert not CorrelationRule.objects.exists()


def test_correlation_rule_create_requires_group_by(superuser: APIClient) -> None:
    errors = _errors(superuser.post(URL, {"name": "x"}, format="json"))

    assert "group_by" in errors


def test_correlation_rule_create_refuses_a_name_in_use(superuser: APIClient) -> None:
    _rule(name="taken")

    errors = _errors(superuser.post(URL, {"name": "taken", "group_by": ["target"]}, format="json"))

    assert errors["name"] == ["Another rule has this name."]


def test_correlation_rule_list_is_ordered_by_position(superuser: APIClient) -> None:
    _rule(name="late", position=50)
    _rule(name="early", position=5)

    assert [r["name"] for r in results(superuser.get(URL))] == ["early", "late"]


def test_correlation_rule_list_queries_do_not_grow_with_rules(
    superuser: APIClient, connection: Connection
) -> None:
    _rule(name="one", connection=connection)

    def add() -> None:
        for n in range(3):
            _rule(name=f"more {n}", connection=connection)

    assert_constant_queries(superuser, URL, add)


def test_correlation_rule_partial_update_checks_the_whole_rule(superuser: APIClient) -> None:
    rule = _rule(window_minutes=30, max_age_minutes=60)

    refused = superuser.patch(f"{URL}{rule.pk}/", {"max_age_minutes": 20}, format="json")
    changed = superuser.patch(f"{URL}{rule.pk}/", {"position": 7}, format="json")

    assert "max_age_minutes" in _errors(refused)
    assert changed.status_code == 200, changed.content
    rule.refresh_from_db()
    assert (rule.position, rule.window_minutes, rule.max_age_minutes) == (7, 30, 60)


def test_correlation_rule_update_replaces_the_rule(
    superuser: APIClient, connection: Connection
) -> None:
    rule = _rule(position=3, window_minutes=30)

    response = superuser.put(f"{URL}{rule.pk}/", {**RULE, "name": "renamed"}, format="json")

    assert response.status_code == 200, response.content
    rule.refresh_from_db()
    assert (rule.name, rule.position, rule.window_minutes) == ("renamed", 10, 10)
    assert rule.connection == connection


def test_correlation_rule_update_keeps_its_own_name(superuser: APIClient) -> None:
    rule = _rule(name="mine")

    response = superuser.patch(f"{URL}{rule.pk}/", {"name": "mine"}, format="json")

    assert response.status_code == 200, response.content


def test_correlation_rule_destroy_deletes_it(superuser: APIClient) -> None:
    rule = _rule()

    assert superuser.delete(f"{URL}{rule.pk}/").status_code == 204
    assert not CorrelationRule.objects.exists()


@pytest.mark.parametrize(
    ("role", "read", "write"),
    [
        ("anonymous", 401, 401),
        ("nobody", 403, 403),
        ("viewer", 403, 403),
        ("operator", 403, 403),
        ("staff", 200, 403),  # staff see rules; writing them takes the rule permissions
        ("superuser", 200, 201),
    ],
)
def test_correlation_rule_endpoints_are_for_staff(role: str, read: int, write: int) -> None:
    client = APIClient() if role == "anonymous" else client_as(role, f"{role}-user")
    assert client.get(URL).status_code == read
    body = {"name": "x", "group_by": ["target"]}
    assert client.post(URL, body, format="json").status_code == write


def test_correlation_rule_writes_clear_the_ingest_rule_cache(superuser: APIClient) -> None:
    assert correlation.rules_cached() == ()  # cached: empty, until a change clears it

    created = superuser.post(URL, {"name": "new", "group_by": ["target"]}, format="json")
    assert [r.name for r in correlation.rules_cached()] == ["new"]

    pk = created.json()["id"]
    superuser.patch(f"{URL}{pk}/", {"enabled": False}, format="json")
    assert correlation.rules_cached() == ()

    superuser.patch(f"{URL}{pk}/", {"enabled": True}, format="json")
    assert len(correlation.rules_cached()) == 1
    superuser.delete(f"{URL}{pk}/")
    assert correlation.rules_cached() == ()


def test_correlation_rule_errors_are_json_like_the_rest_of_the_api(superuser: APIClient) -> None:
    response = superuser.get(f"{URL}999999/")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
