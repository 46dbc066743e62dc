"""Merge and split follow what the alerts say: priority, SLA clocks, resolve_on, CI links."""

import json
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from cmdb.models import ConfigurationItem
from incidents import sla
from incidents.choices import IncidentState, JournalKind, ResolutionCode
from incidents.models import Incident, IncidentConfigurationItem
from incidents.services import incident_link_configuration_items
from integrations.choices import AZURE_MONITOR_ACTOR, GroupBy, ResolveOn
from integrations.merging import incident_merge, incident_split
from integrations.models import Alert, Connection, CorrelationRule
from tests.factories import UserFactory
from tests.helpers import ADMIN, STATIC, alert_id, vm_id, with_essentials

pytestmark = pytest.mark.django_db


@pytest.fixture
def actor() -> Any:
    return UserFactory(username="olga", is_staff=True)


def _iso(minutes_ago: int) -> str:
    at = timezone.now() - timedelta(minutes=minutes_ago)
    return at.isoformat().replace("+00:00", "Z")


@pytest.fixture
def fire(post_alert: Any, connection: Connection) -> Any:
    """Post a new alert on VM `name`; return its payload (the incident: `incident_of`)."""

    def fire(name: str, *, minutes_ago: int = 0, fixture: str = STATIC, **essentials: Any) -> Any:
        essentials.setdefault("alertId", alert_id())
        essentials.setdefault("alertRule", f"cpu-{name}")
        payload = with_essentials(
            fixture,
            alertTargetIDs=[vm_id(name)],
            configurationItems=[name],
            firedDateTime=_iso(minutes_ago),
            **essentials,
        )
        response = post_alert(payload)
        assert response.status_code in (200, 201), response.content
        return payload

    return fire


@pytest.fixture
def resolve(post_alert: Any) -> Any:
    """Post Azure's Resolved for a payload `fire` sent."""

    def resolve(payload: dict[str, Any]) -> None:
        payload = json.loads(json.dumps(payload))
        payload["data"]["essentials"].update(monitorCondition="Resolved", resolvedDateTime=_iso(0))
        response = post_alert(payload)
        assert response.status_code == 200, response.content

    return resolve


def _alert(payload: dict[str, Any]) -> Alert:
    return Alert.objects.select_related("incident").get(
        alert_id=payload["data"]["essentials"]["alertId"]
    )


def _incident(payload: dict[str, Any]) -> Incident:
    incident = _alert(payload).incident
    assert incident is not None
    return Incident.objects.get(pk=incident.pk)


def _fresh(incident: Incident) -> Incident:
    return Incident.objects.get(pk=incident.pk)


def _ci_names(incident: Incident) -> set[str]:
    return set(
        IncidentConfigurationItem.objects.filter(incident=incident).values_list(
            "configuration_item__name", flat=True
        )
    )


def _merged(fire: Any, actor: Any, *first: Any, **more: Any) -> Incident:
    """One incident holding the alerts of the payloads given (merged into the first's)."""
    keep = _incident(first[0])
    for payload in first[1:]:
        incident_merge(incident=_incident(payload), into=keep, actor=actor)
    return _fresh(keep)


# --- merge: priority and SLA clocks ---------------------------------------------------------


def test_incident_merge_raises_the_target_priority_to_the_most_severe_member(
    fire: Any, actor: Any
) -> None:
    target = _incident(fire("vm-a", minutes_ago=10, severity="Sev4"))
    source = _incident(fire("vm-b", severity="Sev1"))
    assert (target.priority, source.priority) == (5, 2)

    incident_merge(incident=source, into=target, actor=actor)

    target = _fresh(target)
    assert (target.priority, target.severity) == (2, "Sev1")
    respond, resolve = sla.targets()[2]
    assert target.sla_respond_by == target.opened_at + timedelta(minutes=respond)
    assert target.sla_resolve_by == target.opened_at + timedelta(minutes=resolve)
    line = target.journal.get(kind=JournalKind.MERGED)
    assert line.message == f"{source.number} merged in: 1 alert. Priority 5 → 2."


def test_incident_merge_keeps_a_priority_a_person_set(fire: Any, actor: Any) -> None:
    target = _incident(fire("vm-a", severity="Sev4"))
    Incident.objects.filter(pk=target.pk).update(priority_set_by_person=True)
    source = _incident(fire("vm-b", severity="Sev0"))

    incident_merge(incident=source, into=target, actor=actor)

    assert _fresh(target).priority == 5


def test_incident_merge_never_lowers_the_target_priority(fire: Any, actor: Any) -> None:
    target = _incident(fire("vm-a", severity="Sev1"))
    source = _incident(fire("vm-b", severity="Sev4"))

    incident_merge(incident=source, into=target, actor=actor)

    assert _fresh(target).priority == 2


# --- split: resolve_on --------------------------------------------------------------------


def test_incident_split_resolves_a_source_left_with_resolved_alerts_only(
    fire: Any, resolve: Any, actor: Any
) -> None:
    a, b = fire("vm-a", minutes_ago=10), fire("vm-b", minutes_ago=5)
    source = _merged(fire, actor, a, b)
    resolve(a)
    assert _fresh(source).state == IncidentState.NEW  # vm-b still fires

    new = incident_split(incident=source, alert_pks=[_alert(b).pk], actor=actor).incident

    source = _fresh(source)
    assert source.state == IncidentState.RESOLVED
    assert source.resolution_code == ResolutionCode.RESOLVED_BY_SOURCE
    assert source.resolved_at == _alert(a).resolved_at
    resolved = source.journal.filter(kind=JournalKind.STATE_CHANGED).get()
    assert resolved.actor_name == AZURE_MONITOR_ACTOR
    assert _fresh(new).state == IncidentState.NEW


def test_incident_split_resolves_a_new_incident_of_resolved_alerts(
    fire: Any, resolve: Any, actor: Any
) -> None:
    a, b = fire("vm-a", minutes_ago=10), fire("vm-b", minutes_ago=5)
    source = _merged(fire, actor, a, b)
    resolve(a)

    new = incident_split(incident=source, alert_pks=[_alert(a).pk], actor=actor).incident

    assert _fresh(new).state == IncidentState.RESOLVED
    assert _fresh(source).state == IncidentState.NEW


def test_incident_split_leaves_open_what_azure_never_resolves(fire: Any, actor: Any) -> None:
    a = fire("vm-a", minutes_ago=10, fixture=ADMIN)  # an activity log alert: never resolved
    b = fire("vm-b", minutes_ago=5)
    source = _merged(fire, actor, a, b)

    incident_split(incident=source, alert_pks=[_alert(b).pk], actor=actor)

    assert _fresh(source).state == IncidentState.NEW


def test_incident_split_leaves_open_a_group_whose_rule_says_never(
    fire: Any, resolve: Any, actor: Any
) -> None:
    CorrelationRule.objects.create(
        name="cpu",
        match={"alert_rules": ["cpu-high"]},
        group_by=[GroupBy.ALERT_RULE],
        resolve_on=ResolveOn.NEVER,
    )
    a = fire("vm-a", minutes_ago=10, alertRule="cpu-high")
    b = fire("vm-b", minutes_ago=5, alertRule="cpu-high")
    source = _incident(a)
    assert source.alert_count == 2  # grouped
    resolve(a)

    incident_split(incident=source, alert_pks=[_alert(b).pk], actor=actor)

    assert _fresh(source).state == IncidentState.NEW  # a person decides


# --- split: CI links ----------------------------------------------------------------------


def test_incident_split_unlinks_the_moved_alerts_cis_from_the_source(fire: Any, actor: Any) -> None:
    a, b = fire("vm-a", minutes_ago=10), fire("vm-b", minutes_ago=5)
    source = _merged(fire, actor, a, b)
    assert _ci_names(source) == {"vm-a", "vm-b"}

    new = incident_split(incident=source, alert_pks=[_alert(b).pk], actor=actor).incident

    assert _ci_names(source) == {"vm-a"}
    assert _ci_names(new) == {"vm-b"}
    line = source.journal.get(kind=JournalKind.SPLIT)
    assert line.message.endswith(" CI vm-b unlinked.")


def test_incident_split_keeps_a_ci_a_remaining_alert_names(fire: Any, actor: Any) -> None:
    a, b1, b2 = fire("vm-a", minutes_ago=10), fire("vm-b", minutes_ago=5), fire("vm-b")
    source = _merged(fire, actor, a, b1, b2)

    incident_split(incident=source, alert_pks=[_alert(b2).pk], actor=actor)

    assert _ci_names(source) == {"vm-a", "vm-b"}


def test_incident_split_keeps_a_ci_a_person_linked(fire: Any, actor: Any) -> None:
    a, b = fire("vm-a", minutes_ago=10), fire("vm-b", minutes_ago=5)
    source = _merged(fire, actor, a, b)
    database = ConfigurationItem.objects.create(name="sql-01", ci_class="database")
    incident_link_configuration_items(incident=source, configuration_items=[database])

    incident_split(incident=source, alert_pks=[_alert(b).pk], actor=actor)

    assert _ci_names(source) == {"vm-a", "sql-01"}
