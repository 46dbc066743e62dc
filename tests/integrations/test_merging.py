"""Merging an incident into another and splitting alerts out (integrations.merging)."""

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from core.exceptions import ApplicationError, StateChanged, TransitionNotAllowed
from incidents.choices import IncidentState, JournalKind, Priority, ResolutionCode
from incidents.models import Incident, IncidentConfigurationItem, JournalEntry
from incidents.services import incident_cancel, incident_close, incident_resolve
from integrations.choices import AZURE_MONITOR_ACTOR
from integrations.merging import incident_merge, incident_split
from integrations.models import Alert, Connection, Delivery
from tests.factories import UserFactory
from tests.helpers import STATIC, alert_id, vm_id, with_essentials

pytestmark = pytest.mark.django_db


@pytest.fixture
def actor() -> Any:
    return UserFactory(username="olga", is_staff=True)


@pytest.fixture
def fire(post_alert: Any, connection: Connection) -> Any:
    """Open an incident from a new alert on VM `name`; return it."""

    def fire(name: str, *, minutes_ago: int = 0, **essentials: Any) -> Incident:
        fired = timezone.now() - timedelta(minutes=minutes_ago)
        essentials.setdefault("alertId", alert_id())
        essentials.setdefault("alertRule", f"cpu-{name}")
        response = post_alert(
            with_essentials(
                STATIC,
                alertTargetIDs=[vm_id(name)],
                configurationItems=[name],
                firedDateTime=fired.isoformat().replace("+00:00", "Z"),
                **essentials,
            )
        )
        assert response.status_code == 201, response.content
        return Incident.objects.get(number=response.json()["incident"])

    return fire


def _fresh(incident: Incident) -> Incident:
    return Incident.objects.get(pk=incident.pk)


def _ci_names(incident: Incident) -> set[str]:
    return set(
        IncidentConfigurationItem.objects.filter(incident=incident).values_list(
            "configuration_item__name", flat=True
        )
    )


def test_incident_merge_moves_alerts_and_cis_and_cancels_the_source(fire: Any, actor: Any) -> None:
    target = fire("vm-a", minutes_ago=10)
    source = fire("vm-b", minutes_ago=1)
    source_alert = Alert.objects.get(incident=source)

    result = incident_merge(incident=source, into=target, actor=actor)

    assert result.alerts_moved == 1
    assert Alert.objects.get(pk=source_alert.pk).incident_id == target.pk
    source, target = _fresh(source), _fresh(target)
    assert source.state == IncidentState.CANCELED
    assert source.resolution_code == ResolutionCode.DUPLICATE
    assert target.number in source.resolution_notes
    assert source.alert_count == 0
    assert target.alert_count == 2
    assert target.last_alert_at == source_alert.fired_at
    assert _ci_names(target) == {"vm-a", "vm-b"}
    assert _ci_names(source) == set()


def test_incident_merge_journals_both_incidents(fire: Any, actor: Any) -> None:
    target, source = fire("vm-a"), fire("vm-b")

    incident_merge(incident=source, into=target, actor=actor)

    on_source = JournalEntry.objects.get(incident=source, kind=JournalKind.MERGED)
    on_target = JournalEntry.objects.get(incident=target, kind=JournalKind.MERGED)
    assert f"Merged into {target.number}" in on_source.message
    assert on_source.to_state == IncidentState.CANCELED
    assert on_source.actor_name == "olga"
    assert on_target.message == f"{source.number} merged in: 1 alert."


def test_incident_merge_clears_the_source_group_key(fire: Any, actor: Any) -> None:
    target, source = fire("vm-a"), fire("vm-b")
    Incident.objects.filter(pk=source.pk).update(group_key="1:rule:x")

    incident_merge(incident=_fresh(source), into=target, actor=actor)

    assert _fresh(source).group_key == ""


def test_incident_merge_refuses_merging_into_itself(fire: Any, actor: Any) -> None:
    incident = fire("vm-a")

    with pytest.raises(TransitionNotAllowed) as refused:
        incident_merge(incident=incident, into=_fresh(incident), actor=actor)

    assert refused.value.code == "merge_into_itself"
    assert _fresh(incident).state == IncidentState.NEW


@pytest.mark.parametrize("final", ["closed", "canceled"])
def test_incident_merge_refuses_a_closed_or_canceled_target(
    fire: Any, actor: Any, final: str
) -> None:
    target, source = fire("vm-a"), fire("vm-b")
    if final == "closed":
        incident_resolve(incident=target, actor=actor, resolution_code=ResolutionCode.SOLVED)
        incident_close(incident=target, actor=actor)
    else:
        incident_cancel(incident=target, actor=actor, reason="false alarm")

    with pytest.raises(TransitionNotAllowed) as refused:
        incident_merge(incident=source, into=target, actor=actor)

    assert refused.value.code == "merge_target_closed"
    assert Alert.objects.filter(incident=source).count() == 1
    assert _fresh(source).state == IncidentState.NEW
    assert not JournalEntry.objects.filter(kind=JournalKind.MERGED).exists()


def test_incident_merge_refuses_a_canceled_source(fire: Any, actor: Any) -> None:
    target, source = fire("vm-a"), fire("vm-b")
    incident_cancel(incident=source, actor=actor, reason="false alarm")

    with pytest.raises(TransitionNotAllowed) as refused:
        incident_merge(incident=source, into=target, actor=actor)

    assert refused.value.code == "merge_source_closed"
    assert Alert.objects.filter(incident=target).count() == 1


def test_incident_merge_refuses_a_resolved_source_saying_reopen_it(fire: Any, actor: Any) -> None:
    target, source = fire("vm-a"), fire("vm-b")
    incident_resolve(incident=source, actor=actor, resolution_code=ResolutionCode.SOLVED)

    with pytest.raises(TransitionNotAllowed, match="reopen it first"):
        incident_merge(incident=source, into=target, actor=actor)


def test_incident_merge_decides_on_the_stored_state_not_the_callers_copy(
    fire: Any, actor: Any
) -> None:
    target, source = fire("vm-a"), fire("vm-b")
    stale = _fresh(target)
    incident_cancel(incident=target, actor=actor, reason="false alarm")

    with pytest.raises(TransitionNotAllowed):
        incident_merge(incident=source, into=stale, actor=actor)

    assert _fresh(source).state == IncidentState.NEW


def _two_alerts(fire: Any, actor: Any) -> tuple[Incident, Alert, Alert]:
    """One incident holding the alerts of vm-a (older, Sev4) and vm-b (newer, Sev1)."""
    keep = fire("vm-a", minutes_ago=10)
    other = fire("vm-b", minutes_ago=2, severity="Sev1")
    incident_merge(incident=other, into=keep, actor=actor)
    older, newer = Alert.objects.filter(incident=keep).order_by("fired_at")
    return _fresh(keep), older, newer


def test_incident_split_opens_a_new_incident_with_the_chosen_alerts(fire: Any, actor: Any) -> None:
    source, older, newer = _two_alerts(fire, actor)

    result = incident_split(incident=source, alert_pks=[newer.pk], actor=actor)

    new = _fresh(result.incident)
    assert result.alerts_moved == 1
    assert Alert.objects.get(pk=newer.pk).incident_id == new.pk
    assert new.state == IncidentState.NEW
    assert new.alert_count == 1
    assert new.last_alert_at == newer.fired_at
    assert new.severity == "Sev1"
    assert new.priority == Priority.HIGH  # Sev1
    assert _ci_names(new) == {"vm-b"}
    source = _fresh(source)
    assert source.alert_count == 1
    assert source.last_alert_at == older.fired_at


def test_incident_split_titles_the_new_incident_as_the_ingest_would(fire: Any, actor: Any) -> None:
    source, _, newer = _two_alerts(fire, actor)
    opened_by_it = Incident.objects.get(journal__kind=JournalKind.MERGED, state="canceled")

    result = incident_split(incident=source, alert_pks=[newer.pk], actor=actor)

    assert result.incident.title == opened_by_it.title
    assert result.incident.description == opened_by_it.description


def test_incident_split_titles_from_the_alert_row_once_its_deliveries_are_purged(
    fire: Any, actor: Any
) -> None:
    source, _, newer = _two_alerts(fire, actor)
    Delivery.objects.filter(alert=newer).delete()
    Alert.objects.filter(pk=newer.pk).update(alert_rule="cpu-high")

    result = incident_split(incident=source, alert_pks=[newer.pk], actor=actor)

    assert result.incident.title == "cpu-high on vm-b"
    assert newer.alert_id in result.incident.description


def test_incident_split_journals_both_incidents(fire: Any, actor: Any) -> None:
    source, _, newer = _two_alerts(fire, actor)

    new = incident_split(incident=source, alert_pks=[newer.pk], actor=actor).incident

    on_source = JournalEntry.objects.get(incident=source, kind=JournalKind.SPLIT)
    on_new = JournalEntry.objects.get(incident=new, kind=JournalKind.SPLIT)
    assert on_source.message == f"1 alert split out into {new.number}: cpu-vm-b. CI vm-b unlinked."
    assert on_new.message == f"Split out of {source.number}: 1 alert."
    assert on_new.actor_name == "olga"
    assert new.journal.filter(kind=JournalKind.OPENED).exists()


def test_incident_split_refuses_no_alert(fire: Any, actor: Any) -> None:
    source, _, _ = _two_alerts(fire, actor)

    with pytest.raises(ApplicationError) as refused:
        incident_split(incident=source, alert_pks=[], actor=actor)

    assert refused.value.code == "split_nothing"


def test_incident_split_refuses_every_alert(fire: Any, actor: Any) -> None:
    source, older, newer = _two_alerts(fire, actor)
    before = Incident.objects.count()

    with pytest.raises(ApplicationError) as refused:
        incident_split(incident=source, alert_pks=[older.pk, newer.pk], actor=actor)

    assert refused.value.code == "split_all"
    assert Incident.objects.count() == before


def test_incident_split_refuses_an_alert_of_another_incident(fire: Any, actor: Any) -> None:
    source, _, _ = _two_alerts(fire, actor)
    elsewhere = Alert.objects.get(incident=fire("vm-c"))
    before = Incident.objects.count()

    with pytest.raises(ApplicationError) as refused:
        incident_split(incident=source, alert_pks=[elsewhere.pk], actor=actor)

    assert refused.value.code == "split_foreign_alert"
    assert Incident.objects.count() == before
    assert Alert.objects.get(pk=elsewhere.pk).incident_id != source.pk


def test_incident_split_refuses_an_incident_that_is_not_open(fire: Any, actor: Any) -> None:
    source, _, newer = _two_alerts(fire, actor)
    incident_resolve(incident=source, actor=actor, resolution_code=ResolutionCode.SOLVED)

    with pytest.raises(TransitionNotAllowed) as refused:
        incident_split(incident=source, alert_pks=[newer.pk], actor=actor)

    assert refused.value.code == "split_not_open"
    assert Alert.objects.get(pk=newer.pk).incident_id == source.pk


def test_incident_merge_refuses_an_incident_deleted_meanwhile(fire: Any, actor: Any) -> None:
    target = fire("vm-a")
    ghost = Incident(pk=10**9, title="gone", state=IncidentState.NEW)

    with pytest.raises(StateChanged):
        incident_merge(incident=ghost, into=target, actor=actor)


def test_incident_merge_by_azure_actor_names_it(fire: Any) -> None:
    target, source = fire("vm-a"), fire("vm-b")

    incident_merge(incident=source, into=target, actor=AZURE_MONITOR_ACTOR)

    assert JournalEntry.objects.get(incident=target, kind=JournalKind.MERGED).actor_name == (
        AZURE_MONITOR_ACTOR
    )
