"""`/api/configuration-items/`: the CMDB's endpoint, extended with what incidents know of a CI.

The CMDB does not know incidents (incidents -> cmdb, never the reverse), so this app
serves the CMDB's viewset with `has_open_incidents` added (the field and its filter), as
it extends the CMDB's admin (incidents.admin.configuration_item).
"""

import django_filters
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers

from cmdb.api.serializers import ConfigurationItemSerializer as CmdbConfigurationItemSerializer
from cmdb.api.views import ConfigurationItemViewSet as CmdbConfigurationItemViewSet
from cmdb.filtersets import ConfigurationItemFilterSet as CmdbConfigurationItemFilterSet
from cmdb.models import ConfigurationItem

from ..selectors import configuration_item_list_with_open_incidents


class ConfigurationItemSerializer(CmdbConfigurationItemSerializer):
    has_open_incidents = serializers.BooleanField(
        read_only=True, help_text="Linked to at least one open incident (annotated)."
    )

    class Meta(CmdbConfigurationItemSerializer.Meta):
        fields = [*CmdbConfigurationItemSerializer.Meta.fields, "has_open_incidents"]
        read_only_fields = fields


class ConfigurationItemFilterSet(CmdbConfigurationItemFilterSet):
    has_open_incidents = django_filters.BooleanFilter(
        field_name="has_open_incidents",
        label="true: linked to at least one open incident (new, in progress, on hold)",
    )

    class Meta(CmdbConfigurationItemFilterSet.Meta):
        pass


# The CMDB's writes answer with the CI as this list shows it.
@extend_schema_view(
    **{
        method: extend_schema(responses={code: ConfigurationItemSerializer})
        for method, code in (("create", 201), ("update", 200), ("partial_update", 200))
    }
)
class ConfigurationItemViewSet(CmdbConfigurationItemViewSet):
    """Configuration items (Azure resources, or items entered by hand), by name."""

    serializer_class = ConfigurationItemSerializer
    filterset_class = ConfigurationItemFilterSet

    def get_queryset(self) -> QuerySet[ConfigurationItem]:
        return configuration_item_list_with_open_incidents()
