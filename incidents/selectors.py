"""Reads of incidents for the API and the admin, with their eager loading."""

from django.contrib.auth import get_user_model
from django.db.models import Prefetch, Q, QuerySet

from cmdb.models import ConfigurationItem

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


def incident_list_for_console() -> QuerySet[Incident]:
    """Incidents with what a row of the console's list shows, in a constant number of queries.

    Adds `ci_links` (links to CIs, oldest first, with their CI) and the alerts (newest
    first); the admin adds the assignee and group with `list_select_related`.
    """
    return Incident.objects.prefetch_related(
        Prefetch(
            "incidentconfigurationitem_set",
            queryset=IncidentConfigurationItem.objects.select_related(
                "configuration_item"
            ).order_by("linked_at", "pk"),
            to_attr="ci_links",
        ),
        "alerts",
    )


def incident_configuration_items(*, incident: Incident) -> QuerySet[IncidentConfigurationItem]:
    """An incident's links to configuration items, in the order they were linked."""
    return (
        IncidentConfigurationItem.objects.filter(incident=incident)
        .select_related("configuration_item")
        .order_by("linked_at", "pk")
    )


def incident_alerts(*, incident: Incident) -> QuerySet:
    """The Azure alerts behind an incident, newest first, with their connection and deliveries.

    Deliveries come newest first, without their bodies (up to a MiB each).
    """
    alerts = incident.alerts.select_related("connection").order_by("-created_at", "-pk")
    delivery_model = alerts.model._meta.get_field("deliveries").related_model
    return alerts.prefetch_related(
        Prefetch(
            "deliveries",
            queryset=delivery_model.objects.defer("body").order_by("-received_at", "-pk"),
        )
    )


def assignee_list(*, including: int | None = None) -> QuerySet:
    """People incidents can be assigned to: active staff (plus `including`, a current assignee)."""
    condition = Q(is_active=True, is_staff=True)
    if including is not None:
        condition |= Q(pk=including)
    return get_user_model().objects.filter(condition).order_by("username")
