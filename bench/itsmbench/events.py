"""Event-management configuration for the bench: correlation rules and maintenance windows.

`--event-rules N --event-windows M` measure the webhook with the rules and windows an
operations team keeps (issue 10's budget: 20 rules, 10 active windows, flapping on). None
of them matches the bench's alerts, so every new alert still opens its incident (201) and
the figures compare with a run without them: what is measured is the cost of deciding.
Flapping is on for the bench connection (the connection's defaults).
"""

from __future__ import annotations

from datetime import timedelta

from itsmbench.server import BENCH_SLUG

PREFIX = "bench: "  # every rule and window the bench makes, so it removes only its own


def event_config_install(*, rules: int, windows: int) -> str:
    """Replace the bench's rules and windows with `rules` and `windows` fresh ones."""
    from django.utils import timezone

    from integrations.models import Connection, CorrelationRule, MaintenanceWindow

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
    return f"{rules} correlation rules and {windows} active maintenance windows"


def event_config_remove() -> None:
    """Remove what `event_config_install` made (windows holding alerts are ended instead)."""
    from django.db.models import ProtectedError
    from django.utils import timezone

    from integrations.models import CorrelationRule, MaintenanceWindow

    CorrelationRule.objects.filter(name__startswith=PREFIX).delete()
    for window in MaintenanceWindow.objects.filter(name__startswith=PREFIX):
        try:
            window.delete()
        except ProtectedError:
            window.ends_at = min(window.ends_at, timezone.now())
            window.save(update_fields=["ends_at", "updated_at"])
