"""Assignment rules in the ingest (integrations.routing): first match wins, no overwrite."""

import itertools
from typing import Any, cast

import pytest
from django.contrib.auth.models import User
from django.db import connection as db
from django.test.utils import CaptureQueriesContext

from incidents.choices import JournalKind
from incidents.models import AssignmentGroup, Incident
from incidents.services import incident_assign
from integrations import routing
from integrations.models import AssignmentRule, Connection, CorrelationRule, Delivery
from tests.factories import AssignmentGroupFactory, ConfigurationItemFactory, UserFactory
from tests.helpers import STATIC, TENANT_ID, alert_id, vm_id, with_essentials
from tests.integrations.test_ingest import data_queries

pytestmark = pytest.mark.django_db


def _group(**fields: Any) -> AssignmentGroup:
    """An assignment group (the factory, typed)."""
    return cast(AssignmentGroup, AssignmentGroupFactory(**fields))


def _user(**fields: Any) -> User:
    """A user (the factory, typed)."""
    return cast(User, UserFactory(**fields))


_names = itertools.count(1)


def _rule(group: AssignmentGroup, **changes: Any) -> AssignmentRule:
    values: dict[str, Any] = {"name": f"rule {next(_names)}", "match": {}, **changes}
    return AssignmentRule.objects.create(assignment_group=group, **values)


def _vm_alert(vm: str = "vm1", severity: str = "Sev1", **essentials: Any) -> dict[str, Any]:
    return with_essentials(
        STATIC,
        alertId=alert_id(),
        severity=severity,
        alertRule="cpu-high",
        alertTargetIDs=[vm_id(vm)],
        configurationItems=[vm],
        **essentials,
    )


def _opened(post_alert: Any, payload: dict[str, Any]) -> Incident:
    response = post_alert(payload)
    assert response.status_code in (200, 201), response.content
    return Incident.objects.select_related("assignment_group").get(
        number=response.json()["incident"]
    )


def test_route_new_gives_the_first_matching_rule_group_and_names_the_rule(
    connection: Connection, post_alert: Any
) -> None:
    web, dba, everyone = (_group(name=n) for n in ("Web", "DBA", "Everyone"))
    _rule(dba, name="databases", position=5, match={"resource_types": ["microsoft.sql/servers"]})
    _rule(web, name="web sev1", position=10, match={"severities": ["sev1"]})  # any case
    _rule(everyone, name="catch all", position=20)

    incident = _opened(post_alert, _vm_alert())

    assert incident.assignment_group == web
    assert incident.assigned_to is None
    opening = incident.journal.get(kind=JournalKind.OPENED)
    assert "Assigned to Web by assignment rule 'web sev1'." in opening.message


def test_route_new_matches_connection_ci_classes_and_resource_groups(
    connection: Connection, post_alert: Any
) -> None:
    other = Connection.objects.create(slug="other", name="o", tenant_id=TENANT_ID, audiences=["a"])
    vms, ops = _group(name="VMs"), _group(name="Ops")
    _rule(ops, position=1, connection=other)  # never this connection's alerts
    _rule(
        vms,
        position=2,
        match={"ci_classes": ["microsoft.compute/virtualmachines"], "resource_groups": ["RG-WEB"]},
    )

    assert _opened(post_alert, _vm_alert()).assignment_group == vms
    storage = with_essentials(STATIC, alertId=alert_id())  # a storage account
    assert _opened(post_alert, storage).assignment_group is None


def test_route_new_skips_disabled_rules(connection: Connection, post_alert: Any) -> None:
    _rule(_group(), enabled=False)
    assert _opened(post_alert, _vm_alert()).assignment_group is None


def test_routing_never_changes_an_incident_a_grouped_alert_joins(
    connection: Connection, post_alert: Any
) -> None:
    """A person's assignment stands: rules only act when Azure opens an incident."""
    first_team, second_team = _group(name="First"), _group()
    CorrelationRule.objects.create(name="storms", group_by=["alert_rule"], match={})
    rule = _rule(first_team)
    incident = _opened(post_alert, _vm_alert("vm1"))
    assert incident.assignment_group == first_team  # the group's first alert is routed
    person = _user()
    incident_assign(
        incident=incident, actor=person, assigned_to=person, assignment_group=second_team
    )
    rule.assignment_group = _group()
    rule.save()

    joined = _opened(post_alert, _vm_alert("vm2"))

    assert joined.pk == incident.pk
    assert (joined.assigned_to, joined.assignment_group) == (person, second_team)


def test_rules_are_cached_and_a_saved_rule_applies_at_once(
    connection: Connection, post_alert: Any
) -> None:
    assert routing.rules_cached() == ()
    group = _group(name="Late")
    _rule(group)  # post_save clears this process's cache
    assert [r.group_name for r in routing.rules_cached()] == ["Late"]
    group.name = "Renamed"
    group.save()  # the cache holds group names too
    assert [r.group_name for r in routing.rules_cached()] == ["Renamed"]


def test_ingest_statements_do_not_grow_with_the_number_of_rules(
    connection: Connection, post_alert: Any
) -> None:
    group = _group()
    post_alert(_vm_alert("warm"))  # warm up: key set, caches
    with CaptureQueriesContext(db) as one_rule:
        assert post_alert(_vm_alert("a")).status_code == 201
    for n in range(50):
        _rule(group, position=n, match={"alert_rules": [f"never-{n}"]})
    post_alert(_vm_alert("warm2"))  # the rules are read once, into the cache
    with CaptureQueriesContext(db) as fifty_rules:
        assert post_alert(_vm_alert("b")).status_code == 201
    assert len(data_queries(fifty_rules)) == len(data_queries(one_rule))


def test_rule_test_explains_why_a_stored_delivery_matches_or_not(
    connection: Connection, post_alert: Any
) -> None:
    post_alert(_vm_alert(severity="Sev3"))
    ConfigurationItemFactory(name="unrelated")
    delivery = Delivery.objects.get()
    unsaved = AssignmentRule(
        name="try",
        match={"severities": ["Sev0", "Sev1"], "ci_classes": ["microsoft.compute/virtualmachines"]},
    )

    result = routing.rule_test(rule=unsaved, delivery=delivery)

    assert result.matches is False
    assert result.reasons == ["severities: the alert has sev3, the rule wants sev0, sev1"]
    unsaved.match = {"ci_classes": ["Microsoft.Compute/virtualMachines"]}
    assert routing.rule_test(rule=unsaved, delivery=delivery).matches is True
    assert AssignmentRule.objects.count() == 0  # nothing was written
