"""Which alerts Azure resolves, and how the stateless ones are followed. Pure: no database.

Azure's activity-log alerts are stateless: every message is `Fired`, with a new alertId
(../docs/azure-setup.md, "What each kind of alert does"). The ingest asks
`lifecycle_of` once per new alertId and follows the answer:

* stateful: the alert's own Fired/Resolved (metric, log v2, Prometheus, smart detector);
* service_health: one incident per (connection, subscription, trackingId), resolved by
  its `stage`;
* resource_health: one open incident per (connection, resource), opened and resolved
  by the health status;
* stateless: Azure never resolves it (a connection's auto-resolve may).
"""

import html
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from cmdb.resource_ids import normalise_resource_id, subscription_of

SERVICE_HEALTH = "servicehealth"
RESOURCE_HEALTH = "resourcehealth"
# monitoringService values (spaces and case ignored) whose alerts Azure resolves itself.
STATEFUL_SERVICES = frozenset({"platform", "logalertsv2", "prometheus", "smartdetector"})
# A Service Health stage that ends the event, per incidentType.
_ENDING_STAGES = {"maintenance": frozenset({"resolved", "complete", "canceled", "cancelled"})}
_DEFAULT_ENDING_STAGES = frozenset({"resolved"})
MAX_COMMUNICATION = 500  # characters of a communication kept in the journal
MAX_TRACKING_ID = 200  # Alert.tracking_id
_UNHEALTHY = frozenset({"unavailable", "degraded"})
_TAGS = re.compile(r"<[^>]*>")
_SPACES = re.compile(r"\s+")


class Kind(StrEnum):
    STATEFUL = "stateful"
    SERVICE_HEALTH = "service_health"
    RESOURCE_HEALTH = "resource_health"
    STATELESS = "stateless"


class HealthMove(StrEnum):
    """What a Resource Health message does to the resource's incident."""

    OPENS = "opens"  # Unavailable or Degraded: open one, or add to the open one
    RESOLVES = "resolves"  # Available, or status Resolved
    JOURNAL_ONLY = "journal_only"  # to or from Unknown, or no health status at all


@dataclass(frozen=True, slots=True)
class Lifecycle:
    """How the ingest follows one message (see the module docstring).

    `key` correlates the messages of one event (without the connection, which the
    ingest adds); `note` is the journal line a follow-up message adds.
    """

    kind: Kind
    key: str = ""
    resolves: bool = False
    health: HealthMove | None = None
    note: str = ""
    tracking_id: str = ""


def _normalised(value: str | None) -> str:
    return (value or "").replace(" ", "").replace("-", "").lower()


def azure_resolves(monitoring_service: str | None) -> bool:
    """Whether Azure sends Resolved for alerts of this monitoring service."""
    return _normalised(monitoring_service) in STATEFUL_SERVICES


def _text(mapping: Any, name: str) -> str:
    """A string field of a JSON object, "" when absent, null or not text (defensive)."""
    if not isinstance(mapping, dict):
        return ""
    value = mapping.get(name)
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return ""
    return str(value).strip()


def plain_text(value: str, *, max_length: int = MAX_COMMUNICATION) -> str:
    """HTML (a Service Health communication) as one short line of plain text."""
    text = _SPACES.sub(" ", html.unescape(_TAGS.sub(" ", value))).strip()
    return text if len(text) <= max_length else text[: max_length - 1].rstrip() + "…"


def _properties(context: dict[str, Any] | None) -> dict[str, Any]:
    properties = (context or {}).get("properties")
    return properties if isinstance(properties, dict) else {}


def _service_health(alert: Any) -> Lifecycle:
    properties = _properties(alert.alert_context)
    tracking_id = _text(properties, "trackingId")[:MAX_TRACKING_ID]
    subscription = subscription_of(alert.target_ids[0]) if alert.target_ids else ""
    if not tracking_id or not subscription:
        return Lifecycle(kind=Kind.STATELESS, tracking_id=tracking_id)
    stage = _text(properties, "stage")
    incident_type = _text(properties, "incidentType")
    ending = _ENDING_STAGES.get(incident_type.lower(), _DEFAULT_ENDING_STAGES)
    communication = plain_text(_text(properties, "communication"))
    note = f"Service Health {incident_type or 'event'} {tracking_id}, stage {stage or '-'}"
    return Lifecycle(
        kind=Kind.SERVICE_HEALTH,
        key=f"{SERVICE_HEALTH}:{subscription}:{tracking_id}",
        resolves=stage.lower() in ending,
        note=f"{note}: {communication}" if communication else f"{note}.",
        tracking_id=tracking_id,
    )


def _health_move(current: str, previous: str, status: str) -> HealthMove:
    if "unknown" in (current, previous):
        return HealthMove.JOURNAL_ONLY  # Microsoft's advice: Unknown says nothing
    if current == "available" or status == "resolved":
        return HealthMove.RESOLVES
    if current in _UNHEALTHY:
        return HealthMove.OPENS
    return HealthMove.JOURNAL_ONLY


def _resource_health(alert: Any) -> Lifecycle:
    if not alert.target_ids:
        return Lifecycle(kind=Kind.STATELESS)
    context = alert.alert_context or {}
    properties = _properties(context)
    current = _text(properties, "currentHealthStatus")
    previous = _text(properties, "previousHealthStatus")
    status = _text(context, "status")
    move = _health_move(current.lower(), previous.lower(), status.lower())
    note = f"Resource Health: {previous or '-'} → {current or '-'} (status {status or '-'})" + (
        f": {plain_text(_text(properties, 'title'))}" if _text(properties, "title") else "."
    )
    return Lifecycle(
        kind=Kind.RESOURCE_HEALTH,
        key=f"{RESOURCE_HEALTH}:{normalise_resource_id(alert.target_ids[0])}",
        resolves=move == HealthMove.RESOLVES,
        health=move,
        note=note,
    )


STATEFUL = Lifecycle(kind=Kind.STATEFUL)


def lifecycle_of(alert: Any) -> Lifecycle:
    """How to follow a new alert (a `parsing.ParsedAlert`); reads no database."""
    service = _normalised(alert.monitoring_service)
    if service == SERVICE_HEALTH:
        return _service_health(alert)
    if service == RESOURCE_HEALTH:
        return _resource_health(alert)
    if service in STATEFUL_SERVICES:
        return STATEFUL
    return Lifecycle(kind=Kind.STATELESS)
