"""Reads of the CMDB."""

from django.db.models import QuerySet

from .models import ConfigurationItem


def configuration_item_list() -> QuerySet[ConfigurationItem]:
    """Configuration items by name.

    The CMDB knows nothing of incidents (incidents -> cmdb, never the reverse): the
    incidents app adds what it knows, e.g. `incidents.selectors.
    configuration_item_list_with_open_incidents` for the API's `has_open_incidents`.
    """
    return ConfigurationItem.objects.order_by("name", "pk")


def configuration_item_get(*, pk: int) -> ConfigurationItem | None:
    """One configuration item, or None."""
    return configuration_item_list().filter(pk=pk).first()
