"""A tiny publish/subscribe for domain events ("incident_opened", ...), inside the change.

A service calls `emit(event, incident_id=..., **data)` inside the transaction that makes
the change; subscribers (registered in their AppConfig.ready) run at once, in that same
transaction, so whatever they write or enqueue commits or rolls back with the change.
Subscribers must be cheap and must not fail the change: they enqueue work (core.jobs),
they never send anything themselves. This is not control flow (STYLE.md §0.3): the
emitting service does not depend on who listens, and nothing it returns depends on them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from django.db import models

Subscriber = Callable[..., None]


class Event(models.TextChoices):
    """What may happen to an incident that someone may want to hear about (contract)."""

    INCIDENT_OPENED = "incident_opened", "Incident opened"
    INCIDENT_ASSIGNED = "incident_assigned", "Incident assigned"
    INCIDENT_RESOLVED = "incident_resolved", "Incident resolved"
    SLA_WARNING = "sla_warning", "SLA warning (75 %)"
    SLA_BREACHED = "sla_breached", "SLA breached"
    FLAPPING_STARTED = "flapping_started", "Flapping started"
    WRITEBACK_FAILED = "writeback_failed", "Write-back to Azure failed"


_subscribers: list[Subscriber] = []
_lock = threading.Lock()


def subscribe(subscriber: Subscriber) -> None:
    """Call `subscriber(event, incident_id=..., **data)` for every event (once per function)."""
    with _lock:
        if subscriber not in _subscribers:
            _subscribers.append(subscriber)


def unsubscribe(subscriber: Subscriber) -> None:
    """Stop calling `subscriber` (tests)."""
    with _lock:
        if subscriber in _subscribers:
            _subscribers.remove(subscriber)


def emit(event: str, *, incident_id: int, **data: Any) -> None:
    """Tell the subscribers that `event` happened to the incident `incident_id`.

    Call it inside the transaction of the change. `data` carries what the emitter already
    holds (`priority`, `assignment_group_id`), so a subscriber can decide without a query.
    """
    if event not in Event.values:
        raise ValueError(f"Unknown event {event!r}.")
    for subscriber in tuple(_subscribers):
        subscriber(event, incident_id=incident_id, **data)
