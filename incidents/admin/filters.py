"""The incident list's filters: open incidents by default, and the ones the dashboard links to."""

from collections.abc import Iterable
from typing import Any

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.db.models import QuerySet
from django.http import HttpRequest

from cmdb.models import ConfigurationItem
from core.admin_filters import WithinFilter

from ..choices import OPEN_STATES, IncidentState
from ..models import Incident


class StateFilter(admin.SimpleListFilter):
    """Open incidents unless asked otherwise: what an operator needs first."""

    title = "state"
    parameter_name = "state"
    OPEN = "open"
    ALL = "all"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list:
        return [
            (self.OPEN, "Open (new, in progress, on hold)"),
            *IncidentState.choices,
            (self.ALL, "All"),
        ]

    def choices(self, changelist: Any) -> Iterable[dict[str, Any]]:
        current = self.value() or self.OPEN
        for value, label in self.lookup_choices:
            yield {
                "selected": current == value,
                "query_string": changelist.get_query_string({self.parameter_name: value}),
                "display": label,
            }

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        value = self.value() or self.OPEN
        if value == self.OPEN:
            return queryset.filter(state__in=OPEN_STATES)
        if value == self.ALL:
            return queryset
        if value in IncidentState.values:
            return queryset.filter(state=value)
        raise IncorrectLookupParameters(f"Unknown state {value!r}.")


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


class AlertRuleFilter(admin.SimpleListFilter):
    """The incidents of one alert rule (linked from the dashboard); shown only while in use."""

    title = "alert rule"
    parameter_name = "alert_rule"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list:
        value = self.value()
        return [(value, value)] if value else []

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        value = self.value()
        if not value:
            return queryset
        # A subquery: an incident with several alerts of the rule is listed once.
        return queryset.filter(
            pk__in=Incident.objects.filter(alerts__alert_rule=value).values("pk")
        )
