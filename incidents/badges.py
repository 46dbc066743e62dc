"""The small labels beside an incident's title in the console: what kind of event it is.

Pure: built from what is already loaded on the incident, never a query. This app knows
only the incident's own fields (its alert count, whether it flaps); integrations adds
what its alerts say (integrations.badges).
"""

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Badge:
    """One label: `kind` picks its colour (CSS class `event-<kind>`), `title` its tooltip."""

    kind: str
    label: str
    title: str = ""


# Kinds, in the order the badges are shown.
GROUP = "group"
MAINTENANCE = "maintenance"
TRACKING = "tracking"
NEVER_RESOLVES = "never-resolves"
FLAPPING = "flapping"


class HasIncidentFields(Protocol):
    alert_count: int
    is_flapping: bool


def group_badge(incident: HasIncidentFields, *, rule: str = "") -> Badge | None:
    """ "N alerts" when the incident holds more than one, naming the rule that grouped them."""
    if incident.alert_count <= 1:
        return None
    label = f"{incident.alert_count} alerts"
    if rule:
        return Badge(GROUP, f"{label} · {rule}", f"Grouped by the correlation rule {rule}")
    return Badge(GROUP, label, f"This incident holds {incident.alert_count} Azure alerts")


def flapping_badge(incident: HasIncidentFields) -> Badge | None:
    """ "Flapping" while its alert rule keeps firing and resolving on the same target."""
    if not incident.is_flapping:
        return None
    return Badge(
        FLAPPING,
        "Flapping",
        "Its alert rule keeps firing and resolving on the same target: reopened, not opened anew",
    )


def incident_badges(incident: HasIncidentFields) -> list[Badge]:
    """The badges this app can tell from the incident alone."""
    return [b for b in (group_badge(incident), flapping_badge(incident)) if b is not None]
