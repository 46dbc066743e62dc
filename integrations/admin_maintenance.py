"""Maintenance windows in the console: active and coming windows, what each holds back.

Operators plan, change and end windows (migration integrations.0007 grants them the
permissions); saving goes through the services of integrations.maintenance, with the
same rules as the API (the form checks them first, to show them on the fields).
"""

from typing import Any, ClassVar
from urllib.parse import urlencode

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.models import User
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from core.admin_filters import DefaultedFilter
from core.exceptions import ApplicationError

from .maintenance import (
    SCOPE_KEYS,
    WINDOW_FIELDS,
    WINDOW_STATUSES,
    maintenance_window_create,
    maintenance_window_delete,
    maintenance_window_end,
    maintenance_window_list,
    maintenance_window_update,
    scope_clean,
    window_status,
    window_status_q,
)
from .models import MaintenanceWindow

_SCOPE_HELP = {
    "subscriptions": "Subscription IDs, one per line.",
    "resource_groups": "Resource group names, one per line.",
    "resource_ids": "Azure resource IDs, one per line: each covers the resource and "
    "anything under it (a resource group's ID covers its resources).",
    "configuration_items": "CI names, one per line: a target's name, or a name Azure sends "
    "in configurationItems.",
    "alert_rules": "Alert rule names, one per line.",
}


class OnePerLineField(forms.CharField):
    """A list of strings, one per line (names may hold spaces); blank lines are dropped."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("widget", forms.Textarea(attrs={"rows": 2, "cols": 80}))
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, list | tuple):
            return "\n".join(str(item) for item in value)
        return value

    def to_python(self, value: Any) -> list[str]:  # type: ignore[override]
        if isinstance(value, list | tuple):
            return [str(item) for item in value]
        text = str(super().to_python(value) or "")
        return list(dict.fromkeys(line.strip() for line in text.splitlines() if line.strip()))


class MaintenanceWindowForm(forms.ModelForm):
    """A window with its scope as five lists; every list left empty covers everything."""

    subscriptions = OnePerLineField(help_text=_SCOPE_HELP["subscriptions"])
    resource_groups = OnePerLineField(help_text=_SCOPE_HELP["resource_groups"])
    resource_ids = OnePerLineField(help_text=_SCOPE_HELP["resource_ids"])
    configuration_items = OnePerLineField(
        label="Configuration items", help_text=_SCOPE_HELP["configuration_items"]
    )
    alert_rules = OnePerLineField(help_text=_SCOPE_HELP["alert_rules"])

    class Meta:
        model = MaintenanceWindow
        fields = ["name", "reason", "starts_at", "ends_at", "connection"]
        help_texts = {
            "ends_at": "The end is excluded; what the window still holds then opens incidents.",
            "connection": "Blank: alerts of every connection.",
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        scope = self.instance.scope if isinstance(self.instance.scope, dict) else {}
        for key in SCOPE_KEYS:
            self.fields[key].initial = scope.get(key, [])

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        starts_at, ends_at = cleaned.get("starts_at"), cleaned.get("ends_at")
        if starts_at and ends_at and ends_at <= starts_at:
            self.add_error("ends_at", "The window must end after it starts.")
        try:
            cleaned["scope"] = scope_clean({key: cleaned.get(key) or [] for key in SCOPE_KEYS})
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None
        window = self.instance
        if window.pk is not None and window.released_at is not None:
            moved = [
                f
                for f in ("starts_at", "ends_at", "connection", "scope")
                if f in cleaned and cleaned[f] != getattr(window, f)
            ]
            if moved:
                raise forms.ValidationError(
                    "This window has ended and released what it held: only its name and "
                    "reason can change. Plan a new window instead."
                )
        return cleaned


class WindowStatusFilter(DefaultedFilter):
    """Active and coming windows unless asked otherwise: what an operator plans around."""

    title = "status"
    parameter_name = "status"
    CURRENT = "current"
    default = CURRENT

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list:
        return [
            (self.CURRENT, "Active and coming"),
            *((s, s.capitalize()) for s in WINDOW_STATUSES),
            (self.ALL, "All"),
        ]

    def filter_by(self, queryset: QuerySet, value: str) -> QuerySet | None:
        if value == self.CURRENT:
            return queryset.filter(window_status_q(["active", "coming"]))
        if value in WINDOW_STATUSES:
            return queryset.filter(window_status_q([value]))
        return None


def _alerts_url(window: MaintenanceWindow, **params: object) -> str:
    query = {"maintenance_window__id__exact": window.pk, **params}
    return reverse("admin:integrations_alert_changelist") + "?" + urlencode(query)


@admin.register(MaintenanceWindow)
class MaintenanceWindowAdmin(admin.ModelAdmin):
    form = MaintenanceWindowForm
    list_display = [
        "name",
        "status_badge",
        "starts_at",
        "ends_at",
        "connection",
        "scope_summary",
        "held_back",
        "created_by",
    ]
    list_filter = [WindowStatusFilter, "connection"]
    search_fields = ["name", "reason"]
    list_select_related: ClassVar[list[str]] = ["connection", "created_by"]
    ordering = ["starts_at", "pk"]
    actions = ["end_selected"]
    fieldsets = [
        (None, {"fields": ["name", "reason", ("starts_at", "ends_at"), "connection"]}),
        (
            "Scope (every list left empty: every alert of the connection)",
            {"fields": list(SCOPE_KEYS)},
        ),
        ("Held back", {"fields": ["held_back", "released_at", "created_by", "created_at"]}),
    ]
    readonly_fields = ["held_back", "released_at", "created_by", "created_at", "updated_at"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[MaintenanceWindow]:
        # The list's counts come annotated (no query per row).
        return maintenance_window_list()

    @admin.display(description="Status")
    def status_badge(self, obj: MaintenanceWindow) -> str:
        status = window_status(obj)
        return format_html('<span class="badge window-{}">{}</span>', status, status.capitalize())

    @admin.display(description="Scope")
    def scope_summary(self, obj: MaintenanceWindow) -> str:
        scope = obj.scope if isinstance(obj.scope, dict) else {}
        parts = [
            (key.replace("_", " "), ", ".join(scope[key])) for key in SCOPE_KEYS if scope.get(key)
        ]
        if not parts:
            return "Everything"
        return format_html_join("; ", "{}: {}", parts)

    @admin.display(description="Held back", ordering="alert_count")
    def held_back(self, obj: MaintenanceWindow) -> str:
        if obj.pk is None:
            return "-"
        held = getattr(obj, "held_count", 0)
        total = getattr(obj, "alert_count", 0)
        if not total:
            return "Nothing"
        return format_html(
            '<a href="{}">{} held now</a> of <a href="{}">{} alert{}</a>',
            _alerts_url(obj, incident__isnull="True", monitor_condition__exact="Fired"),
            held,
            _alerts_url(obj),
            total,
            "" if total == 1 else "s",
        )

    def save_model(
        self, request: HttpRequest, obj: MaintenanceWindow, form: Any, change: bool
    ) -> None:
        values = {f: form.cleaned_data.get(f, getattr(obj, f)) for f in WINDOW_FIELDS}
        values["scope"] = form.cleaned_data["scope"]
        if change:
            saved = maintenance_window_update(window=obj, **values)
        else:
            # The admin site lets only signed-in staff in, never AnonymousUser.
            user = request.user if isinstance(request.user, User) else None
            saved = maintenance_window_create(**values, created_by=user)
        obj.pk = saved.pk

    def has_delete_permission(
        self, request: HttpRequest, obj: MaintenanceWindow | None = None
    ) -> bool:
        # A window that held alerts stays on record (the alerts name it): end it instead.
        if obj is not None and getattr(obj, "alert_count", None):
            return False
        return super().has_delete_permission(request, obj)

    def delete_model(self, request: HttpRequest, obj: MaintenanceWindow) -> None:
        try:
            maintenance_window_delete(window=obj)
        except ApplicationError as exc:
            self.message_user(request, exc.message, messages.ERROR)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[MaintenanceWindow]) -> None:
        for window in queryset:
            self.delete_model(request, window)

    @admin.action(description="End now (release what they hold)", permissions=["change"])
    def end_selected(self, request: HttpRequest, queryset: QuerySet[MaintenanceWindow]) -> None:
        for window in queryset:
            try:
                maintenance_window_end(window=window)
            except ApplicationError as exc:
                self.message_user(request, exc.message, messages.ERROR)
            else:
                self.message_user(
                    request,
                    f"{window.name}: ended; what it still held opens incidents now.",
                    messages.SUCCESS,
                )
