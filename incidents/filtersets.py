"""Query-string filters of the incident list (contract: REST API)."""

from typing import cast

import django_filters
from django.db.models import Exists, Model, OuterRef, Q, QuerySet

from cmdb.resource_ids import normalise_resource_id

from .choices import IncidentState, Priority, Severity
from .models import Incident, incident_pk_from_number
from .selectors import incident_list_with_alert


class IncidentFilterSet(django_filters.FilterSet):
    state = django_filters.MultipleChoiceFilter(choices=IncidentState.choices)
    priority = django_filters.MultipleChoiceFilter(choices=Priority.choices)
    severity = django_filters.MultipleChoiceFilter(choices=Severity.choices)
    alert_id = django_filters.CharFilter(field_name="alerts__alert_id", distinct=True)
    configuration_item = django_filters.CharFilter(
        method="filter_configuration_item", label="Azure resource ID (case-insensitive)"
    )
    connection = django_filters.CharFilter(
        field_name="alerts__connection__slug", distinct=True, label="Connection slug"
    )
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
        label="Number, title, alert rule, CI name or Service Health tracking ID",
    )

    class Meta:
        model = Incident
        fields = ["state", "priority", "severity"]

    def filter_configuration_item(
        self, queryset: QuerySet[Incident], name: str, value: str
    ) -> QuerySet[Incident]:
        return queryset.filter(
            configuration_items__azure_resource_id=normalise_resource_id(value)
        ).distinct()

    def filter_alert(
        self, queryset: QuerySet[Incident], name: str, value: str
    ) -> QuerySet[Incident]:
        return incident_list_with_alert(queryset, **{f"{name}__iexact": value})

    def filter_search(
        self, queryset: QuerySet[Incident], name: str, value: str
    ) -> QuerySet[Incident]:
        value = value.strip()
        if not value:
            return queryset
        pk = incident_pk_from_number(value)
        if pk is not None:
            return queryset.filter(pk=pk)
        # A Service Health trackingId of one of its alerts: an EXISTS (the alerts live
        # in integrations, which this app does not import; the relation names them).
        related = cast(type[Model], Incident._meta.get_field("alerts").related_model)
        alerts = related._default_manager
        tracking = Exists(
            alerts.filter(incident=OuterRef("pk"), tracking_id__iexact=value[:200]).exclude(
                tracking_id=""
            )
        )
        return queryset.filter(
            tracking
            | Q(title__icontains=value)
            | Q(alerts__alert_rule__icontains=value)
            | Q(configuration_items__name__icontains=value)
            | Q(configuration_items__azure_resource_id=normalise_resource_id(value))
        ).distinct()
