"""SLA targets in the console: one row per priority, changed through incidents.sla."""

from typing import Any

from django.contrib import admin, messages
from django.http import HttpRequest

from core.exceptions import ApplicationError

from ..models import SlaTarget
from ..sla import DEFAULT_TARGETS, sla_target_update


@admin.register(SlaTarget)
class SlaTargetAdmin(admin.ModelAdmin):
    list_display = ["priority", "respond_minutes", "resolve_minutes", "updated_at"]
    list_editable = ["respond_minutes", "resolve_minutes"]
    list_display_links = ["priority"]
    list_filter = []
    search_fields = []
    list_select_related = []
    ordering = ["priority"]
    fields = ["priority", "respond_minutes", "resolve_minutes", "updated_at"]
    readonly_fields = ["priority", "created_at", "updated_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        # One row per priority, made by the migration; a missing one takes the default.
        stored = SlaTarget.objects.count()
        return stored < len(DEFAULT_TARGETS) and super().has_add_permission(request)

    def get_readonly_fields(self, request: HttpRequest, obj: SlaTarget | None = None) -> Any:
        if obj is None:
            return ["created_at", "updated_at"]  # adding a missing priority back
        return self.readonly_fields

    def has_delete_permission(self, request: HttpRequest, obj: SlaTarget | None = None) -> bool:
        return False  # every priority has targets

    def save_model(self, request: HttpRequest, obj: SlaTarget, form: Any, change: bool) -> None:
        try:
            saved = sla_target_update(
                priority=obj.priority,
                respond_minutes=obj.respond_minutes,
                resolve_minutes=obj.resolve_minutes,
            )
        except ApplicationError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return
        obj.pk = saved.pk
