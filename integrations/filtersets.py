"""Query-string filters of the alert and delivery lists."""

import django_filters
from django import forms

from .choices import DeliveryOutcome, MonitorCondition
from .models import Alert, Delivery


class IntegerFilter(django_filters.NumberFilter):
    field_class = forms.IntegerField


class AlertFilterSet(django_filters.FilterSet):
    connection = django_filters.CharFilter(field_name="connection__slug", label="Connection slug")
    alert_id = django_filters.CharFilter(label="An Azure alertId (exact)")
    alert_rule = django_filters.CharFilter(
        lookup_expr="iexact", label="Alert rule name (case-insensitive)"
    )
    monitor_condition = django_filters.ChoiceFilter(choices=MonitorCondition.choices)
    monitoring_service = django_filters.CharFilter(
        lookup_expr="iexact", label="Monitoring service, e.g. Platform (case-insensitive)"
    )
    fired_after = django_filters.IsoDateTimeFilter(
        field_name="fired_at", lookup_expr="gte", label="Fired at or after (ISO 8601)"
    )
    fired_before = django_filters.IsoDateTimeFilter(
        field_name="fired_at", lookup_expr="lt", label="Fired before (ISO 8601)"
    )

    class Meta:
        model = Alert
        fields = ["monitor_condition"]


class DeliveryFilterSet(django_filters.FilterSet):
    outcome = django_filters.MultipleChoiceFilter(choices=DeliveryOutcome.choices)
    connection = django_filters.CharFilter(field_name="connection__slug", label="Connection slug")
    status_code = IntegerFilter(
        min_value=100, max_value=599, label="HTTP status answered, e.g. 400"
    )
    alert_id = django_filters.CharFilter(
        field_name="reported_alert_id", label="The alertId the body named (exact)"
    )
    received_after = django_filters.IsoDateTimeFilter(
        field_name="received_at", lookup_expr="gte", label="Received at or after (ISO 8601)"
    )
    received_before = django_filters.IsoDateTimeFilter(
        field_name="received_at", lookup_expr="lt", label="Received before (ISO 8601)"
    )

    class Meta:
        model = Delivery
        fields = ["outcome", "status_code"]
