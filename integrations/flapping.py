"""Flapping: an alert rule that keeps firing and resolving on the same target (contract).

Azure gives every firing of a stateful rule a new alertId, so without this each cycle
opens another incident. Every new alert Azure resolves, with a rule ID and a target,
carries a `flap_key` (its connection, rule and first target, hashed). The firing that
reaches the connection's `flap_threshold` firings of its key within
`flap_interval_minutes` does not open an incident: the latest firing's incident takes it
(a resolved one is reopened by Azure Monitor, an open one joins it) and is marked
`is_flapping`. A person's close or cancel stands: then a new incident opens as usual,
marked flapping (the notification event `flapping_started`, once per spell). A job
clears the mark once the interval passes without a new firing.

`flap_key` and `flap_reached` are pure; `flap_find` is the one extra (indexed) SELECT a
keyed alert costs the ingest; the others write through incidents.services.
"""

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from django.db import transaction
from django.utils import timezone

from cmdb.models import ConfigurationItem
from core import events, jobs
from core.events import Event
from core.exceptions import StateChanged
from incidents.choices import IncidentState
from incidents.models import Incident
from incidents.services import incident_alert_added, incident_flapping, incident_flapping_end

from . import fastpath
from .choices import AZURE_MONITOR_ACTOR
from .lifecycles import azure_resolves
from .models import Alert, Connection
from .parsing import ParsedAlert

FLAPPING_END_JOB = "integrations.flapping_end"
FlappingEndResult = Literal["ended", "rescheduled", "unchanged"]


def flap_key(*, connection_pk: int, alert: ParsedAlert) -> str:
    """The alert's flapping key: sha256 hex of its connection, rule ID and first target.

    "" for alerts Azure never resolves (they cannot flap: each message is a new alert
    that never resolves) and for alerts without a rule ID or a target. Case-insensitive,
    as Azure is about resource IDs.
    """
    if not (alert.alert_rule_id and alert.target_ids and azure_resolves(alert.monitoring_service)):
        return ""
    text = f"{connection_pk}\n{alert.alert_rule_id.lower()}\n{alert.target_ids[0].lower()}"
    return hashlib.sha256(text.encode()).hexdigest()


def flap_reached(*, firings_before: int, threshold: int) -> bool:
    """Whether a firing after `firings_before` within the interval makes `threshold`."""
    return firings_before + 1 >= threshold


@dataclass(frozen=True, slots=True)
class Flap:
    """What the flapping lookup found for a new alert.

    `previous`: the incident of the latest earlier firing, set only when this firing
    reaches the threshold (then the ingest gives the alert to it, or, when a person
    closed or canceled it, opens a new incident marked flapping).
    """

    key: str = ""
    firings: int = 1  # within the interval, counting this one (capped at the threshold)
    previous: Incident | None = None
    fired_at: datetime | None = None

    @property
    def reached(self) -> bool:
        return self.previous is not None


NOT_FLAPPING = Flap()


def flap_find(*, connection: Connection, alert: ParsedAlert, received_at: datetime) -> Flap:
    """Look up the recent firings of the new alert's key: one indexed SELECT, none unkeyed.

    Reads at most threshold - 1 earlier firings within the interval (the partial index
    integrations_alert_flap, newest first), with their incidents. Alerts a maintenance
    window holds (no incident) do not count. A Resolved message for a new alertId is not
    a firing.
    """
    key = flap_key(connection_pk=connection.pk, alert=alert)
    if not key or alert.is_resolved:
        return Flap(key=key) if key else NOT_FLAPPING
    fired_at = alert.fired_at or received_at
    threshold = connection.flap_threshold
    earlier = fastpath.flap_firings(
        connection=connection,
        key=key,
        since=fired_at - timedelta(minutes=connection.flap_interval_minutes),
        until=fired_at,
        limit=threshold - 1,
    )
    firings = len(earlier) + 1
    if not flap_reached(firings_before=len(earlier), threshold=threshold):
        return Flap(key=key, firings=firings, fired_at=fired_at)
    return Flap(key=key, firings=firings, previous=earlier[0], fired_at=fired_at)


def _message(*, flap: Flap, connection: Connection, alert: ParsedAlert, tail: str) -> str:
    rule = alert.alert_rule or alert.alert_rule_id or "-"
    target = alert.target_ids[0] if alert.target_ids else "-"
    return (
        f"Flapping: {rule} fired {flap.firings} times on {target} within "
        f"{connection.flap_interval_minutes} minutes (threshold {connection.flap_threshold}"
        f", connection {connection.slug}); {tail}"
    )


def flap_take(
    *,
    flap: Flap,
    connection: Connection,
    alert: ParsedAlert,
    configuration_items: Iterable[ConfigurationItem],
) -> Incident | None:
    """Give a flapping firing to the previous incident; return it, or None to open anew.

    None at once when the firing does not reach the threshold (`flap.reached`).

    A resolved incident is reopened by Azure Monitor, an open one takes the alert; both
    count the alert, link its CIs and are marked flapping (journal: flapping, with the
    count and interval), and the end of flapping is scheduled. A closed or canceled
    incident stays as the person left it: None, and the caller opens a new incident
    (then `flap_mark_new`).
    The reopen is a compare-and-set; when the state moved meanwhile it is read again
    under a row lock and decided from there.
    """
    incident = flap.previous
    if incident is None or flap.fired_at is None:
        return None
    was_flapping = incident.is_flapping  # read with the previous firings
    for attempt in (1, 2):
        if incident.state in (IncidentState.CLOSED, IncidentState.CANCELED):
            return None  # a person's decision stands
        tail = (
            f"{incident.number} reopened instead of a new incident."
            if incident.state == IncidentState.RESOLVED
            else f"added to {incident.number} instead of a new incident."
        )
        try:
            incident_flapping(
                incident=incident,
                actor=AZURE_MONITOR_ACTOR,
                message=_message(flap=flap, connection=connection, alert=alert, tail=tail),
            )
        except StateChanged:
            if attempt == 2:
                raise  # cannot happen: the row is locked, the state cannot move again
            incident.state = (
                Incident.objects.select_for_update()
                .values_list("state", flat=True)
                .get(pk=incident.pk)
            )
        else:
            break
    incident_alert_added(
        incident=incident,
        fired_at=flap.fired_at,
        actor=AZURE_MONITOR_ACTOR,
        configuration_items=configuration_items,
    )
    if not was_flapping:
        events.emit(Event.FLAPPING_STARTED, incident_id=incident.pk)
    flapping_end_schedule(incident=incident, after=_end_due(flap.fired_at, connection))
    return incident


def flap_mark_new(
    *, incident: Incident, flap: Flap, connection: Connection, alert: ParsedAlert
) -> None:
    """Mark a new incident flapping: its predecessor was closed or canceled by a person."""
    previous = flap.previous.number if flap.previous is not None else "-"
    incident_flapping(
        incident=incident,
        actor=AZURE_MONITOR_ACTOR,
        message=_message(
            flap=flap,
            connection=connection,
            alert=alert,
            tail=f"{previous} was closed or canceled by a person, so a new incident opened.",
        ),
    )
    events.emit(
        Event.FLAPPING_STARTED,
        incident_id=incident.pk,
        priority=incident.priority,
        assignment_group_id=incident.assignment_group_id,
    )
    flapping_end_schedule(incident=incident, after=_end_due(flap.fired_at, connection))


def _end_due(fired_at: datetime | None, connection: Connection) -> datetime:
    return (fired_at or timezone.now()) + timedelta(minutes=connection.flap_interval_minutes)


def flapping_end_schedule(*, incident: Incident, after: datetime) -> None:
    """Check, at `after`, whether the incident's alerts stopped flapping.

    In the caller's transaction (core.jobs). One job per incident and due time.
    """
    jobs.enqueue(
        FLAPPING_END_JOB,
        key=f"flapping-end:{incident.pk}:{int(after.timestamp())}",
        run_after=after,
        incident_id=incident.pk,
    )


@transaction.atomic
def flapping_end(*, incident_id: int, now: datetime | None = None) -> FlappingEndResult:
    """Clear an incident's flapping mark once its connection's `flap_interval_minutes`
    have passed since the latest firing of a flapping key on it (journaled).

    A newer firing moves the check to its own due time ("rescheduled"), so firings never
    have to cancel anything. The incident row is locked while deciding.
    """
    now = now or timezone.now()
    incident = (
        Incident.objects.select_for_update()
        .only("id", "number", "state", "is_flapping")
        .filter(pk=incident_id)
        .first()
    )
    if incident is None or not incident.is_flapping:
        return "unchanged"
    latest = (
        Alert.objects.filter(incident=incident, fired_at__isnull=False)
        .exclude(flap_key="")
        .select_related("connection")
        .order_by("-fired_at", "-pk")
        .first()
    )
    minutes = latest.connection.flap_interval_minutes if latest is not None else 0
    if latest is not None and latest.fired_at is not None:
        due = latest.fired_at + timedelta(minutes=minutes)
        if due > now:
            flapping_end_schedule(incident=incident, after=due)
            return "rescheduled"
    incident_flapping_end(
        incident=incident,
        actor=AZURE_MONITOR_ACTOR,
        message=f"No longer flapping: no new firing for {minutes} minutes."
        if minutes
        else "No longer flapping.",
    )
    return "ended"
