"""Reads of the CMDB."""

from django.db.models import Exists, OuterRef, QuerySet

from .models import ConfigurationItem


def configuration_item_list() -> QuerySet[ConfigurationItem]:
    """Configuration items by name, each with `has_open_incidents` (a subquery, not per row).

    Incidents belong to an app that depends on this one, so they are reached through the
    reverse relation (`ConfigurationItem.incidents`) rather than imported; "open" is the
    incident app's own `open()` query.
    """
    incident_model = ConfigurationItem._meta.get_field("incidents").related_model
    open_incidents = incident_model.objects.open().filter(configuration_items=OuterRef("pk"))
    return ConfigurationItem.objects.annotate(has_open_incidents=Exists(open_incidents)).order_by(
        "name", "pk"
    )


def configuration_item_get(*, pk: int) -> ConfigurationItem | None:
    """One configuration item as the list shows it, or None."""
    return configuration_item_list().filter(pk=pk).first()
