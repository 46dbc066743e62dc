"""What an incident's Azure alerts add to its badges in the console (incidents.badges).

Pure over the incident and its alerts as loaded (with their connection, maintenance
window and correlation rule: `alert_list_for_badges`), so the incident list shows them
without a query per row.
"""

from collections.abc import Sequence

from django.db.models import QuerySet

from core.display import datetime_display
from incidents.badges import (
    MAINTENANCE,
    NEVER_RESOLVES,
    TRACKING,
    Badge,
    flapping_badge,
    group_badge,
)
from incidents.models import Incident

from .models import Alert


def alert_list_for_badges() -> QuerySet[Alert]:
    """Alerts with what their badges read, newest first (the console's incident prefetch)."""
    return Alert.objects.select_related(
        "connection", "maintenance_window", "correlation_rule"
    ).order_by("-created_at", "-pk")


def minutes_display(minutes: int) -> str:
    """90 -> "90 min", 120 -> "2 h", 2880 -> "2 d": how long, as an operator says it."""
    if minutes % 1440 == 0:
        return f"{minutes // 1440} d"
    if minutes % 60 == 0:
        return f"{minutes // 60} h"
    return f"{minutes} min"


def resolves_badge(incident: Incident, alerts: Sequence[Alert]) -> Badge | None:
    """ "Azure never resolves" when no alert of it will be resolved by Azure.

    Service Health and Resource Health incidents are left out: their stage or health
    status resolves them (integrations.lifecycles), though each message is stateless.
    The connection's auto-resolve, when set, is named.
    """
    if not alerts or incident.event_key or any(alert.azure_resolves for alert in alerts):
        return None
    minutes = alerts[0].connection.auto_resolve_after_minutes
    if minutes:
        return Badge(
            NEVER_RESOLVES,
            f"Azure never resolves · auto-resolve {minutes_display(minutes)}",
            f"Resolved by this app after {minutes_display(minutes)} without a new message "
            f"(connection {alerts[0].connection.slug})",
        )
    return Badge(
        NEVER_RESOLVES,
        "Azure never resolves",
        "Azure sends no Resolved for this kind of alert: resolve the incident by hand",
    )


def tracking_badge(alerts: Sequence[Alert]) -> Badge | None:
    """The Service Health trackingId the incident follows."""
    tracking_id = next((alert.tracking_id for alert in alerts if alert.tracking_id), "")
    if not tracking_id:
        return None
    return Badge(TRACKING, tracking_id, "Service Health tracking ID")


def maintenance_badges(incident: Incident, alerts: Sequence[Alert]) -> list[Badge]:
    """The windows that held its alerts back: held still, or opened when the window ended."""
    badges = []
    windows = {alert.maintenance_window_id: alert.maintenance_window for alert in alerts}
    for window in windows.values():
        if window is None:
            continue
        span = f"{datetime_display(window.starts_at)} to {datetime_display(window.ends_at)}"
        if window.released_at is None and incident.opened_at < window.ends_at:
            badges.append(Badge(MAINTENANCE, f"Held by {window.name}", f"Maintenance {span}"))
        else:
            badges.append(
                Badge(
                    MAINTENANCE,
                    f"After maintenance {window.name}",
                    f"Held back by maintenance {span}; opened when it ended, still firing",
                )
            )
    return badges


def incident_badges(incident: Incident, alerts: Sequence[Alert]) -> list[Badge]:
    """All of an incident's badges, in the order the console shows them."""
    rule = next((a.correlation_rule.name for a in alerts if a.correlation_rule), "")
    found = [
        group_badge(incident, rule=rule),
        *maintenance_badges(incident, alerts),
        tracking_badge(alerts),
        resolves_badge(incident, alerts),
        flapping_badge(incident),
    ]
    return [badge for badge in found if badge is not None]
