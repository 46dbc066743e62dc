"""Notification channels, rules and the outbox (every try) in the console.

Channels and rules are saved through the services; targets and secrets are write-only
(STYLE.md §9). The incident page gains its notifications (this app extends it, as
integrations does, since incidents cannot know about notifications).
"""

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from core.display import datetime_display
from core.exceptions import ApplicationError
from incidents import admin as incidents_admin
from incidents.models import Incident

from .forms import NotificationChannelForm
from .models import NotificationAttempt, NotificationChannel, NotificationRule
from .selectors import notification_attempts_for
from .services import (
    notification_channel_create,
    notification_channel_delete,
    notification_channel_test,
    notification_channel_update,
    notification_rule_create,
    notification_rule_delete,
    notification_rule_update,
)


@admin.register(NotificationChannel)
class NotificationChannelAdmin(admin.ModelAdmin):
    form = NotificationChannelForm
    list_display = ["name", "kind", "enabled", "secret_set", "created_at"]
    list_filter = ["kind", "enabled"]
    search_fields = ["name"]
    readonly_fields = ["secret_set", "created_at", "updated_at"]
    list_select_related = False
    actions = ["send_test"]
    fields = ["name", "kind", "new_target", "new_secret", "enabled", "secret_set"]

    @admin.display(description="Secret set", boolean=True)
    def secret_set(self, obj: NotificationChannel) -> bool:
        return bool(obj.secret)

    def save_model(
        self, request: HttpRequest, obj: NotificationChannel, form: Any, change: bool
    ) -> None:
        target = form.target_value()
        secret = form.cleaned_data.get("new_secret", "")
        try:
            if change:
                changes: dict[str, object] = {"name": obj.name, "enabled": obj.enabled}
                if target is not None:
                    changes["target"] = target
                if secret:
                    changes["secret"] = secret
                fresh = NotificationChannel.objects.get(pk=obj.pk)
                saved = notification_channel_update(channel=fresh, **changes)
            else:
                saved = notification_channel_create(
                    name=obj.name, kind=obj.kind, target=target, secret=secret, enabled=obj.enabled
                )
        except ApplicationError as exc:
            messages.error(request, str(exc))
            request.notification_refused = True  # type: ignore[attr-defined]
            return
        obj.pk = saved.pk

    def response_add(self, request: HttpRequest, obj: Any, post_url_continue: Any = None) -> Any:
        if getattr(request, "notification_refused", False):  # per request: admins are shared
            return self.response_post_save_add(request, obj)
        return super().response_add(request, obj, post_url_continue)

    def delete_model(self, request: HttpRequest, obj: NotificationChannel) -> None:
        notification_channel_delete(channel=obj)

    def delete_queryset(
        self, request: HttpRequest, queryset: QuerySet[NotificationChannel]
    ) -> None:
        for channel in queryset:
            notification_channel_delete(channel=channel)

    @admin.action(description="Send a test notification", permissions=["change"])
    def send_test(self, request: HttpRequest, queryset: QuerySet[NotificationChannel]) -> None:
        for channel in queryset:
            attempt = notification_channel_test(channel=channel)
            if attempt.outcome == "sent":
                messages.success(request, f"{channel.name}: test sent.")
            else:
                messages.error(request, f"{channel.name}: {attempt.error or attempt.outcome}")


@admin.register(NotificationRule)
class NotificationRuleAdmin(admin.ModelAdmin):
    list_display = ["__str__", "channel", "max_priority", "enabled"]
    list_filter = ["enabled", "channel"]
    search_fields = ["channel__name"]
    readonly_fields = ["created_at", "updated_at"]
    list_select_related = ["channel"]
    filter_horizontal = ["assignment_groups"]
    fields = ["channel", "events", "max_priority", "assignment_groups", "enabled"]

    def save_model(
        self, request: HttpRequest, obj: NotificationRule, form: Any, change: bool
    ) -> None:
        # Groups are saved with the rule by the service (save_related does nothing more).
        groups = list(form.cleaned_data.get("assignment_groups") or [])
        values = {
            "channel": obj.channel,
            "events": list(obj.events),
            "max_priority": obj.max_priority,
            "enabled": obj.enabled,
            "assignment_groups": groups,
        }
        if change:
            rule = notification_rule_update(rule=NotificationRule.objects.get(pk=obj.pk), **values)
        else:
            rule = notification_rule_create(**values)  # type: ignore[arg-type]
        obj.pk = rule.pk

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        return None

    def delete_model(self, request: HttpRequest, obj: NotificationRule) -> None:
        notification_rule_delete(rule=obj)


@admin.register(NotificationAttempt)
class NotificationAttemptAdmin(admin.ModelAdmin):
    """The outbox: every try, newest first (read-only)."""

    list_display = [
        "created_display",
        "event",
        "incident",
        "channel_name",
        "channel_kind",
        "number",
        "outcome",
        "status_code",
        "error",
    ]
    list_filter = ["outcome", "event", "channel_kind"]
    search_fields = ["channel_name"]
    readonly_fields = [
        "message_key",
        "number",
        "incident",
        "channel",
        "channel_name",
        "channel_kind",
        "event",
        "outcome",
        "status_code",
        "error",
        "created_at",
        "retry_at",
    ]
    list_select_related = ["incident"]

    @admin.display(description="When", ordering="created_at")
    def created_display(self, obj: NotificationAttempt) -> str:
        return datetime_display(obj.created_at)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# --- the incident page's notifications ------------------------------------------------------

# The incidents app cannot know notifications (notifications -> incidents, never the
# reverse): this app extends the incident page as registered by the apps below it
# (integrations adds the alerts), with its own block around that page's template.
_IncidentBase: Any = (
    type(admin.site.get_model_admin(Incident))
    if admin.site.is_registered(Incident)
    else incidents_admin.IncidentAdmin
)
_PARENT_TEMPLATE = (
    getattr(_IncidentBase, "change_form_template", None)
    or "admin/incidents/incident/change_form.html"
)
if admin.site.is_registered(Incident):
    admin.site.unregister(Incident)


@admin.register(Incident)
class IncidentAdmin(_IncidentBase):
    change_form_template = "admin/notifications/incident/change_form.html"

    def change_form_context(self, request: HttpRequest, obj: Incident | None) -> dict[str, Any]:
        context = super().change_form_context(request, obj)
        context["notifications_parent_template"] = _PARENT_TEMPLATE
        if obj is not None and obj.pk is not None:
            context["notification_attempts"] = list(
                notification_attempts_for(incident_id=obj.pk)[:100]
            )
        return context
