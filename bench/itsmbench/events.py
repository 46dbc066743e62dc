"""The rules an operations team keeps, for the bench: correlation, windows, routing, notifications.

`--event-rules N --event-windows M` (issue 10's budget: 20 rules, 10 active windows,
flapping on) and `--assignment-rules A --notification-rules R` (issue 11's: 50 and 10)
measure the webhook with them. None matches the bench's alerts (notification rules are
for priority 1, the bench's alerts are priority 5), so every new alert still opens its
incident (201) and the figures compare with a run without them: what is measured is the
cost of deciding. Flapping is on for the bench connection (the connection's defaults).
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from itsmbench.server import BENCH_SLUG

PREFIX = "bench: "  # every rule and window the bench makes, so it removes only its own


def event_config_install(
    *, rules: int, windows: int, assignment_rules: int = 0, notification_rules: int = 0
) -> str:
    """Replace the bench's rules and windows with fresh ones, as many as asked."""
    from django.utils import timezone

    from incidents.models import AssignmentGroup
    from integrations.models import AssignmentRule, Connection, CorrelationRule, MaintenanceWindow
    from notifications.models import NotificationChannel, NotificationRule

    event_config_remove()
    connection = Connection.objects.get(slug=BENCH_SLUG)
    for i in range(rules):
        CorrelationRule.objects.create(
            name=f"{PREFIX}rule {i:02d}",
            position=i + 1,
            # Half for the bench connection, half for every connection.
            connection=connection if i % 2 else None,
            match={
                "monitoring_services": ["Platform"],
                "alert_rules": [f"bench-other-rule-{i}"],
                "resource_types": ["microsoft.compute/virtualmachines"],
            },
            group_by=["alert_rule", "resource_group"],
            window_minutes=10,
            max_age_minutes=120,
        )
    now = timezone.now()
    for i in range(windows):
        MaintenanceWindow.objects.create(
            name=f"{PREFIX}window {i:02d}",
            reason="bench/ingest.py",
            starts_at=now - timedelta(minutes=5),
            ends_at=now + timedelta(hours=2),
            connection=connection if i % 2 else None,
            scope={"resource_groups": [f"bench-held-rg-{i}"]},
        )
    group, _ = AssignmentGroup.objects.get_or_create(name=f"{PREFIX}team")
    for i in range(assignment_rules):
        AssignmentRule.objects.create(
            name=f"{PREFIX}assignment {i:02d}",
            position=i + 1,
            connection=connection if i % 2 else None,
            match={"alert_rules": [f"bench-other-rule-{i}"], "ci_classes": ["virtual machine"]},
            assignment_group=group,
        )
    if notification_rules:
        channel = NotificationChannel.objects.create(
            name=f"{PREFIX}channel",
            kind="webhook",
            target="http://127.0.0.1:9/",  # never sent to: no rule matches
            secret=secrets.token_hex(16),
        )
        for _ in range(notification_rules):
            NotificationRule.objects.create(
                channel=channel, events=["incident_opened", "incident_resolved"], max_priority=1
            )
    return (
        f"{rules} correlation rules, {windows} active maintenance windows, "
        f"{assignment_rules} assignment rules, {notification_rules} notification rules"
    )


def event_config_remove() -> None:
    """Remove what `event_config_install` made (windows holding alerts are ended instead)."""
    from django.db.models import ProtectedError
    from django.utils import timezone

    from integrations.models import AssignmentRule, CorrelationRule, MaintenanceWindow
    from notifications.models import NotificationChannel

    CorrelationRule.objects.filter(name__startswith=PREFIX).delete()
    AssignmentRule.objects.filter(name__startswith=PREFIX).delete()
    NotificationChannel.objects.filter(name__startswith=PREFIX).delete()  # and its rules
    for window in MaintenanceWindow.objects.filter(name__startswith=PREFIX):
        try:
            window.delete()
        except ProtectedError:
            window.ends_at = min(window.ends_at, timezone.now())
            window.save(update_fields=["ends_at", "updated_at"])
