"""Reads of the CMDB."""

from django.db.models import QuerySet

from .models import ConfigurationItem


def configuration_item_list() -> QuerySet[ConfigurationItem]:
    """Configuration items by name."""
    return ConfigurationItem.objects.order_by("name", "pk")
