"""A window's end opens incidents as the ingest does: routed, clocked, announced, grouped."""

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone

from core import events
from incidents import sla
from incidents.choices import IncidentState, JournalKind
from incidents.models import AssignmentGroup, Incident
from integrations.choices import GroupBy, ResolveOn
from integrations.maintenance import maintenance_window_create, maintenance_window_release
from integrations.models import (
    Alert,
    AssignmentRule,
    Connection,
    CorrelationRule,
    MaintenanceWindow,
)
from tests.helpers import STATIC, alert_id, vm_id, with_essentials
from tests.integrations.test_maintenance import DB_01, WEB_01

pytestmark = pytest.mark.django_db

WEB_02 = vm_id("vm-web-02", "rg-web")


def _iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def _payload(
    *, target: str = WEB_01, fired: datetime | None = None, **essentials: Any
) -> dict[str, Any]:
    essentials.setdefault("alertRule", "cpu-high")
    return with_essentials(
        STATIC,
        alertId=alert_id(),
        alertTargetIDs=[target],
        configurationItems=[target.rsplit("/", 1)[-1]],
        firedDateTime=_iso(fired or timezone.now() - timedelta(minutes=5)),
        **essentials,
    )


def _hold(post_alert: Any, **fields: Any) -> dict[str, Any]:
    payload = _payload(**fields)
    response = post_alert(payload)
    assert response.json()["status"] == "suppressed", response.json()
    return payload


def _window(connection: Connection) -> MaintenanceWindow:
    now = timezone.now()
    return maintenance_window_create(
        name="patch Tuesday",
        starts_at=now - timedelta(hours=1),
        ends_at=now + timedelta(hours=1),
        scope={"resource_groups": ["rg-web"]},
        connection=connection,
    )


def _release(window: MaintenanceWindow) -> list[Incident]:
    result = maintenance_window_release(window_id=window.pk, now=window.ends_at)
    assert result.outcome == "released"
    return [Incident.objects.get(pk=i.pk) for i in result.incidents]


def _correlation_rule(**fields: Any) -> CorrelationRule:
    values: dict[str, Any] = {
        "name": "cpu storms",
        "position": 10,
        "match": {"alert_rules": ["cpu-high"]},
        "group_by": [GroupBy.ALERT_RULE, GroupBy.RESOURCE_GROUP],
        "window_minutes": 10,
        "max_age_minutes": 120,
        **fields,
    }
    return CorrelationRule.objects.create(**values)


@pytest.fixture
def heard() -> Iterator[list[tuple[str, int]]]:
    """The events emitted while the test runs: (event, incident_id)."""
    seen: list[tuple[str, int]] = []

    def record(event: str, *, incident_id: int, **data: Any) -> None:
        seen.append((event, incident_id))

    events.subscribe(record)
    yield seen
    events.unsubscribe(record)


def test_release_routes_the_incident_by_the_first_matching_assignment_rule(
    connection: Connection, post_alert: Any
) -> None:
    window = _window(connection)
    web = AssignmentGroup.objects.create(name="Web")
    AssignmentRule.objects.create(
        name="web team", position=10, match={"resource_groups": ["rg-web"]}, assignment_group=web
    )
    _hold(post_alert)

    [incident] = _release(window)

    assert incident.assignment_group == web
    opened = incident.journal.get(kind=JournalKind.OPENED)
    assert "Assigned to Web by assignment rule 'web team'." in opened.message
    assert "Held back until maintenance window 'patch Tuesday' ended." in opened.message


def test_release_starts_the_sla_clocks_at_the_windows_end(
    connection: Connection, post_alert: Any
) -> None:
    window = _window(connection)
    _hold(post_alert, severity="Sev1")

    [incident] = _release(window)

    respond, resolve = sla.targets()[incident.priority]
    assert incident.opened_at == window.ends_at  # the maintenance time does not count
    assert incident.sla_respond_by == window.ends_at + timedelta(minutes=respond)
    assert incident.sla_resolve_by == window.ends_at + timedelta(minutes=resolve)
    assert incident.sla_due_at is not None  # the SLA job will look at it


def test_release_emits_incident_opened_for_notifications(
    connection: Connection, post_alert: Any, heard: list[tuple[str, int]]
) -> None:
    window = _window(connection)
    _hold(post_alert)
    assert heard == []  # a held alert notifies nothing

    [incident] = _release(window)

    assert heard == [(events.Event.INCIDENT_OPENED, incident.pk)]


def test_release_sets_alert_count_and_last_alert_at(
    connection: Connection, post_alert: Any
) -> None:
    window = _window(connection)
    fired = timezone.now().replace(microsecond=0) - timedelta(minutes=7)
    _hold(post_alert, fired=fired)

    [incident] = _release(window)

    assert (incident.alert_count, incident.last_alert_at) == (1, fired)


def test_release_groups_held_alerts_by_correlation_rule(
    connection: Connection, post_alert: Any, heard: list[tuple[str, int]]
) -> None:
    window = _window(connection)
    rule = _correlation_rule()
    now = timezone.now().replace(microsecond=0)
    _hold(post_alert, target=WEB_01, fired=now - timedelta(minutes=9))
    _hold(post_alert, target=WEB_02, fired=now - timedelta(minutes=4), severity="Sev1")

    [incident] = _release(window)  # listed once

    assert incident.alert_count == 2
    assert incident.last_alert_at == now - timedelta(minutes=4)
    assert incident.group_key.startswith(f"{connection.pk}:{rule.pk}:")
    assert incident.priority == 2  # risen to the Sev1 member's
    assert set(Alert.objects.values_list("incident_id", "correlation_rule_id")) == {
        (incident.pk, rule.pk)
    }
    assert {ci.name for ci in incident.configuration_items.all()} == {"vm-web-01", "vm-web-02"}
    assert incident.journal.filter(kind=JournalKind.GROUPED).count() == 1
    assert incident.journal.filter(kind=JournalKind.MAINTENANCE).count() == 2
    assert heard == [(events.Event.INCIDENT_OPENED, incident.pk)]  # once


def test_release_joins_a_group_the_ingest_opened_meanwhile(
    connection: Connection, post_alert: Any
) -> None:
    window = _window(connection)
    rule = _correlation_rule(group_by=[GroupBy.ALERT_RULE])
    _hold(post_alert, target=WEB_01, fired=timezone.now() - timedelta(minutes=3))
    # Outside the window's scope: the ingest opens the group's incident.
    response = post_alert(_payload(target=DB_01, fired=timezone.now() - timedelta(minutes=1)))
    assert response.json()["status"] == "created"

    [joined] = _release(window)

    assert joined.number == response.json()["incident"]
    assert joined.alert_count == 2
    assert Alert.objects.filter(incident=joined, correlation_rule=rule).count() == 2


def test_release_group_member_resolved_after_the_end_follows_resolve_on(
    connection: Connection, post_alert: Any
) -> None:
    window = _window(connection)
    _correlation_rule(resolve_on=ResolveOn.ALL)
    now = timezone.now()
    _hold(post_alert, target=WEB_01, fired=now - timedelta(minutes=9))
    _hold(post_alert, target=WEB_02, fired=now - timedelta(minutes=4))
    # The second resolved after the end, before the job ran; the first still fires.
    Alert.objects.filter(fired_at__gt=now - timedelta(minutes=5)).update(
        monitor_condition="Resolved", resolved_at=window.ends_at + timedelta(seconds=5)
    )

    maintenance_window_release(window_id=window.pk, now=window.ends_at + timedelta(seconds=9))

    incident = Incident.objects.get()
    assert incident.alert_count == 2
    assert incident.state == IncidentState.NEW  # `all`: one member still fires
