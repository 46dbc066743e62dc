"""Query-string filters of the configuration item list."""

import django_filters
from django.db.models import Q, QuerySet

from .models import ConfigurationItem
from .resource_ids import normalise_resource_id


class ConfigurationItemFilterSet(django_filters.FilterSet):
    azure_resource_id = django_filters.CharFilter(
        method="filter_resource_id", label="Azure resource ID (case-insensitive)"
    )
    ci_class = django_filters.CharFilter(
        field_name="ci_class",
        lookup_expr="iexact",
        label="CI class, e.g. microsoft.compute/virtualmachines (case-insensitive)",
    )
    subscription_id = django_filters.CharFilter(
        lookup_expr="iexact", label="Subscription ID (case-insensitive)"
    )
    resource_group = django_filters.CharFilter(
        lookup_expr="iexact", label="Resource group (case-insensitive)"
    )
    search = django_filters.CharFilter(method="filter_search", label="Name or resource ID")

    class Meta:
        model = ConfigurationItem
        fields = ["ci_class"]

    def filter_resource_id(
        self, queryset: QuerySet[ConfigurationItem], name: str, value: str
    ) -> QuerySet[ConfigurationItem]:
        return queryset.filter(azure_resource_id=normalise_resource_id(value))

    def filter_search(
        self, queryset: QuerySet[ConfigurationItem], name: str, value: str
    ) -> QuerySet[ConfigurationItem]:
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(name__icontains=value) | Q(azure_resource_id__contains=value.lower())
        )
