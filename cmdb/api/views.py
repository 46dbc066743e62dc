"""Configuration item endpoints: read, create and edit (through the CMDB services).

The incidents app serves them, extended with what it knows of each CI
(`incidents.api.configuration_items`), as it extends the CMDB's admin: the CMDB does not
know incidents.
"""

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from core.api import OrderingFilter
from core.permissions import ModelPermissions
from core.viewsets import ServiceViewSet

from ..filtersets import ConfigurationItemFilterSet
from ..models import ConfigurationItem
from ..selectors import configuration_item_list
from ..services import ci_create, ci_update
from .serializers import (
    ConfigurationItemCreateSerializer,
    ConfigurationItemSerializer,
    ConfigurationItemUpdateSerializer,
)


@extend_schema_view(
    list=extend_schema(summary="List configuration items (filters, ordering, pages)"),
    retrieve=extend_schema(summary="Get one configuration item"),
)
class ConfigurationItemViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ServiceViewSet):
    """Configuration items (Azure resources, or items entered by hand), by name."""

    serializer_class = ConfigurationItemSerializer
    filterset_class = ConfigurationItemFilterSet
    permission_classes = [ModelPermissions]
    # The class's default list (the settings' backends); mypy refuses reading a generic
    # class's instance variable through the class, though nothing here is generic.
    filter_backends = [*viewsets.GenericViewSet.filter_backends, OrderingFilter]  # type: ignore[misc]
    ordering_fields = ["name", "ci_class", "created_at", "last_seen_at", "id"]
    lookup_value_regex = "[0-9]+"

    def get_queryset(self) -> QuerySet[ConfigurationItem]:
        """The configuration items listed; a subclass adds what another app knows of them."""
        return configuration_item_list()

    @extend_schema(
        request=ConfigurationItemCreateSerializer, responses={201: ConfigurationItemSerializer}
    )
    def create(self, request: Request) -> Response:
        """Create a configuration item; an Azure resource ID fills in what it can say."""
        ci = ci_create(**self.validated(ConfigurationItemCreateSerializer))
        return self.answer(ci, status.HTTP_201_CREATED)

    @extend_schema(
        request=ConfigurationItemUpdateSerializer, responses={200: ConfigurationItemSerializer}
    )
    def update(self, request: Request, pk: str) -> Response:
        """Replace name, class, subscription and resource group (not the resource ID)."""
        values = self.validated(ConfigurationItemUpdateSerializer)
        return self.answer(ci_update(ci=self.get_object(), **values))

    @extend_schema(
        request=ConfigurationItemUpdateSerializer, responses={200: ConfigurationItemSerializer}
    )
    def partial_update(self, request: Request, pk: str) -> Response:
        """Change some of name, class, subscription and resource group."""
        values = self.validated(ConfigurationItemUpdateSerializer, partial=True)
        return self.answer(ci_update(ci=self.get_object(), **values))
