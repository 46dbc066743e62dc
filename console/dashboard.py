"""The console's home page: a few figures, each linking to the list it counts.

Read-only, one query per block whatever the amount of data. Each block is shown only to
users who may view what it counts.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from django.db.models import Count, Q
from django.urls import reverse
from django.utils import timezone

from incidents.choices import Priority
from incidents.models import Incident
from integrations.choices import DeliveryOutcome
from integrations.models import Alert, Delivery

NOISIEST_RULES = 5


@dataclass(frozen=True)
class Figure:
    """A number, what it counts, and the filtered list it comes from."""

    label: str
    value: int
    url: str
    css: str = ""


@dataclass
class Dashboard:
    open_by_priority: list[Figure] = field(default_factory=list)
    open_total: Figure | None = None
    incidents_24h: list[Figure] = field(default_factory=list)
    deliveries_24h: list[Figure] = field(default_factory=list)
    noisiest_rules: list[Figure] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        return self.open_total is None and not self.deliveries_24h


def _url(name: str, **params: object) -> str:
    url = reverse(f"admin:{name}")
    return f"{url}?{urlencode(params)}" if params else url


def _incident_figures(dashboard: Dashboard, now: datetime) -> None:
    incidents = "incidents_incident_changelist"
    by_priority = dict(
        Incident.objects.open().order_by().values_list("priority").annotate(count=Count("pk"))
    )
    dashboard.open_by_priority = [
        Figure(
            label=priority.label,
            value=by_priority.get(priority.value, 0),
            url=_url(incidents, priority__exact=priority.value),
            css=f"priority-{priority.value}",
        )
        for priority in Priority
    ]
    dashboard.open_total = Figure("Open incidents", sum(by_priority.values()), _url(incidents))

    day = now - timedelta(hours=24)
    counts = Incident.objects.aggregate(
        opened=Count("pk", filter=Q(opened_at__gte=day)),
        resolved=Count("pk", filter=Q(resolved_at__gte=day)),
    )
    dashboard.incidents_24h = [
        Figure("Opened", counts["opened"], _url(incidents, state="all", opened="24h")),
        Figure("Resolved", counts["resolved"], _url(incidents, state="all", resolved="24h")),
    ]

    # Incidents opened in the last 7 days, per alert rule: the rules that page the most.
    week = now - timedelta(days=7)
    rules = (
        Alert.objects.filter(incident__opened_at__gte=week)
        .exclude(alert_rule="")  # budgets have no rule
        .values("alert_rule")
        .annotate(incidents=Count("incident", distinct=True))
        .order_by("-incidents", "alert_rule")[:NOISIEST_RULES]
    )
    dashboard.noisiest_rules = [
        Figure(
            row["alert_rule"],
            row["incidents"],
            _url(incidents, state="all", opened="7d", alert_rule=row["alert_rule"]),
        )
        for row in rules
    ]


def _delivery_figures(dashboard: Dashboard, now: datetime) -> None:
    refused = Q(outcome=DeliveryOutcome.REJECTED)
    counts = Delivery.objects.filter(received_at__gte=now - timedelta(hours=24)).aggregate(
        accepted=Count("pk", filter=~refused), refused=Count("pk", filter=refused)
    )
    deliveries = "integrations_delivery_changelist"
    dashboard.deliveries_24h = [
        Figure(
            "Accepted",
            counts["accepted"],
            _url(deliveries, received="24h", result="accepted"),
            "outcome-accepted",
        ),
        Figure(
            "Refused",
            counts["refused"],
            _url(deliveries, received="24h", result="refused"),
            "outcome-refused" if counts["refused"] else "",
        ),
    ]


def dashboard_for(*, user: Any, now: datetime | None = None) -> Dashboard:
    """The figures `user` may see (none for staff without a role)."""
    now = now or timezone.now()
    dashboard = Dashboard()
    if user.has_perm("incidents.view_incident"):
        _incident_figures(dashboard, now)
    if user.has_perm("integrations.view_delivery"):
        _delivery_figures(dashboard, now)
    return dashboard
