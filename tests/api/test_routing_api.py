"""`/api/assignment-groups/` (roles read, staff write) and `/api/assignment-rules/` (staff)."""

from typing import Any, cast

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from incidents.models import AssignmentGroup
from integrations.models import AssignmentRule, Connection, Delivery
from tests.factories import AssignmentGroupFactory, UserFactory
from tests.helpers import STATIC, assert_constant_queries, client_as, results, with_essentials

pytestmark = pytest.mark.django_db


def _group(**fields: Any) -> AssignmentGroup:
    """An assignment group (the factory, typed)."""
    return cast(AssignmentGroup, AssignmentGroupFactory(**fields))


def _user(**fields: Any) -> User:
    """A user (the factory, typed)."""
    return cast(User, UserFactory(**fields))


GROUPS = "/api/assignment-groups/"
RULES = "/api/assignment-rules/"


def test_assignment_group_create_takes_members_as_usernames(superuser: APIClient) -> None:
    _user(username="ann")
    _user(username="bob")
    response = superuser.post(
        GROUPS,
        {"name": "Cloud ops", "description": "24/7", "members": ["ann", "bob"]},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["name"], body["description"], sorted(body["members"])) == (
        "Cloud ops",
        "24/7",
        ["ann", "bob"],
    )
    patched = superuser.patch(f"{GROUPS}{body['id']}/", {"members": ["ann"]}, format="json")
    assert patched.json()["members"] == ["ann"]


def test_assignment_group_refuses_unknown_members_and_taken_names(superuser: APIClient) -> None:
    _group(name="Taken")
    unknown = superuser.post(GROUPS, {"name": "x", "members": ["ghost"]}, format="json")
    assert unknown.status_code == 400
    taken = superuser.post(GROUPS, {"name": "Taken"}, format="json")
    assert taken.status_code == 400
    assert taken.json()["code"] == "invalid_group"


def test_assignment_groups_roles_read_staff_writes(viewer: APIClient, operator: APIClient) -> None:
    _group(name="Readable")
    assert [g["name"] for g in results(viewer.get(GROUPS))] == ["Readable"]
    assert operator.post(GROUPS, {"name": "n"}, format="json").status_code == 403


def test_assignment_group_list_queries_do_not_grow_with_groups(superuser: APIClient) -> None:
    def add() -> None:
        for _ in range(3):
            _group().members.add(_user(), _user())

    add()
    assert_constant_queries(superuser, GROUPS, add)


def test_assignment_group_delete_refuses_a_group_a_rule_names(superuser: APIClient) -> None:
    group = _group()
    AssignmentRule.objects.create(name="r", assignment_group=group)
    response = superuser.delete(f"{GROUPS}{group.pk}/")
    assert response.status_code == 400
    assert response.json()["code"] == "group_in_use"
    assert AssignmentGroup.objects.filter(pk=group.pk).exists()


def test_assignment_rule_create_answers_the_rule_as_the_contract_shows_it(
    superuser: APIClient, connection: Connection
) -> None:
    _group(name="Web")
    rule = {
        "name": "web VMs",
        "position": 10,
        "enabled": True,
        "connection": "contoso",
        "match": {
            "monitoring_services": ["Platform"],
            "severities": ["Sev0", "Sev1"],
            "alert_rules": [],
            "subscriptions": [],
            "resource_groups": ["rg-web"],
            "resource_types": [],
            "ci_classes": ["microsoft.compute/virtualmachines"],
        },
        "assignment_group": "Web",
    }
    response = superuser.post(RULES, rule, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert {k: body[k] for k in rule} == rule


def test_assignment_rule_checks_the_match_and_the_group(superuser: APIClient) -> None:
    _group(name="Web")
    wrong = superuser.post(
        RULES,
        {
            "name": "r",
            "assignment_group": "Web",
            "match": {"colours": ["red"], "severities": ["Sev9"]},
        },
        format="json",
    )
    assert wrong.status_code == 400
    assert "match" in wrong.json()["errors"]
    missing = superuser.post(RULES, {"name": "r", "assignment_group": "Nobody"}, format="json")
    assert missing.status_code == 400


def test_assignment_rule_patch_keeps_other_fields(superuser: APIClient) -> None:
    group = _group(name="Web")
    rule = AssignmentRule.objects.create(name="r", assignment_group=group, position=3)
    response = superuser.patch(f"{RULES}{rule.pk}/", {"enabled": False}, format="json")
    assert response.status_code == 200
    assert (response.json()["position"], response.json()["enabled"]) == (3, False)


def test_assignment_rules_are_for_staff(staff: APIClient, operator: APIClient) -> None:
    assert staff.get(RULES).status_code == 200
    assert operator.get(RULES).status_code == 403


def test_assignment_rule_test_tries_a_rule_on_a_stored_delivery(
    superuser: APIClient, connection: Connection, post_alert: Any
) -> None:
    post_alert(with_essentials(STATIC, severity="Sev3"))
    delivery = Delivery.objects.get()
    body = {"delivery": delivery.pk, "match": {"severities": ["Sev3"]}}
    assert superuser.post(f"{RULES}test/", body, format="json").json() == {
        "matches": True,
        "reasons": [],
        "error": "",
    }
    other = superuser.post(
        f"{RULES}test/", {"delivery": delivery.pk, "match": {"severities": ["Sev0"]}}, format="json"
    ).json()
    assert other["matches"] is False
    assert other["reasons"] == ["severities: the alert has sev3, the rule wants sev0"]
    assert AssignmentRule.objects.count() == 0


def test_assignment_rule_test_is_for_staff_who_read_deliveries(operator: APIClient) -> None:
    assert client_as("staff", "s2").post(f"{RULES}test/", {}, format="json").status_code == 400
    assert operator.post(f"{RULES}test/", {}, format="json").status_code == 403
