"""Query-string filters of the incident list (contract: REST API)."""

import django_filters
from django.db.models import Exists, OuterRef, QuerySet

from cmdb.resource_ids import normalise_resource_id

from .choices import IncidentState, Priority, Severity
from .models import Incident, IncidentConfigurationItem, incident_pk_from_number
from .selectors import incident_list_with_alert, incident_search


class IncidentFilterSet(django_filters.FilterSet):
    state = django_filters.MultipleChoiceFilter(choices=IncidentState.choices)
    priority = django_filters.MultipleChoiceFilter(choices=Priority.choices)
    severity = django_filters.MultipleChoiceFilter(choices=Severity.choices)
    # Alerts and CIs are matched with EXISTS, not joined: DISTINCT over a join of a
    # million incidents read them all to list 50.
    alert_id = django_filters.CharFilter(method="filter_alert")
    configuration_item = django_filters.CharFilter(
        method="filter_configuration_item", label="Azure resource ID (case-insensitive)"
    )
    connection = django_filters.CharFilter(method="filter_connection", label="Connection slug")
    # Case-insensitive, as on /api/alerts/.
    alert_rule = django_filters.CharFilter(
        method="filter_alert", label="Alert rule name of one of its alerts (case-insensitive)"
    )
    monitoring_service = django_filters.CharFilter(
        method="filter_alert",
        label="Monitoring service of one of its alerts, e.g. Platform (case-insensitive)",
    )
    opened_after = django_filters.IsoDateTimeFilter(field_name="opened_at", lookup_expr="gte")
    opened_before = django_filters.IsoDateTimeFilter(field_name="opened_at", lookup_expr="lt")
    search = django_filters.CharFilter(
        method="filter_search",
        label="Number, title, description, alert rule, condition line, alert ID, "
        "Service Health tracking ID, CI name or Azure resource ID (case-insensitive)",
    )

    class Meta:
        model = Incident
        fields = ["state", "priority", "severity"]

    def filter_configuration_item(
        self, queryset: QuerySet[Incident], name: str, value: str
    ) -> QuerySet[Incident]:
        linked = IncidentConfigurationItem.objects.filter(
            incident=OuterRef("pk"),
            configuration_item__azure_resource_id=normalise_resource_id(value),
        )
        return queryset.filter(Exists(linked))

    def filter_alert(
        self, queryset: QuerySet[Incident], name: str, value: str
    ) -> QuerySet[Incident]:
        # Azure's alert ID exactly (its index); a rule or a service in any case.
        lookup = name if name == "alert_id" else f"{name}__iexact"
        return incident_list_with_alert(queryset, **{lookup: value})

    def filter_connection(
        self, queryset: QuerySet[Incident], name: str, value: str
    ) -> QuerySet[Incident]:
        return incident_list_with_alert(queryset, connection__slug=value)

    def filter_search(
        self, queryset: QuerySet[Incident], name: str, value: str
    ) -> QuerySet[Incident]:
        value = value.strip()
        if not value:
            return queryset
        pk = incident_pk_from_number(value)
        if pk is not None:
            return queryset.filter(pk=pk)
        # The whole value is one term: a phrase of Azure's text is found as written.
        return incident_search(queryset, terms=[value])
