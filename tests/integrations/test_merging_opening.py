"""A split opens its incident as the webhook opens one: routed, its SLA clocks started,
announced (`incident_opened`); integrations.merging through integrations.opening."""

from datetime import timedelta
from typing import Any, cast

import pytest
from django.utils import timezone

from core import events
from incidents import sla
from incidents.choices import JournalKind
from incidents.models import AssignmentGroup, Incident
from integrations.merging import incident_merge, incident_split
from integrations.models import Alert, AssignmentRule, Connection, Delivery
from tests.factories import AssignmentGroupFactory, UserFactory
from tests.helpers import STATIC, alert_id, vm_id, with_essentials

pytestmark = pytest.mark.django_db


@pytest.fixture
def actor() -> Any:
    return UserFactory(username="olga", is_staff=True)


@pytest.fixture
def two_alerts(post_alert: Any, connection: Connection, actor: Any) -> tuple[Incident, Alert]:
    """One incident holding an alert on vm-a (Sev3) and one on vm-b (Sev1); the vm-b one."""
    numbers = []
    for name, severity, minutes_ago in (("vm-a", "Sev3", 10), ("vm-b", "Sev1", 5)):
        fired = (timezone.now() - timedelta(minutes=minutes_ago)).isoformat()
        response = post_alert(
            with_essentials(
                STATIC,
                alertId=alert_id(),
                alertRule=f"cpu-{name}",
                severity=severity,
                alertTargetIDs=[vm_id(name)],
                configurationItems=[name],
                firedDateTime=fired.replace("+00:00", "Z"),
            )
        )
        assert response.status_code == 201, response.content
        numbers.append(response.json()["incident"])
    keep, other = (Incident.objects.get(number=n) for n in numbers)
    incident_merge(incident=other, into=keep, actor=actor)
    return Incident.objects.get(pk=keep.pk), Alert.objects.get(alert_rule="cpu-vm-b")


def _rule(name: str, group_name: str, **match: list[str]) -> AssignmentRule:
    group = cast(AssignmentGroup, AssignmentGroupFactory(name=group_name))
    return AssignmentRule.objects.create(name=name, assignment_group=group, match=match)


def test_incident_split_routes_the_new_incident_by_its_first_alerts_assignment_rule(
    two_alerts: tuple[Incident, Alert], actor: Any
) -> None:
    source, moved = two_alerts
    rule = _rule("web cpu", "Web", alert_rules=["cpu-vm-b"])

    new = incident_split(incident=source, alert_pks=[moved.pk], actor=actor).incident

    new = Incident.objects.get(pk=new.pk)
    assert new.assignment_group_id == rule.assignment_group_id
    opening = new.journal.get(kind=JournalKind.OPENED)
    assert opening.message == (
        f"Opened by splitting 1 alert out of {source.number}. "
        "Assigned to Web by assignment rule 'web cpu'."
    )
    assert Incident.objects.get(pk=source.pk).assignment_group_id is None  # never re-routed


def test_incident_split_routes_by_the_alert_row_once_its_deliveries_are_purged(
    two_alerts: tuple[Incident, Alert], actor: Any
) -> None:
    source, moved = two_alerts
    rule = _rule("vm-b's group", "Compute", resource_groups=["rg-web"], severities=["sev1"])
    Delivery.objects.filter(alert=moved).delete()

    new = incident_split(incident=source, alert_pks=[moved.pk], actor=actor).incident

    assert Incident.objects.get(pk=new.pk).assignment_group_id == rule.assignment_group_id


def test_incident_split_without_matching_rule_leaves_the_new_incident_unassigned(
    two_alerts: tuple[Incident, Alert], actor: Any
) -> None:
    source, moved = two_alerts
    _rule("vm-a only", "Web", alert_rules=["cpu-vm-a"])

    new = incident_split(incident=source, alert_pks=[moved.pk], actor=actor).incident

    assert Incident.objects.get(pk=new.pk).assignment_group_id is None


def test_incident_split_starts_the_new_incidents_sla_clocks_from_its_priority(
    two_alerts: tuple[Incident, Alert], actor: Any
) -> None:
    source, moved = two_alerts

    new = incident_split(incident=source, alert_pks=[moved.pk], actor=actor).incident

    new = Incident.objects.get(pk=new.pk)
    assert new.priority == 2  # Sev1
    respond, resolve = sla.targets()[2]
    assert new.opened_at == moved.fired_at
    assert new.sla_respond_by == new.opened_at + timedelta(minutes=respond)
    assert new.sla_resolve_by == new.opened_at + timedelta(minutes=resolve)
    assert new.sla_due_at is not None
    assert sla.summary(new) is not None


def test_incident_split_emits_incident_opened_for_the_new_incident_only(
    two_alerts: tuple[Incident, Alert], actor: Any
) -> None:
    source, moved = two_alerts
    rule = _rule("web cpu", "Web", alert_rules=["cpu-vm-b"])
    heard: list[tuple[str, dict[str, Any]]] = []

    def listen(event: str, **data: Any) -> None:
        heard.append((event, data))

    events.subscribe(listen)
    try:
        new = incident_split(incident=source, alert_pks=[moved.pk], actor=actor).incident
    finally:
        events.unsubscribe(listen)

    assert heard == [
        (
            events.Event.INCIDENT_OPENED,
            {
                "incident_id": new.pk,
                "priority": 2,
                "assignment_group_id": rule.assignment_group_id,
            },
        )
    ]
