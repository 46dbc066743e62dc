"""Configuration items in the console."""

from django.contrib import admin

from .models import ConfigurationItem


@admin.register(ConfigurationItem)
class ConfigurationItemAdmin(admin.ModelAdmin):
    list_display = ["name", "ci_class", "subscription_id", "resource_group", "last_seen_at"]
    list_filter = ["ci_class", "subscription_id", "resource_group"]
    search_fields = ["name", "azure_resource_id"]
    readonly_fields = [
        "azure_resource_id",
        "subscription_id",
        "resource_group",
        "first_seen_at",
        "last_seen_at",
        "created_at",
        "updated_at",
    ]
    list_select_related: list[str] = []
