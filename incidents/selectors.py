"""Reads of incidents for the API and the admin, with their eager loading."""

from django.db.models import Prefetch, QuerySet

from cmdb.models import ConfigurationItem

from .models import Incident, JournalEntry


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


def incident_journal(*, incident: Incident) -> QuerySet[JournalEntry]:
    """An incident's journal, newest first."""
    return incident.journal.select_related("actor").order_by("-created_at", "-pk")
