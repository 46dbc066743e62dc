"""Assignment rules in the console: saved through the services, tested before saving."""

from typing import Any, cast

import pytest
from django.test import Client

from incidents.models import AssignmentGroup
from integrations.models import AssignmentRule, Connection, Delivery
from tests.factories import AssignmentGroupFactory
from tests.helpers import STATIC, messages_of, with_essentials

pytestmark = pytest.mark.django_db


def _group(**fields: Any) -> AssignmentGroup:
    """An assignment group (the factory, typed)."""
    return cast(AssignmentGroup, AssignmentGroupFactory(**fields))


ADD = "/admin/integrations/assignmentrule/add/"


def _form(group_pk: int, **changes: Any) -> dict[str, Any]:
    return {
        "name": "storage team",
        "position": "10",
        "enabled": "on",
        "connection": "",
        "assignment_group": str(group_pk),
        "match_monitoring_services": "Platform",
        "match_resource_types": "microsoft.storage/storageaccounts",
        "match_alert_rules": "",
        "match_subscriptions": "",
        "match_resource_groups": "",
        "match_ci_classes": "",
        "test_delivery": "",
        **changes,
    }


def test_assignment_rule_console_form_saves_the_rule(superuser_client: Client) -> None:
    group = _group(name="Storage")
    response = superuser_client.post(ADD, _form(group.pk, match_severities=["Sev4"]))
    assert response.status_code == 302, response.content
    rule = AssignmentRule.objects.get()
    assert rule.assignment_group == group
    assert rule.match["severities"] == ["Sev4"]
    assert rule.match["resource_types"] == ["microsoft.storage/storageaccounts"]


def test_assignment_rule_console_test_button_tries_the_rule_without_saving(
    superuser_client: Client, connection: Connection, post_alert: Any
) -> None:
    post_alert(with_essentials(STATIC, severity="Sev4"))
    delivery = Delivery.objects.get()
    group = _group()

    matches = superuser_client.post(
        ADD, _form(group.pk, test_delivery=str(delivery.pk), _test_rule="Test")
    )
    assert matches.status_code == 200  # the form again, as filled in
    assert f"Delivery {delivery.pk}: this rule takes its alert." in messages_of(matches)
    misses = superuser_client.post(
        ADD,
        _form(group.pk, test_delivery=str(delivery.pk), match_severities=["Sev0"], _test_rule="T"),
    )
    assert any("no match (severities" in m for m in messages_of(misses))
    assert AssignmentRule.objects.count() == 0


def test_assignment_rules_are_read_only_for_the_roles(
    viewer_client: Client, superuser_client: Client
) -> None:
    rule = AssignmentRule.objects.create(
        name="r", assignment_group=_group(), match={"severities": ["Sev1"]}
    )
    page = viewer_client.get(f"/admin/integrations/assignmentrule/{rule.pk}/change/")
    assert page.status_code == 200
    assert "Severities" in page.content.decode()
    assert viewer_client.get(ADD).status_code == 403


def test_assignment_rule_console_edits_and_deletes_through_the_services(
    superuser_client: Client,
) -> None:
    group = _group(name="Storage")
    rule = AssignmentRule.objects.create(
        name="storage team", assignment_group=group, match={"ci_classes": ["vm"]}
    )
    change = f"/admin/integrations/assignmentrule/{rule.pk}/change/"
    page = superuser_client.get(change)
    assert ">\nvm</textarea>" in page.content.decode()  # the stored match fills the form

    response = superuser_client.post(change, _form(group.pk, name="  storage  "))
    assert response.status_code == 302, response.content
    rule.refresh_from_db()
    assert rule.name == "storage"  # the service's check cleaned it
    assert rule.match["ci_classes"] == []

    superuser_client.post(
        "/admin/integrations/assignmentrule/",
        {"action": "delete_selected", "_selected_action": [rule.pk], "post": "yes"},
    )
    assert not AssignmentRule.objects.exists()
