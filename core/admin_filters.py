"""List filters the console's pages share."""

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

# The windows offered by "received", "opened" and "resolved" filters; the dashboard links to
# them by these keys.
WINDOWS = {
    "24h": ("Last 24 hours", timedelta(hours=24)),
    "7d": ("Last 7 days", timedelta(days=7)),
    "30d": ("Last 30 days", timedelta(days=30)),
}


class WithinFilter(admin.SimpleListFilter):
    """Rows whose `field` lies in the last 24 hours, 7 days or 30 days."""

    field: str

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list:
        return [(key, label) for key, (label, _) in WINDOWS.items()]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        window = WINDOWS.get(self.value() or "")
        if window is None:
            return queryset
        return queryset.filter(**{f"{self.field}__gte": timezone.now() - window[1]})


class DefaultedFilter(admin.SimpleListFilter):
    """A filter that applies `default` while the address names no value (what the page's
    users need first), with `ALL` for every row; a value it does not know is a 400."""

    default: str
    ALL = "all"

    # Any: the stubs' item type (_ListFilterChoices) is private to them.
    def choices(self, changelist: Any) -> Iterator[Any]:
        current = self.value() or self.default
        for value, label in self.lookup_choices:
            yield {
                "selected": current == value,
                "query_string": changelist.get_query_string({self.parameter_name: value}),
                "display": label,
            }

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        value = self.value() or self.default
        if value == self.ALL:
            return queryset
        filtered = self.filter_by(queryset, value)
        if filtered is None:
            raise IncorrectLookupParameters(f"Unknown {self.title} {value!r}.")
        return filtered

    def filter_by(self, queryset: QuerySet, value: str) -> QuerySet | None:
        """The rows of `value` (never `ALL`), or None when the filter has no such value."""
        raise NotImplementedError
