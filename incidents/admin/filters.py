"""The incident list's filters: open by default, alert rule and service, the dashboard's links."""

from datetime import timedelta

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.cache import cache
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from cmdb.models import ConfigurationItem
from core.admin_filters import DefaultedFilter, WithinFilter

from ..choices import OPEN_STATES, IncidentState
from ..selectors import alert_values_in_use, incident_list_with_alert


class StateFilter(DefaultedFilter):
    """Open incidents unless asked otherwise: what an operator needs first."""

    title = "state"
    parameter_name = "state"
    OPEN = "open"
    default = OPEN

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list:
        return [
            (self.OPEN, "Open (new, in progress, on hold)"),
            *IncidentState.choices,
            (self.ALL, "All"),
        ]

    def filter_by(self, queryset: QuerySet, value: str) -> QuerySet | None:
        if value == self.OPEN:
            return queryset.filter(state__in=OPEN_STATES)
        if value in IncidentState.values:
            return queryset.filter(state=value)
        return None


class AssigneeFilter(admin.SimpleListFilter):
    title = "assignee"
    parameter_name = "assignee"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list:
        return [
            ("me", "Assigned to me"),
            ("my_groups", "My groups"),
            ("unassigned", "Unassigned"),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        value = self.value()
        if value == "me":
            return queryset.filter(assigned_to=request.user)
        if value == "my_groups":
            return queryset.filter(assignment_group__members=request.user)
        if value == "unassigned":
            return queryset.filter(assigned_to__isnull=True)
        return queryset


class OpenedFilter(WithinFilter):
    title = "opened"
    parameter_name = "opened"
    field = "opened_at"


class ResolvedFilter(WithinFilter):
    title = "resolved"
    parameter_name = "resolved"
    field = "resolved_at"


class ConfigurationItemFilter(admin.SimpleListFilter):
    """The incidents of one CI (linked from the CI's page); shown only while it is in use."""

    title = "configuration item"
    parameter_name = "ci"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list:
        value = self.value()
        if not value:
            return []
        ci = ConfigurationItem.objects.filter(pk=value).first() if value.isdigit() else None
        return [(value, ci.name if ci else f"#{value}")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        value = self.value()
        if not value:
            return queryset
        if not value.isdigit():
            raise IncorrectLookupParameters(f"Unknown configuration item {value!r}.")
        return queryset.filter(configuration_items=value)


# The alert filters offer the values most used by the alerts of the last 30 days (a bounded
# query), and take any other value from the URL (the dashboard's links, a value typed there).
ALERT_VALUES_WINDOW = timedelta(days=30)
ALERT_VALUES_SHOWN = 50
# Each process reads them at most once a minute: at 1,000 incidents a day the query groups
# 30,000 alerts (45 ms of every incident list page at 1,000,000 incidents, bench/README.md),
# and a rule new in the last minute can wait that long to be offered (its URL filters now).
ALERT_VALUES_FRESH_SECONDS = 60


def _alert_values(request: HttpRequest) -> dict[str, list[str]]:
    # Both alert filters share one lookup per page.
    if not hasattr(request, "_console_alert_values"):
        request._console_alert_values = cache.get_or_set(  # type: ignore[attr-defined]
            f"incidents:alert-values:{ALERT_VALUES_SHOWN}",
            lambda: alert_values_in_use(
                since=timezone.now() - ALERT_VALUES_WINDOW, limit=ALERT_VALUES_SHOWN
            ),
            ALERT_VALUES_FRESH_SECONDS,
        )
    return request._console_alert_values  # type: ignore[attr-defined]


class AlertValueFilter(admin.SimpleListFilter):
    """Incidents with an alert whose `field` is the value (exactly)."""

    field: str

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list:
        values = list(_alert_values(request)[self.field])
        value = self.value()
        if value and value not in values:
            values.append(value)
        return [(value, value) for value in values]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        value = self.value()
        if not value:
            return queryset
        return incident_list_with_alert(queryset, **{self.field: value})


class AlertRuleFilter(AlertValueFilter):
    title = "alert rule"
    parameter_name = "alert_rule"
    field = "alert_rule"


class MonitoringServiceFilter(AlertValueFilter):
    title = "monitoring service"
    parameter_name = "monitoring_service"
    field = "monitoring_service"
