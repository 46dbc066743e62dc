"""Reads of incidents for the API and the admin, with their eager loading."""

from collections import Counter
from datetime import datetime

from django.contrib.auth import get_user_model
from django.db.models import Count, Exists, OuterRef, Prefetch, Q, QuerySet

from cmdb.models import ConfigurationItem
from cmdb.selectors import configuration_item_list

from .models import Incident, IncidentConfigurationItem, JournalEntry


def incident_list() -> QuerySet[Incident]:
    """Incidents with everything their API representation shows, in a constant number of queries.

    Alerts come from the integrations app through their reverse relation (`alerts`).
    """
    return (
        Incident.objects.select_related("assignment_group", "assigned_to")
        .prefetch_related(
            Prefetch(
                "configuration_items",
                queryset=ConfigurationItem.objects.order_by("name", "pk"),
            ),
            "alerts__connection",
        )
        .order_by("-opened_at", "-pk")
    )


def configuration_item_list_with_open_incidents() -> QuerySet[ConfigurationItem]:
    """The CMDB's configuration items, each with `has_open_incidents` (a subquery, not per row).

    The CMDB does not know incidents; this app adds them to the CMDB's list (the API's
    `has_open_incidents`), as it adds them to the CMDB's admin.
    """
    open_incidents = Incident.objects.open().filter(configuration_items=OuterRef("pk"))
    return configuration_item_list().annotate(has_open_incidents=Exists(open_incidents))


def incident_get(*, pk: int) -> Incident:
    """One incident as `incident_list` shows it (raises Incident.DoesNotExist)."""
    return incident_list().get(pk=pk)


def incident_list_for_ci(*, configuration_item: ConfigurationItem) -> QuerySet[Incident]:
    """The incidents a configuration item is linked to, newest first."""
    return incident_list().filter(configuration_items=configuration_item)


def incident_journal(*, incident: Incident) -> QuerySet[JournalEntry]:
    """An incident's journal, newest first."""
    return incident.journal.select_related("actor").order_by("-created_at", "-pk")


# The console (Django admin). The integrations app points at incidents, never the other
# way round, so alerts and deliveries are read through the reverse relation `alerts`.


# The attribute incident_list_for_console() puts each incident's CI links in.
CI_LINKS = "ci_links"


def incident_list_for_console() -> QuerySet[Incident]:
    """Incidents with what a row of the console's list shows, in a constant number of queries.

    Adds `ci_links` (links to CIs, oldest first, with their CI) and the alerts (newest
    first); the admin adds the assignee and group with `list_select_related`.
    """
    links = IncidentConfigurationItem.objects.select_related("configuration_item")
    ci_links: Prefetch[str, QuerySet[IncidentConfigurationItem], str] = Prefetch(
        "incidentconfigurationitem_set",
        queryset=links.order_by("linked_at", "pk"),
        to_attr=CI_LINKS,
    )
    # django-stubs' plugin refuses this well-typed Prefetch with a to_attr (a plugin bug).
    return Incident.objects.prefetch_related(ci_links, "alerts")  # type: ignore[arg-type]


def incident_configuration_items(*, incident: Incident) -> QuerySet[IncidentConfigurationItem]:
    """An incident's links to configuration items, in the order they were linked."""
    return (
        IncidentConfigurationItem.objects.filter(incident=incident)
        .select_related("configuration_item")
        .order_by("linked_at", "pk")
    )


def incident_list_with_alert(
    queryset: QuerySet[Incident], **alert_lookups: str
) -> QuerySet[Incident]:
    """The incidents of `queryset` with at least one alert matching `alert_lookups`.

    EXISTS rather than a join: an incident with many matching alerts is listed once,
    without DISTINCT over the whole list. Alerts are named by the reverse relation
    `alerts`, not imported (integrations is above incidents).
    """
    lookups = {f"alerts__{name}": value for name, value in alert_lookups.items()}
    return queryset.filter(Exists(Incident.objects.filter(pk=OuterRef("pk"), **lookups)))


ALERT_VALUE_FIELDS = ("alerts__alert_rule", "alerts__monitoring_service")


def alert_values_in_use(*, since: datetime, limit: int) -> dict[str, list[str]]:
    """The alert rules and monitoring services of the alerts created since `since`.

    Per field (`alert_rule`, `monitoring_service`), the `limit` values with the most
    alerts, in alphabetical order. One query for both fields, over the recent alerts only
    (`created_at` is indexed), and bounded.
    """
    rows = (
        Incident.objects.filter(alerts__created_at__gte=since)
        .values_list(*ALERT_VALUE_FIELDS)
        .annotate(uses=Count("alerts"))
        .order_by("-uses")[: limit * 10]
    )
    uses: dict[str, Counter[str]] = {field: Counter() for field in ALERT_VALUE_FIELDS}
    for *values, count in rows:
        for field, value in zip(ALERT_VALUE_FIELDS, values, strict=True):
            if value:
                uses[field][value] += count
    return {
        field.removeprefix("alerts__"): sorted(
            (value for value, _ in counter.most_common(limit)), key=str.casefold
        )
        for field, counter in uses.items()
    }


def assignee_list(*, including: int | None = None) -> QuerySet:
    """People incidents can be assigned to: active staff (plus `including`, a current assignee)."""
    condition = Q(is_active=True, is_staff=True)
    if including is not None:
        condition |= Q(pk=including)
    return get_user_model().objects.filter(condition).order_by("username")
