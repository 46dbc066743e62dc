"""Configuration item endpoints."""

from rest_framework import viewsets

from ..filtersets import ConfigurationItemFilterSet
from ..selectors import configuration_item_list
from .serializers import ConfigurationItemSerializer


class ConfigurationItemViewSet(viewsets.ReadOnlyModelViewSet):
    """Configuration items (Azure resources) known to the CMDB."""

    serializer_class = ConfigurationItemSerializer
    filterset_class = ConfigurationItemFilterSet

    def get_queryset(self):  # noqa: ANN201
        return configuration_item_list()
