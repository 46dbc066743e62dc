"""How Azure opens an incident: the one function both the ingest and a window's release call.

An incident Azure opens is routed by the first matching assignment rule (`routing`), has
its SLA clocks started from its priority (`incidents.sla`, in `incident_new`), holds its
alerts (`alert_count`, `last_alert_at`) and is announced (`incident_opened`, for
notifications). The webhook opens it when a new alert arrives (`services`); a
maintenance window that held the alert back opens it when the window ends
(`maintenance`). Both call `incident_open_for_alert`, so neither can forget a step;
a split (`merging`) builds its own incident and calls the part that routes, writes and
announces it (`incident_open_routed`).
"""

from datetime import datetime

from cmdb.models import ConfigurationItem
from cmdb.services import ci_unique_by_names, ci_upsert_for_resources
from core import events
from core.events import Event
from incidents.models import Incident, JournalEntry
from incidents.services import incident_new, incident_save_new

from . import fastpath, routing
from .choices import AZURE_MONITOR_ACTOR
from .parsing import ParsedAlert
from .summaries import incident_description, incident_title


def alert_configuration_items(
    *, alert: ParsedAlert, received_at: datetime
) -> list[ConfigurationItem]:
    """The CIs of a new alert: its targets (created when missing) and the names Azure sent."""
    cis = ci_upsert_for_resources(resource_ids=alert.target_ids, seen_at=received_at)
    target_names = {ci.name.lower() for ci in cis}
    # Log search alerts target a workspace and name the machines in configurationItems.
    extra_names = [n for n in alert.configuration_items if n.strip().lower() not in target_names]
    if extra_names:
        cis += ci_unique_by_names(names=extra_names)
    return cis


def incident_open_for_alert(
    *,
    connection_id: int,
    alert: ParsedAlert,
    received_at: datetime,
    configuration_items: list[ConfigurationItem],
    event_key: str = "",
    group_key: str = "",
    opened_at: datetime | None = None,
    alert_count: int = 1,
    last_alert_at: datetime | None = None,
    note: str = "",
) -> Incident:
    """Open the incident of a new alert, linked to its CIs, routed, its clocks started.

    By default it opens when the alert fired and holds it alone (alert_count 1); a
    window's release opens it at the window's end (`opened_at`) holding what the window
    held (`alert_count`, `last_alert_at`), and adds a `note` to the opening journal line.
    `incident_opened` is emitted (in the caller's transaction).

    On PostgreSQL the incident, its links and its journal line are one statement
    (`fastpath`); elsewhere the ORM writes the same rows. Concurrent first messages of
    one event, or first alerts of one correlation group: the second fails on the
    open-event (open-group) constraint, and its retry finds this incident.
    """
    incident, journal = incident_new(
        title=incident_title(alert),
        description=incident_description(alert),
        severity=alert.severity,
        opened_at=opened_at or alert.fired_at or received_at,
        actor=AZURE_MONITOR_ACTOR,
        message=f"Opened from Azure Monitor alert {alert.alert_rule or alert.alert_id} "
        f"({alert.monitor_condition}).{' ' + note if note else ''}",
    )
    incident.event_key = event_key
    incident.group_key = group_key
    incident.alert_count = alert_count
    incident.last_alert_at = last_alert_at or incident.opened_at
    return incident_open_routed(
        incident=incident,
        journal=journal,
        connection_id=connection_id,
        alert=alert,
        configuration_items=configuration_items,
    )


def incident_open_routed(
    *,
    incident: Incident,
    journal: JournalEntry,
    connection_id: int,
    alert: ParsedAlert,
    configuration_items: list[ConfigurationItem],
) -> Incident:
    """Route, write and announce a new incident built by `incident_new` for Azure's `alert`.

    What every incident of Azure alerts gets, whoever builds it (the ingest, a window's
    release, a split: integrations.merging): the group of the first assignment rule that
    takes `alert` and `configuration_items`, its row, links and journal line, and
    `incident_opened` (in the caller's transaction).
    """
    # The first matching assignment rule's group, named in the journal: no statement.
    routing.route_new(
        incident=incident,
        journal=journal,
        connection_id=connection_id,
        alert=alert,
        configuration_items=configuration_items,
    )
    if fastpath.supported():
        fastpath.incident_insert(
            incident=incident, journal=journal, configuration_items=configuration_items
        )
    else:
        incident_save_new(
            incident=incident, journal=journal, configuration_items=configuration_items
        )
    # Only a new incident: grouped, reopened and held alerts notify nothing (no query
    # unless a cached notification rule wants it; core.events).
    events.emit(
        Event.INCIDENT_OPENED,
        incident_id=incident.pk,
        priority=incident.priority,
        assignment_group_id=incident.assignment_group_id,
    )
    return incident
