"""Configuration items in the console: browse by class, subscription and resource group.

Writes go through `cmdb.services`. The incidents app extends this admin with each CI's
incidents (the CMDB does not know incidents).
"""

from typing import Any
from urllib.parse import quote

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from core.exceptions import ApplicationError
from core.paginator import EstimatedCountPaginator

from .admin_list_filters import IndexedValuesFilter
from .models import ConfigurationItem
from .resource_ids import parse_resource_id
from .services import ci_create, ci_update

PORTAL_RESOURCE_URL = "https://portal.azure.com/#@/resource"
# Up to this many CIs found, a search's CIs are read once and listed by their ids.
SEARCH_IDS_AT_MOST = 10_000


class ConfigurationItemForm(forms.ModelForm):
    """A CI by hand: an Azure resource ID fills in what it says (name, class, scope)."""

    class Meta:
        model = ConfigurationItem
        fields = ["name", "ci_class", "azure_resource_id", "subscription_id", "resource_group"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in ("name", "ci_class"):
            if name in self.fields and "azure_resource_id" in self.fields:
                self.fields[name].required = False
                self.fields[name].help_text = "Blank: taken from the Azure resource ID."

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data  # what ModelForm.clean returns
        resource_id = (data.get("azure_resource_id") or "").strip()
        if resource_id:
            if not resource_id.lower().startswith("/subscriptions/"):
                self.add_error(
                    "azure_resource_id", "An Azure resource ID starts with /subscriptions/."
                )
                return data
            ref = parse_resource_id(resource_id)
            # Stored normalised (lower case): the unique constraint then matches any casing.
            data["azure_resource_id"] = ref.resource_id
            data["name"] = data.get("name") or ref.name
            data["ci_class"] = data.get("ci_class") or ref.ci_class
            data["subscription_id"] = data.get("subscription_id") or ref.subscription_id
            data["resource_group"] = data.get("resource_group") or ref.resource_group
        elif "azure_resource_id" in self.fields:
            data["azure_resource_id"] = None
        for name in ("name", "ci_class"):
            if name in self.fields and not (data.get(name) or "").strip():
                self.add_error(name, "Required (or give an Azure resource ID to take it from).")
        return data


@admin.register(ConfigurationItem)
class ConfigurationItemAdmin(admin.ModelAdmin):
    form = ConfigurationItemForm
    list_display = ["name", "ci_class", "subscription_id", "resource_group", "last_seen_at"]
    list_filter = [
        ("ci_class", IndexedValuesFilter),
        ("subscription_id", IndexedValuesFilter),
        ("resource_group", IndexedValuesFilter),
    ]
    search_fields = ["name", "azure_resource_id"]
    search_help_text = "Name or Azure resource ID (or part of it)."
    # Large tables: no count of every row for an unfiltered page, nor a second count of
    # the whole table beside a filtered one (core.paginator).
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    list_select_related = []
    show_facets = admin.ShowFacets.NEVER
    fields = [
        "name",
        "ci_class",
        "azure_resource_id",
        "portal_link",
        "subscription_id",
        "resource_group",
        "first_seen_at",
        "last_seen_at",
        "created_at",
        "updated_at",
    ]
    readonly_fields = ["portal_link", "first_seen_at", "last_seen_at", "created_at", "updated_at"]

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[ConfigurationItem], search_term: str
    ) -> tuple[QuerySet[ConfigurationItem], bool]:
        found, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        if not search_term.strip() or may_have_duplicates:
            return found, may_have_duplicates
        # Read once, here: the trigram indexes hand PostgreSQL thousands of candidates to
        # re-check (22,000 of 100,000 CIs for `vm-0000001`), which the list's count and
        # its page each did again (0.1-0.2 s each); the ids found serve both.
        ids = list(found.order_by().values_list("pk", flat=True)[: SEARCH_IDS_AT_MOST + 1])
        if len(ids) > SEARCH_IDS_AT_MOST:
            return found, False
        return queryset.filter(pk__in=ids), False

    def get_readonly_fields(
        self, request: HttpRequest, obj: ConfigurationItem | None = None
    ) -> list:
        fields = list(self.readonly_fields)
        if obj is not None:
            # The resource ID is the CI's identity; what it says about scope stays with it.
            fields.append("azure_resource_id")
            if obj.azure_resource_id:
                fields += ["subscription_id", "resource_group"]
        return fields

    def get_fields(self, request: HttpRequest, obj: ConfigurationItem | None = None) -> list:
        fields = list(super().get_fields(request, obj))
        if obj is None:
            # Nothing to show yet on a new CI.
            fields = [f for f in fields if f in ConfigurationItemForm.Meta.fields]
        return fields

    def has_delete_permission(
        self, request: HttpRequest, obj: ConfigurationItem | None = None
    ) -> bool:
        return False  # incidents keep their CIs; there is no service to delete one

    @admin.display(description="Azure portal")
    def portal_link(self, obj: ConfigurationItem) -> str:
        if not obj.azure_resource_id:
            return "-"
        url = PORTAL_RESOURCE_URL + quote(obj.azure_resource_id)
        return format_html(
            '<a href="{}" target="_blank" rel="noopener noreferrer">Open the resource</a>', url
        )

    def save_model(
        self, request: HttpRequest, obj: ConfigurationItem, form: Any, change: bool
    ) -> None:
        data = form.cleaned_data
        try:
            if change:
                edits = {
                    field: data[field]
                    for field in ("name", "ci_class", "subscription_id", "resource_group")
                    if field in form.changed_data
                }
                current = ConfigurationItem.objects.get(pk=obj.pk)
                if edits:
                    ci_update(ci=current, **edits)
            else:
                created = ci_create(
                    name=data["name"],
                    ci_class=data["ci_class"],
                    azure_resource_id=data.get("azure_resource_id"),
                    subscription_id=data.get("subscription_id") or "",
                    resource_group=data.get("resource_group") or "",
                )
                obj.pk = created.pk
        except ApplicationError as exc:
            self.message_user(request, exc.message, messages.ERROR)
