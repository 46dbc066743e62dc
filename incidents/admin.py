"""The operators' console for incidents (first cut: view, filter, assign, resolve, close)."""

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from itsm.exceptions import ApplicationError

from .choices import ResolutionCode
from .models import AssignmentGroup, Incident, JournalEntry
from .services import incident_assign, incident_close, incident_resolve, incident_start


class JournalEntryInline(admin.TabularInline):
    model = JournalEntry
    fields = ["created_at", "actor_name", "kind", "from_state", "to_state", "message"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ["-created_at", "-pk"]

    def has_add_permission(self, request: HttpRequest, obj: Incident | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Incident | None = None) -> bool:
        return False


class ConfigurationItemInline(admin.TabularInline):
    model = Incident.configuration_items.through
    fields = ["configuration_item", "linked_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name = "configuration item"
    verbose_name_plural = "configuration items"

    def has_add_permission(self, request: HttpRequest, obj: Incident | None = None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).select_related("configuration_item")


def _run_for_each(
    modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet, verb: str, func
) -> None:  # noqa: ANN001
    done = 0
    for incident in queryset.order_by("pk"):
        try:
            func(incident)
            done += 1
        except ApplicationError as exc:
            modeladmin.message_user(request, exc.message, messages.ERROR)
    if done:
        modeladmin.message_user(request, f"{verb} {done} incident(s).", messages.SUCCESS)


@admin.register(Incident)
class IncidentAdmin(admin.ModelAdmin):
    list_display = [
        "number",
        "title",
        "state",
        "priority",
        "severity",
        "assigned_to",
        "assignment_group",
        "opened_at",
    ]
    list_filter = ["state", "priority", "severity", "assignment_group", "opened_at"]
    search_fields = [
        "number",
        "title",
        "alerts__alert_rule",
        "configuration_items__name",
        "=configuration_items__azure_resource_id",
    ]
    list_select_related = ["assigned_to", "assignment_group"]
    ordering = ["priority", "opened_at"]
    date_hierarchy = "opened_at"
    fields = [
        "number",
        "title",
        "state",
        "priority",
        "impact",
        "urgency",
        "severity",
        "assignment_group",
        "assigned_to",
        "opened_at",
        "resolved_at",
        "closed_at",
        "resolution_code",
        "resolution_notes",
        "description",
    ]
    readonly_fields = [f for f in fields if f not in ("assignment_group", "assigned_to")]
    autocomplete_fields = ["assignment_group"]
    raw_id_fields = ["assigned_to"]
    inlines = [ConfigurationItemInline, JournalEntryInline]
    actions = ["resolve_selected", "start_selected", "close_selected", "assign_to_me"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # incidents are opened by Azure Monitor (or the API)

    def has_delete_permission(self, request: HttpRequest, obj: Incident | None = None) -> bool:
        return False  # an incident's record is kept; cancel it instead

    def save_model(self, request: HttpRequest, obj: Incident, form, change: bool) -> None:  # noqa: ANN001
        # Only assignment is editable here, and it goes through the service (journaled).
        if {"assigned_to", "assignment_group"} & set(form.changed_data):
            current = Incident.objects.get(pk=obj.pk)
            try:
                incident_assign(
                    incident=current,
                    actor=request.user,
                    assigned_to=form.cleaned_data.get("assigned_to"),
                    assignment_group=form.cleaned_data.get("assignment_group"),
                )
            except ApplicationError as exc:
                self.message_user(request, exc.message, messages.ERROR)

    @admin.action(description="Resolve selected incidents (solved)")
    def resolve_selected(self, request: HttpRequest, queryset: QuerySet[Incident]) -> None:
        _run_for_each(
            self,
            request,
            queryset,
            "Resolved",
            lambda incident: incident_resolve(
                incident=incident,
                actor=request.user,
                resolution_code=ResolutionCode.SOLVED,
                resolution_notes="Resolved from the console.",
            ),
        )

    @admin.action(description="Start work on selected incidents")
    def start_selected(self, request: HttpRequest, queryset: QuerySet[Incident]) -> None:
        _run_for_each(
            self,
            request,
            queryset,
            "Started",
            lambda incident: incident_start(incident=incident, actor=request.user),
        )

    @admin.action(description="Close selected incidents")
    def close_selected(self, request: HttpRequest, queryset: QuerySet[Incident]) -> None:
        _run_for_each(
            self,
            request,
            queryset,
            "Closed",
            lambda incident: incident_close(incident=incident, actor=request.user),
        )

    @admin.action(description="Assign selected incidents to me")
    def assign_to_me(self, request: HttpRequest, queryset: QuerySet[Incident]) -> None:
        _run_for_each(
            self,
            request,
            queryset.select_related("assignment_group"),
            "Assigned",
            lambda incident: incident_assign(
                incident=incident,
                actor=request.user,
                assigned_to=request.user,
                assignment_group=incident.assignment_group,
            ),
        )


@admin.register(AssignmentGroup)
class AssignmentGroupAdmin(admin.ModelAdmin):
    list_display = ["name", "description"]
    search_fields = ["name"]
    list_filter: list[str] = []
    readonly_fields = ["created_at", "updated_at"]
    filter_horizontal = ["members"]
