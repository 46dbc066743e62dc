"""Connections, alerts and the raw delivery log in the console."""

import json
from contextlib import suppress
from contextvars import ContextVar

from django.contrib import admin
from django.db import models
from django.http import HttpRequest
from django.utils.html import format_html

from .models import Alert, Connection, Delivery
from .services import CONNECTION_FIELDS, connection_upsert

# The request being rendered, so the webhook URL can be shown absolute (per thread/context).
_current_request: ContextVar[HttpRequest | None] = ContextVar("current_request", default=None)


@admin.register(Connection)
class ConnectionAdmin(admin.ModelAdmin):
    list_display = ["slug", "name", "tenant_id", "enabled", "webhook_url"]
    list_filter = ["enabled"]
    search_fields = ["slug", "name", "tenant_id"]
    readonly_fields = ["webhook_url", "created_at", "updated_at"]
    list_select_related: list[str] = []
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    @admin.display(description="Webhook URL")
    def webhook_url(self, obj: Connection) -> str:
        if obj.pk is None:
            return "-"
        request = _current_request.get()
        return request.build_absolute_uri(obj.webhook_path) if request else obj.webhook_path

    def get_readonly_fields(self, request: HttpRequest, obj: Connection | None = None) -> list:
        _current_request.set(request)
        return super().get_readonly_fields(request, obj)

    def get_list_display(self, request: HttpRequest) -> list:
        _current_request.set(request)
        return super().get_list_display(request)

    def save_model(self, request: HttpRequest, obj: Connection, form, change: bool) -> None:  # noqa: ANN001
        values = {f: getattr(obj, f) for f in CONNECTION_FIELDS}
        saved, _ = connection_upsert(slug=obj.slug, values=values)
        obj.pk = saved.pk


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    list_display = [
        "alert_rule",
        "monitoring_service",
        "severity",
        "monitor_condition",
        "incident",
        "connection",
        "fired_at",
        "resolved_at",
    ]
    list_filter = ["monitor_condition", "monitoring_service", "severity", "connection"]
    search_fields = ["alert_id", "alert_rule"]
    list_select_related = ["incident", "connection"]
    readonly_fields = [f.name for f in Alert._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Alert | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Alert | None = None) -> bool:
        return False


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = [
        "received_at",
        "connection",
        "outcome",
        "status_code",
        "caller_app_id",
        "reported_alert_id",
        "error",
    ]
    list_filter = ["outcome", "status_code", "connection", "received_at"]
    search_fields = ["reported_alert_id", "caller_app_id", "error"]
    list_select_related = ["connection"]
    date_hierarchy = "received_at"
    exclude = ["body"]
    readonly_fields = [
        "received_at",
        "connection",
        "outcome",
        "status_code",
        "error",
        "reported_alert_id",
        "alert",
        "content_type",
        "caller_app_id",
        "caller_object_id",
        "caller_tenant_id",
        "pretty_body",
    ]

    @admin.display(description="Body as received")
    def pretty_body(self, obj: Delivery) -> str:
        text = obj.body_text
        with suppress(ValueError):  # not JSON: show it as it came
            text = json.dumps(json.loads(text), indent=2, ensure_ascii=False)
        # format_html escapes the body: alert text is never rendered as HTML.
        return format_html('<pre style="white-space: pre-wrap">{}</pre>', text)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Delivery | None = None) -> bool:
        return False
