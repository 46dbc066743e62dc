"""The notifications app's subscriber to core.events: one job at most per incident and event."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from core import jobs

from .selectors import notification_rules_cached

DISPATCH_JOB = "notifications.dispatch"


def dispatch_key(*, incident_id: int, event: str) -> str:
    """The job's idempotency key: while it waits, the same event of the incident is coalesced."""
    return f"notify:{incident_id}:{event}"


def on_event(
    event: str,
    *,
    incident_id: int,
    priority: int | None = None,
    assignment_group_id: int | None = None,
    **data: Any,
) -> None:
    """Enqueue the notification of `event`, in the change's transaction, if a rule may want it.

    No statement at all when no cached rule matches; else one job row, which waits
    NOTIFICATION_COALESCE_SECONDS so that what follows at once (a storm's grouped
    alerts) is in the one message it sends. Exact matching (the incident's group as it
    is then) happens in the job.
    """
    rules = notification_rules_cached()
    if not any(
        rule.matches(event=event, priority=priority, group_id=assignment_group_id) for rule in rules
    ):
        return
    delay = settings.NOTIFICATION_COALESCE_SECONDS
    jobs.enqueue(
        DISPATCH_JOB,
        key=dispatch_key(incident_id=incident_id, event=event),
        run_after=timezone.now() + timedelta(seconds=delay) if delay > 0 else None,
        incident_id=incident_id,
        event=str(event),
        # Names this notification: its sends are found by it when a job runs again.
        message_key=uuid.uuid4().hex,
    )
