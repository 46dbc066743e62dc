"""Connections, alerts and the raw delivery log in the console.

Connections are saved through `connection_upsert`/`connection_delete`; deliveries are
read-only, and replayed through `delivery_replay` by holders of `integrations.replay_delivery`.
"""

import json
from collections.abc import Callable
from contextlib import suppress
from contextvars import ContextVar
from datetime import timedelta
from typing import Any, ClassVar, cast
from urllib.parse import urlencode

from django.contrib import admin, messages
from django.contrib.admin.utils import quote, unquote
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Max, Q, QuerySet
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    HttpResponseRedirect,
)
from django.urls import NoReverseMatch, URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.text import Truncator

from core.admin_filters import WithinFilter
from core.admin_pages import ChangeFormContextAdmin
from core.display import datetime_display
from core.exceptions import ApplicationError
from core.paginator import EstimatedCountPaginator
from incidents import admin as incidents_admin
from incidents.badges import Badge
from incidents.models import Incident
from incidents.selectors import incident_list_for_console

from . import (
    admin_correlation,  # noqa: F401 - registers the correlation rules' admin
    admin_maintenance,  # noqa: F401 - registers the maintenance windows' admin
    admin_routing,  # noqa: F401 - registers the assignment rules' admin
)
from .admin_list_filters import AlertMonitoringServiceFilter, AlertSeverityFilter, StatusCodeFilter
from .admin_merging import IncidentMergeSplitMixin
from .badges import alert_list_for_badges, incident_badges
from .choices import DeliveryOutcome
from .forms import ConnectionForm
from .models import Alert, Connection, Delivery
from .selectors import alert_list_for_incident
from .services import CONNECTION_FIELDS, connection_delete, connection_upsert, delivery_replay

# The request being rendered, so the webhook URL can be shown absolute (per thread/context).
_current_request: ContextVar[HttpRequest | None] = ContextVar("current_request", default=None)

ACCEPTED = [value for value in DeliveryOutcome.values if value != DeliveryOutcome.REJECTED]


def _link(url: str, text: object) -> str:
    return format_html('<a href="{}">{}</a>', url, text)


def _deliveries_url(**params: object) -> str:
    return reverse("admin:integrations_delivery_changelist") + "?" + urlencode(params)


def _incident_link(incident: Any, alert: Alert | None = None) -> str:
    """A link to the incident; for an alert a maintenance window holds, the window's name."""
    if incident is not None:
        return _link(
            reverse("admin:incidents_incident_change", args=[quote(incident.pk)]), incident.number
        )
    window = alert.maintenance_window if alert is not None else None
    if window is None:
        return "-"
    try:
        url = reverse("admin:integrations_maintenancewindow_change", args=[quote(window.pk)])
    except NoReverseMatch:  # the windows' page is not registered (a reduced console)
        return format_html('<span class="held">held by {}</span>', window.name)
    return format_html('<span class="held">held by <a href="{}">{}</a></span>', url, window.name)


# --- connections ------------------------------------------------------------------------------


@admin.register(Connection)
class ConnectionAdmin(admin.ModelAdmin):
    form = ConnectionForm
    list_display = [
        "slug",
        "name",
        "tenant_id",
        "enabled",
        "webhook_url",
        "last_delivery",
        "accepted_24h",
        "refused_24h",
    ]
    list_filter = ["enabled"]
    search_fields = ["slug", "name", "tenant_id"]
    list_select_related: ClassVar[list[str]] = []
    fieldsets = [
        (None, {"fields": ["slug", "name", "enabled", "webhook_url"]}),
        (
            "Who may send alerts",
            {
                "fields": [
                    "tenant_id",
                    "audiences",
                    "allowed_app_ids",
                    "required_role",
                    "jwks_uri",
                    "allowed_subscriptions",
                ]
            },
        ),
        (
            "Incidents",
            {"fields": ["auto_resolve_after_minutes", "flap_threshold", "flap_interval_minutes"]},
        ),
        (
            "Activity",
            {
                "fields": [
                    "last_delivery",
                    "accepted_24h",
                    "refused_24h",
                    "created_at",
                    "updated_at",
                ]
            },
        ),
    ]
    readonly_fields = [
        "webhook_url",
        "last_delivery",
        "accepted_24h",
        "refused_24h",
        "created_at",
        "updated_at",
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Connection]:
        since = timezone.now() - timedelta(hours=24)
        recent = Q(deliveries__received_at__gte=since)
        return (
            super()
            .get_queryset(request)
            .annotate(
                last_delivery_at=Max("deliveries__received_at"),
                accepted_count=Count(
                    "deliveries", filter=recent & Q(deliveries__outcome__in=ACCEPTED)
                ),
                refused_count=Count(
                    "deliveries", filter=recent & Q(deliveries__outcome=DeliveryOutcome.REJECTED)
                ),
            )
        )

    def get_readonly_fields(self, request: HttpRequest, obj: Connection | None = None) -> list:
        _current_request.set(request)
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None:
            fields.append("slug")  # the last part of the URL Azure calls: fixed once created
        return fields

    def get_list_display(
        self, request: HttpRequest
    ) -> list[str | Callable[[Any], str | bool]] | tuple[str | Callable[[Any], str | bool], ...]:
        _current_request.set(request)
        return super().get_list_display(request)

    @admin.display(description="Webhook URL")
    def webhook_url(self, obj: Connection) -> str:
        if obj.pk is None:
            return "Shown once the connection is saved."
        request = _current_request.get()
        url = request.build_absolute_uri(obj.webhook_path) if request else obj.webhook_path
        return format_html(
            '<span class="copyable"><input type="text" readonly value="{}" size="{}" '
            'class="webhook-url" aria-label="Webhook URL"> '
            '<button type="button" class="button" data-copy="{}">Copy</button></span>',
            url,
            min(len(url), 90),
            url,
        )

    @admin.display(description="Last delivery", ordering="last_delivery_at")
    def last_delivery(self, obj: Connection) -> Any:
        when = getattr(obj, "last_delivery_at", None)
        return when or self.get_empty_value_display()

    @admin.display(description="Accepted (24 h)", ordering="accepted_count")
    def accepted_24h(self, obj: Connection) -> str | int:
        if obj.pk is None:
            return 0
        url = _deliveries_url(connection__id__exact=obj.pk, result="accepted", received="24h")
        return _link(url, getattr(obj, "accepted_count", 0))

    @admin.display(description="Refused (24 h)", ordering="refused_count")
    def refused_24h(self, obj: Connection) -> str | int:
        if obj.pk is None:
            return 0
        url = _deliveries_url(connection__id__exact=obj.pk, result="refused", received="24h")
        return _link(url, getattr(obj, "refused_count", 0))

    def save_model(self, request: HttpRequest, obj: Connection, form: Any, change: bool) -> None:
        values = {field: getattr(obj, field) for field in CONNECTION_FIELDS}
        saved, _ = connection_upsert(slug=obj.slug, values=values)
        obj.pk = saved.pk

    def delete_model(self, request: HttpRequest, obj: Connection) -> None:
        try:
            connection_delete(connection=obj)
        except ApplicationError as exc:
            self.message_user(request, exc.message, messages.ERROR)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Connection]) -> None:
        for connection in queryset:
            self.delete_model(request, connection)


# --- alerts -----------------------------------------------------------------------------------


class HeldFilter(admin.SimpleListFilter):
    """Alerts a maintenance window holds back (no incident yet), or those of one window."""

    title = "maintenance"
    parameter_name = "held"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list:
        return [("yes", "Held by a window"), ("no", "With an incident")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        value = self.value()
        if value == "yes":
            return queryset.filter(incident__isnull=True, maintenance_window__isnull=False)
        if value == "no":
            return queryset.filter(incident__isnull=False)
        if value and value.isdigit():  # the alerts one window holds (its page links here)
            return queryset.filter(incident__isnull=True, maintenance_window=value)
        return queryset


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    list_display = [
        "alert_rule",
        "monitoring_service",
        "severity",
        "monitor_condition",
        "incident_link",
        "connection",
        "fired_at",
        "resolved_at",
    ]
    list_filter = [
        "monitor_condition",
        HeldFilter,
        AlertMonitoringServiceFilter,
        AlertSeverityFilter,
        "connection",
    ]
    search_fields = ["alert_id", "alert_rule", "tracking_id"]
    list_select_related = ["incident", "connection", "maintenance_window"]
    # Large tables: no count of every row for an unfiltered page, nor a second count of
    # the whole table beside a filtered one (core.paginator).
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    exclude = ["portal_url"]  # shown as a link instead
    readonly_fields = [
        *(f.name for f in Alert._meta.fields if f.name != "portal_url"),
        "portal_link",
        "delivery_links",
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Alert]:
        return super().get_queryset(request).defer("incident__description")

    @admin.display(description="Incident", ordering="incident")
    def incident_link(self, obj: Alert) -> str:
        return _incident_link(obj.incident, obj)

    @admin.display(description="Azure portal")
    def portal_link(self, obj: Alert) -> str:
        if not obj.portal_url:
            return "-"
        return format_html(
            '<a href="{}" target="_blank" rel="noopener noreferrer">Open the alert</a>',
            obj.portal_url,
        )

    @admin.display(description="Deliveries")
    def delivery_links(self, obj: Alert) -> str:
        deliveries = obj.deliveries.defer("body").order_by("-received_at", "-pk")
        rows = format_html_join(
            "",
            '<li><a href="{}">{}</a> {} ({})</li>',
            (
                (
                    reverse("admin:integrations_delivery_change", args=[d.pk]),
                    datetime_display(d.received_at),
                    d.get_outcome_display(),
                    d.status_code,
                )
                for d in deliveries
            ),
        )
        return format_html('<ul class="plain">{}</ul>', rows)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Alert | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Alert | None = None) -> bool:
        return False


# --- deliveries -------------------------------------------------------------------------------


class ResultFilter(admin.SimpleListFilter):
    title = "result"
    parameter_name = "result"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list:
        return [("accepted", "Accepted"), ("refused", "Refused")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == "accepted":
            return queryset.filter(outcome__in=ACCEPTED)
        if self.value() == "refused":
            return queryset.filter(outcome=DeliveryOutcome.REJECTED)
        return queryset


class ReceivedFilter(WithinFilter):
    title = "received"
    parameter_name = "received"
    field = "received_at"


@admin.register(Delivery)
class DeliveryAdmin(ChangeFormContextAdmin):
    change_form_template = "admin/integrations/delivery/change_form.html"
    list_display = [
        "received_at",
        "connection",
        "caller_app_id",
        "outcome_badge",
        "status_code",
        "short_error",
        "alert_link",
    ]
    list_filter = [ResultFilter, "outcome", ReceivedFilter, "connection", StatusCodeFilter]
    search_fields = ["reported_alert_id", "caller_app_id", "error"]
    search_help_text = "Alert ID, caller app ID or error text."
    list_select_related = ["connection", "alert__incident", "alert__maintenance_window"]
    # Large tables: no count of every row for an unfiltered page, nor a second count of
    # the whole table beside a filtered one (core.paginator).
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    # No date drill-down: its SELECT DISTINCT of days read every delivery (0.56 s at
    # 100,000 incidents); the "received" filter narrows by date from the index.
    show_facets = admin.ShowFacets.NEVER
    actions = ["replay_selected"]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "received_at",
                    "connection",
                    ("outcome", "status_code"),
                    "error",
                    "alert_link",
                    "reported_alert_id",
                ]
            },
        ),
        (
            "Caller (from the token)",
            {"fields": ["caller_app_id", "caller_object_id", "caller_tenant_id"]},
        ),
        ("Replays", {"fields": ["replay_of", "replay_links"]}),
        ("Body as received", {"fields": ["content_type", "pretty_body"]}),
    ]
    readonly_fields = [
        "received_at",
        "connection",
        "outcome",
        "status_code",
        "error",
        "alert_link",
        "reported_alert_id",
        "caller_app_id",
        "caller_object_id",
        "caller_tenant_id",
        "replay_of",
        "replay_links",
        "content_type",
        "pretty_body",
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Delivery]:
        # Bodies (up to a MiB each) are read only on a delivery's own page.
        return super().get_queryset(request).defer("body", "alert__incident__description")

    @admin.display(description="Outcome", ordering="outcome")
    def outcome_badge(self, obj: Delivery) -> str:
        refused = obj.outcome == DeliveryOutcome.REJECTED
        return format_html(
            '<span class="badge outcome-{}">{}</span>',
            "refused" if refused else "accepted",
            obj.get_outcome_display(),
        )

    @admin.display(description="Error", ordering="error")
    def short_error(self, obj: Delivery) -> str:
        return Truncator(obj.error).chars(90)

    @admin.display(description="Alert")
    def alert_link(self, obj: Delivery) -> str:
        alert = obj.alert
        if alert is None:
            return Truncator(obj.reported_alert_id).chars(60) or self.get_empty_value_display()
        return format_html(
            "{} &rarr; {}",
            _link(
                reverse("admin:integrations_alert_change", args=[alert.pk]),
                Truncator(alert.alert_rule or alert.alert_id).chars(60),
            ),
            _incident_link(alert.incident, alert),
        )

    @admin.display(description="Replayed as")
    def replay_links(self, obj: Delivery) -> str:
        replays = list(obj.replays.defer("body").order_by("received_at", "pk"))
        if not replays:
            return self.get_empty_value_display()
        return format_html_join(
            ", ",
            '<a href="{}">{}</a>',
            ((reverse("admin:integrations_delivery_change", args=[r.pk]), str(r)) for r in replays),
        )

    @admin.display(description="Body")
    def pretty_body(self, obj: Delivery) -> str:
        text = obj.body_text
        with suppress(ValueError):  # not JSON: show it as it came
            text = json.dumps(json.loads(text), indent=2, ensure_ascii=False)
        # format_html escapes the body: alert text is never rendered as HTML.
        return format_html('<pre class="raw-body">{}</pre>', text)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Delivery | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Delivery | None = None) -> bool:
        return False  # kept as received; `manage.py purge_deliveries` ages them out

    def has_replay_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("integrations.replay_delivery")

    # --- replay ---

    def change_form_context(self, request: HttpRequest, obj: Delivery | None) -> dict[str, Any]:
        context = super().change_form_context(request, obj)
        if obj is not None and self.has_replay_permission(request):
            context["replay_url"] = reverse(
                "admin:integrations_delivery_replay", args=[quote(obj.pk)]
            )
        return context

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "<path:object_id>/replay/",
                self.admin_site.admin_view(self.replay_view),
                name="integrations_delivery_replay",
            ),
            *super().get_urls(),
        ]

    def replay_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_replay_permission(request):
            raise PermissionDenied
        delivery = self.get_object(request, unquote(object_id))
        if delivery is None:
            raise Http404("No such delivery.")
        self._replay(request, [delivery])
        return HttpResponseRedirect(
            reverse("admin:integrations_delivery_change", args=[quote(delivery.pk)])
        )

    def _replay(self, request: HttpRequest, deliveries: list[Delivery]) -> None:
        for delivery in deliveries:
            if delivery.status_code == 403:
                # Refused by the connection's policy (e.g. allowed_subscriptions): processing
                # again would skip that check, so a replay must not let it in.
                self.message_user(
                    request,
                    f"Delivery {delivery.pk} was refused by the connection's policy (403) and "
                    "is not replayed.",
                    messages.ERROR,
                )
                continue
            try:
                # The admin site lets only signed-in staff in, never AnonymousUser.
                actor = cast(AbstractBaseUser, request.user)
                result = delivery_replay(delivery=delivery, actor=actor)
            except ApplicationError as exc:
                self.message_user(request, exc.message, messages.ERROR)
            else:
                # An ignored alert (Resource Health recovery, nothing open) has no incident.
                number = result.incident.number if result.incident is not None else "none"
                self.message_user(
                    request,
                    f"Delivery {delivery.pk} replayed: {result.outcome}, incident {number}.",
                    messages.SUCCESS,
                )

    @admin.action(description="Replay (process again)", permissions=["replay"])
    def replay_selected(self, request: HttpRequest, queryset: QuerySet[Delivery]) -> None:
        # The bodies are needed now: load them with the deliveries.
        deliveries = list(
            Delivery.objects.filter(pk__in=queryset.values("pk"))
            .select_related("connection")
            .order_by("received_at", "pk")
        )
        self._replay(request, deliveries)


# --- the incident page's alerts -------------------------------------------------------------

# The incidents app does not know alerts (integrations -> incidents, never the reverse), so
# this app extends the incident page with what it knows, as incidents extends the CMDB's
# pages: the Azure alerts behind an incident and their deliveries.
if admin.site.is_registered(Incident):
    admin.site.unregister(Incident)


@admin.register(Incident)
class IncidentAdmin(IncidentMergeSplitMixin, incidents_admin.IncidentAdmin):
    change_form_template = "admin/integrations/incident/change_form.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Incident]:
        # The alerts with what their badges read: no query per row.
        rows = incident_list_for_console(alerts=alert_list_for_badges())
        return rows.order_by(*self.get_ordering(request))

    def badges(self, obj: Incident) -> list[Badge]:
        return incident_badges(obj, list(obj.alerts.all()))  # prefetched by get_queryset

    def change_form_context(self, request: HttpRequest, obj: Incident | None) -> dict[str, Any]:
        context = super().change_form_context(request, obj)
        if obj is not None and obj.pk is not None:
            context["alerts"] = alert_list_for_incident(incident=obj)
        return context
