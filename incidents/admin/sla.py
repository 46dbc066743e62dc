"""SLA in the console: the targets (one row per priority, changed through incidents.sla),
the incident list's time left and filter, and the incident page's two clocks."""

from typing import Any

from django.contrib import admin, messages
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from core.display import datetime_display
from core.exceptions import ApplicationError

from ..choices import SlaStage
from ..models import Incident, SlaTarget
from ..sla import Clock, clocks, duration_text, sla_target_update


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
        # One row per priority, made by the migration (a missing one takes the default,
        # and PATCH /api/sla-targets/{priority}/ makes it). No query: every console page
        # asks this for its menu.
        return False

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


class SlaFilter(admin.SimpleListFilter):
    """Incidents by how their SLA clocks stand (the dashboard's breaches link here)."""

    title = "SLA"
    parameter_name = "sla"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list:
        return [("breached", "Breached"), ("warned", "Warned (75 %)"), ("running", "Running")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        value = self.value()
        either = {"breached": SlaStage.BREACHED, "warned": SlaStage.WARNED}.get(value or "")
        if either is not None:
            return queryset.filter(Q(sla_respond_stage=either) | Q(sla_resolve_stage=either))
        if value == "running":
            return queryset.filter(sla_due_at__isnull=False)
        return queryset


def _clock_html(clock: Clock) -> str:
    css = (
        "sla-breached"
        if clock.breached
        else ("sla-warned" if clock.stage == SlaStage.WARNED else "sla-ok")
    )
    if clock.left is not None:
        state = "paused, " if clock.paused else ""
        left = clock.left
        text = (
            f"{state}{duration_text(-left)} overdue"
            if left.total_seconds() < 0
            else f"{state}{duration_text(left)} left"
        )
    elif clock.stopped_at is not None:
        text = (
            f"met {datetime_display(clock.stopped_at)}"
            if not clock.breached
            else (f"breached, stopped {datetime_display(clock.stopped_at)}")
        )
    else:
        text = "stopped"
    return format_html(
        '<span class="sla {}" title="due {}">{}: {}</span>',
        css,
        datetime_display(clock.by) if clock.by else "-",
        clock.name,
        text,
    )


class IncidentSlaMixin:
    """The incident list's "SLA" column (time left) and the page's two clocks."""

    @admin.display(description="SLA", ordering="sla_due_at")
    def sla_left(self, obj: Incident) -> str:
        """The clock that matters now: the response until it stops, then the resolution."""
        found = clocks(obj)
        if not found:
            return "–"
        respond, resolve = found
        shown = respond if respond.left is not None else resolve
        if shown.left is None and not shown.breached:
            return "–"
        return _clock_html(shown)

    @admin.display(description="SLA clocks")
    def sla_clocks(self, obj: Incident) -> str:
        found = clocks(obj)
        if not found:
            return "No SLA clocks (opened before they were introduced)."
        return format_html_join(mark_safe("<br>"), "{}", ((_clock_html(c),) for c in found))
