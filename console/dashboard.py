"""The console's home page: a few figures, each linking to the list it counts.

Read-only, one query per block whatever the amount of data. Each block is shown only to
users who may view what it counts.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast
from urllib.parse import urlencode

from django.core.cache import cache
from django.db.models import Avg, Count, DurationField, ExpressionWrapper, F, Q
from django.urls import reverse
from django.utils import timezone

from incidents.choices import Priority, SlaStage
from incidents.models import Incident
from incidents.sla import duration_text
from integrations.choices import DeliveryOutcome
from integrations.models import Alert, Delivery

NOISIEST_RULES = 5
# The figures over 7 and 30 days are computed at most once a minute per process.
TRENDS_FRESH_SECONDS = 60
_TRENDS_KEY = "console:dashboard:trends"


@dataclass(frozen=True)
class Figure:
    """A number, what it counts, and the filtered list it comes from."""

    label: str
    value: int
    url: str
    css: str = ""


@dataclass(frozen=True)
class Waiting:
    """The open incident that has waited longest for a response, and for how long."""

    number: str
    title: str
    waited: str
    url: str


@dataclass
class Dashboard:
    open_by_priority: list[Figure] = field(default_factory=list)
    open_total: Figure | None = None
    incidents_24h: list[Figure] = field(default_factory=list)
    deliveries_24h: list[Figure] = field(default_factory=list)
    noisiest_rules: list[Figure] = field(default_factory=list)
    # Service levels: mean time to acknowledge / resolve ("" when nothing to measure).
    mtta: dict[str, str] = field(default_factory=dict)  # "7 days" / "30 days" -> duration
    mttr: dict[str, str] = field(default_factory=dict)
    sla_breaches: list[Figure] = field(default_factory=list)
    unassigned: Figure | None = None
    longest_waiting: Waiting | None = None

    @property
    def is_empty(self) -> bool:
        return self.open_total is None and not self.deliveries_24h


def _url(name: str, **params: object) -> str:
    url = reverse(f"admin:{name}")
    return f"{url}?{urlencode(params)}" if params else url


def _incident_figures(dashboard: Dashboard, now: datetime) -> None:
    incidents = "incidents_incident_changelist"
    # COUNT(*), not COUNT(id): PostgreSQL answers it from the (state, priority) index alone,
    # 6 ms instead of 18 for the 20,000 open incidents of a million (bench/README.md).
    by_priority = dict(
        Incident.objects.open().order_by().values_list("priority").annotate(count=Count("*"))
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
    # The WHERE lets the indexes on opened_at and resolved_at find the day's incidents;
    # without it the aggregate read every incident ever opened.
    counts = Incident.objects.filter(Q(opened_at__gte=day) | Q(resolved_at__gte=day)).aggregate(
        opened=Count("pk", filter=Q(opened_at__gte=day)),
        resolved=Count("pk", filter=Q(resolved_at__gte=day)),
    )
    dashboard.incidents_24h = [
        Figure("Opened", counts["opened"], _url(incidents, state="all", opened="24h")),
        Figure("Resolved", counts["resolved"], _url(incidents, state="all", resolved="24h")),
    ]


def _duration(value: timedelta | None) -> str:
    return duration_text(value) if value is not None else "–"


def _trends(now: datetime) -> dict[str, Any]:
    """The figures over 7 and 30 days: the noisiest rules, MTTA, MTTR, SLA breaches.

    Two queries over the last 30 days' incidents, each through indexes.
    """
    periods = _periods(now)
    # Incidents opened in the last 7 days, per alert rule: the rules that page the most.
    rules = (
        Alert.objects.filter(incident__opened_at__gte=periods["7 days"])
        .exclude(alert_rule="")  # budgets have no rule
        .values("alert_rule")
        .annotate(incidents=Count("incident", distinct=True))
        .order_by("-incidents", "alert_rule")[:NOISIEST_RULES]
    )
    to_ack = ExpressionWrapper(F("sla_responded_at") - F("opened_at"), output_field=DurationField())
    to_resolve = ExpressionWrapper(F("resolved_at") - F("opened_at"), output_field=DurationField())
    breached = Q(sla_respond_stage=SlaStage.BREACHED) | Q(sla_resolve_stage=SlaStage.BREACHED)
    aggregates: dict[str, Any] = {}
    for name, since in periods.items():
        key = name.split()[0]
        aggregates[f"mtta_{key}"] = Avg(
            to_ack,
            filter=Q(opened_at__gte=since, sla_responded_at__isnull=False),
            output_field=DurationField(),
        )
        aggregates[f"mttr_{key}"] = Avg(
            to_resolve, filter=Q(resolved_at__gte=since), output_field=DurationField()
        )
        aggregates[f"breached_{key}"] = Count("pk", filter=Q(opened_at__gte=since) & breached)
    # Only the rows some figure counts (opened or resolved in the last 30 days), found
    # through indexes: without the WHERE the aggregate read the whole history.
    longest = min(periods.values())  # the earliest start
    figures = Incident.objects.filter(
        Q(opened_at__gte=longest) | Q(resolved_at__gte=longest)
    ).aggregate(**aggregates)
    return {"rules": [(row["alert_rule"], row["incidents"]) for row in rules], **figures}


def _periods(now: datetime) -> dict[str, datetime]:
    return {"7 days": now - timedelta(days=7), "30 days": now - timedelta(days=30)}


def _trend_figures(dashboard: Dashboard, now: datetime) -> None:
    """The figures over 7 and 30 days, as this process last computed them (at most 1 min ago).

    They move slowly, and their two queries read the last 30 days' incidents: 85 ms of the
    page at 1,000,000 incidents (bench/README.md).
    """
    incidents = "incidents_incident_changelist"
    trends = cast(
        dict[str, Any],
        cache.get_or_set(_TRENDS_KEY, lambda: _trends(now), TRENDS_FRESH_SECONDS),
    )
    dashboard.noisiest_rules = [
        Figure(rule, count, _url(incidents, state="all", opened="7d", alert_rule=rule))
        for rule, count in trends["rules"]
    ]
    for name in _periods(now):
        key = name.split()[0]
        dashboard.mtta[name] = _duration(trends[f"mtta_{key}"])
        dashboard.mttr[name] = _duration(trends[f"mttr_{key}"])
        dashboard.sla_breaches.append(
            Figure(
                f"Breached, opened in {name}",
                trends[f"breached_{key}"],
                _url(incidents, state="all", opened=f"{key}d", sla="breached"),
                "outcome-refused" if trends[f"breached_{key}"] else "",
            )
        )


def _waiting_figures(dashboard: Dashboard, now: datetime) -> None:
    """The open incidents nobody is assigned to, and the one waiting longest for a response."""
    unassigned = Incident.objects.open().filter(assigned_to__isnull=True).count()
    dashboard.unassigned = Figure(
        "Open, nobody assigned",
        unassigned,
        _url("incidents_incident_changelist", assignee="unassigned"),
    )
    oldest = (
        Incident.objects.open()
        .filter(sla_responded_at__isnull=True, assigned_to__isnull=True)
        .order_by("opened_at", "pk")
        .only("pk", "number", "title", "opened_at")
        .first()
    )
    if oldest is not None:
        dashboard.longest_waiting = Waiting(
            number=oldest.number,
            title=oldest.title,
            waited=duration_text(now - oldest.opened_at),
            url=reverse("admin:incidents_incident_change", args=[oldest.pk]),
        )


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
        _trend_figures(dashboard, now)
        _waiting_figures(dashboard, now)
    if user.has_perm("integrations.view_delivery"):
        _delivery_figures(dashboard, now)
    return dashboard
