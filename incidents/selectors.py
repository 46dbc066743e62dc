"""Reads of incidents for the API and the admin, with their eager loading."""

from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from typing import cast

from django.contrib.auth import get_user_model
from django.db import connections
from django.db.models import Count, Exists, Model, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.db.models.expressions import RawSQL
from django.db.models.lookups import IsNull

from cmdb.models import ConfigurationItem
from cmdb.resource_ids import normalise_resource_id
from cmdb.selectors import configuration_item_list
from core.search import contains_any

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
    # "The first open incident is not null", not EXISTS: PostgreSQL turned the EXISTS into
    # a hash of every CI with an open incident (a scan of a million links, 0.45 s) to
    # answer a page of 50; a scalar subquery is looked up per row of the page instead.
    first_open = Incident.objects.open().filter(configuration_items=OuterRef("pk")).values("pk")
    return configuration_item_list().annotate(
        has_open_incidents=IsNull(Subquery(first_open.order_by()[:1]), False)
    )


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


def incident_list_for_console(*, alerts: QuerySet | None = None) -> QuerySet[Incident]:
    """Incidents with what a row of the console's list shows, in a constant number of queries.

    Adds `ci_links` (links to CIs, oldest first, with their CI) and the alerts (newest
    first; `alerts` is their queryset, for the eager loading an app above this one
    needs); the admin adds the assignee and group with `list_select_related`.
    """
    links = IncidentConfigurationItem.objects.select_related("configuration_item")
    ci_links: Prefetch[str, QuerySet[IncidentConfigurationItem], str] = Prefetch(
        "incidentconfigurationitem_set",
        queryset=links.order_by("linked_at", "pk"),
        to_attr=CI_LINKS,
    )
    # django-stubs' plugin refuses this well-typed Prefetch with a to_attr (a plugin bug).
    alert_rows = Prefetch("alerts", queryset=alerts) if alerts is not None else "alerts"
    return Incident.objects.prefetch_related(ci_links, alert_rows)  # type: ignore[arg-type]


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


def _alerts() -> QuerySet:
    """All alerts, reached through the relation that names them (integrations is above)."""
    related = cast(type[Model], Incident._meta.get_field("alerts").related_model)
    return related._default_manager.all()


# The longest text one search term is compared with (Alert.tracking_id is 200 characters).
MAX_SEARCH_TERM = 200
# Up to this many incidents found, a search term's incidents are read once and listed by
# their ids (incident_matching). A rule's name finds 5,000 of a million in the bench.
SEARCH_IDS_AT_MOST = 10_000
# The incident's fields searched through one joined trigram index (incidents.0010).
SEARCH_JOINED = (("title", "description"),)


def incident_matching(term: str) -> Q:
    """The incidents one search term finds (the console's and the API's `search`).

    Case-insensitive, in the number, title and description (which holds what Azure
    wrote: its description, Service Health's communication), in an alert's rule, its
    condition line, its alert ID (exactly) or Service Health trackingId (whole), and in
    a linked CI's name or Azure resource ID. The incidents found are the union of three
    id lists, one per table, each read from that table's (trigram, on PostgreSQL) indexes:
    measured at 100,000 incidents, an OR of EXISTS scanned every incident (1 s, 2 s to
    count), the union answers in 0.1 s. An incident is found once, without DISTINCT.

    The union is read when the Q is built (one query), so the list's count and its page
    reuse its ids instead of each running it again.
    """
    term = term.strip()[:MAX_SEARCH_TERM]
    # The title and description through their joined trigram indexes (core.search): a
    # rule's or a resource's name is then one word, not "bench", "rule" and "0".
    vendor = connections[Incident.objects.db].vendor
    own = Incident.objects.filter(
        contains_any(
            term, fields=("number", "title", "description"), joined=SEARCH_JOINED, vendor=vendor
        )
    ).values_list("pk")
    alert_found = _alerts().filter(
        Q(alert_rule__icontains=term)
        | Q(condition__icontains=term)
        | Q(alert_id=term)
        | Q(tracking_id__iexact=term)
    )
    in_ci = Q(configuration_item__name__icontains=term)
    resource_id = normalise_resource_id(term)
    if resource_id:
        in_ci |= Q(configuration_item__azure_resource_id__icontains=resource_id)
    ci_found = IncidentConfigurationItem.objects.filter(in_ci)
    found = own.order_by().union(
        alert_found.filter(incident__isnull=False).order_by().values_list("incident_id"),
        ci_found.order_by().values_list("incident_id"),
    )
    # Read once, here: as a subquery, the union ran twice, for the list's count and for
    # its page (0.4 s each at 1,000,000 incidents); its ids serve both. A search finding
    # more than SEARCH_IDS_AT_MOST incidents keeps the subquery.
    ids = [pk for (pk,) in found[: SEARCH_IDS_AT_MOST + 1]]
    if len(ids) > SEARCH_IDS_AT_MOST:
        return Q(pk__in=found)
    if vendor == "postgresql":
        # One array parameter, not one per id: 5,000 ids (a rule's name) as IN (...) cost
        # 0.1 s of building and parsing the count's and the page's SQL.
        return Q(pk__in=RawSQL("SELECT unnest(%s::bigint[])", (ids,)))
    return Q(pk__in=ids)


def incident_search(queryset: QuerySet[Incident], *, terms: Iterable[str]) -> QuerySet[Incident]:
    """The incidents of `queryset` each of `terms` finds (`incident_matching`); blank ones skip."""
    for term in terms:
        if term.strip():
            queryset = queryset.filter(incident_matching(term))
    return queryset


ALERT_VALUE_FIELDS = ("alerts__alert_rule", "alerts__monitoring_service")


def alert_values_in_use(*, since: datetime, limit: int) -> dict[str, list[str]]:
    """The alert rules and monitoring services of the alerts created since `since`.

    Per field (`alert_rule`, `monitoring_service`), the `limit` values with the most
    alerts, in alphabetical order. One query for both fields, over the recent alerts only
    (`created_at` is indexed), and bounded.
    """
    # Read from the alerts alone: joined to their incidents, the 30 days of a million
    # incidents cost 30,000 probes of the incidents' primary key (0.1-0.2 s a page).
    fields = [field.removeprefix("alerts__") for field in ALERT_VALUE_FIELDS]
    rows = (
        _alerts()
        .filter(created_at__gte=since, incident__isnull=False)
        .order_by()
        .values_list(*fields)
        .annotate(uses=Count("pk"))
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
