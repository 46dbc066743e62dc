"""The incident list and the incident page; their actions go through the services."""

from collections.abc import Iterable
from typing import Any, cast

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.utils import quote, unquote
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    HttpResponseRedirect,
)
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.text import smart_split, unescape_string_literal
from django.utils.timesince import timesince

from core.admin_pages import ChangeFormContextAdmin
from core.display import datetime_display
from core.exceptions import ApplicationError
from core.paginator import EstimatedCountPaginator

from ..badges import Badge, incident_badges
from ..forms import IncidentChangeForm, WorkNoteForm, form_for
from ..lifecycle import LIFECYCLE, Action, is_final
from ..models import AssignmentGroup, Incident, IncidentConfigurationItem
from ..selectors import (
    CI_LINKS,
    incident_configuration_items,
    incident_journal,
    incident_list_for_console,
    incident_search,
)
from ..services import EDITABLE_FIELDS, KEEP, incident_add_work_note, incident_edit
from .filters import (
    AlertRuleFilter,
    AssigneeFilter,
    ConfigurationItemFilter,
    MonitoringServiceFilter,
    OpenedFilter,
    ResolvedFilter,
    StateFilter,
)
from .lifecycle import MESSAGE_NUMBERS, bulk_actions, is_allowed, numbers_text
from .sla import IncidentSlaMixin, SlaFilter


def _badge(kind: str, value: object, label: str) -> str:
    return format_html('<span class="badge {}-{}">{}</span>', kind, value, label)


def badges_html(badges: list[Badge]) -> str:
    """An incident's badges, as the list shows them under its title."""
    if not badges:
        return ""
    return format_html(
        '<span class="event-badges">{}</span>',
        format_html_join(
            " ",
            '<span class="badge event-{}" title="{}">{}</span>',
            ((b.kind, b.title, b.label) for b in badges),
        ),
    )


def search_terms(search_term: str) -> list[str]:
    """The words of the search box, as Django's admin splits them ("quoted phrases" kept)."""
    terms = []
    for bit in smart_split(search_term):
        if bit.startswith(('"', "'")) and bit[0] == bit[-1]:
            bit = unescape_string_literal(bit)
        terms.append(bit)
    return terms


_OPENED_BY_AZURE = "_console_opened_by_azure"


def _actor(request: HttpRequest) -> AbstractBaseUser:
    """Who is acting: the admin site lets only signed-in staff in, never AnonymousUser."""
    return cast(AbstractBaseUser, request.user)


def _ago(value: Any) -> str:
    return format_html(
        '<span title="{}">{} ago</span>',
        datetime_display(value),
        timesince(value, depth=1),
    )


@admin.register(Incident)
class IncidentAdmin(IncidentSlaMixin, ChangeFormContextAdmin):
    form = IncidentChangeForm
    change_form_template = "admin/incidents/incident/change_form.html"
    # Two facts share a cell where they are read together (state and Azure's condition,
    # priority and severity, assignee and group), so the list fits 1366 px (console.css).
    list_display = [
        "number",
        "short_title",
        "state_cell",
        "priority_cell",
        "main_ci",
        "assigned",
        "opened",
        "sla_left",
    ]
    list_display_links = ["number", "short_title"]
    list_filter = [
        StateFilter,
        AssigneeFilter,
        "priority",
        "severity",
        "alerts__connection",
        "assignment_group",
        OpenedFilter,
        ResolvedFilter,
        SlaFilter,
        ConfigurationItemFilter,
        MonitoringServiceFilter,
        AlertRuleFilter,
    ]
    # Shows the search box; the search itself is incidents.selectors.incident_search (EXISTS
    # over alerts and CIs, the same as the API's `search`): see get_search_results.
    search_fields = ["number", "title", "description"]
    search_help_text = (
        "Incident number, title or Azure's text, alert rule, condition, alert ID, "
        "Service Health tracking ID, CI name or Azure resource ID. Every word must match."
    )
    list_select_related = ["assigned_to", "assignment_group"]
    # Most urgent first, and the oldest of a priority before the newer ones.
    ordering = ["priority", "opened_at"]
    # No date drill-down (date_hierarchy): its years, months and days are a SELECT DISTINCT
    # over every incident listed (seconds at a million). The "opened" and "resolved"
    # filters narrow by date instead, from the indexes.
    show_facets = admin.ShowFacets.NEVER  # counts per filter choice: a query each
    list_per_page = 50
    # Large tables: no count of every row for an unfiltered page, nor a second count of
    # the whole table beside a filtered one (core.paginator).
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "number",
                    ("state_badge", "priority_badge"),
                    ("impact", "urgency", "severity"),
                    "title",
                    "description",
                ]
            },
        ),
        ("Assignment", {"fields": [("assignment_group", "assigned_to")]}),
        ("Dates", {"fields": [("opened_at", "resolved_at", "closed_at")]}),
        ("Service level", {"fields": ["sla_clocks"]}),
        ("Resolution", {"fields": ["resolution_code", "resolution_notes"]}),
    ]
    # Set by the services only: state and dates by transitions, the rest by Azure.
    readonly_fields = [
        "number",
        "state_badge",
        "priority_badge",
        "severity",
        "opened_at",
        "resolved_at",
        "closed_at",
        "resolution_code",
        "resolution_notes",
        "sla_clocks",
    ]
    autocomplete_fields = ["assignment_group"]
    actions = bulk_actions()  # one per row of incidents.lifecycle.LIFECYCLE

    def get_queryset(self, request: HttpRequest) -> QuerySet[Incident]:
        return incident_list_for_console().order_by(*self.get_ordering(request))

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Incident], search_term: str
    ) -> tuple[QuerySet[Incident], bool]:
        # No duplicates to remove: alerts and CIs are matched with EXISTS, not joined.
        return incident_search(queryset, terms=search_terms(search_term)), False

    def badges(self, obj: Incident) -> list[Badge]:
        """The incident's badges (integrations.admin adds what its alerts say)."""
        return incident_badges(obj)

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)
        for action in LIFECYCLE.values():
            if action.action_name in actions and not is_allowed(request, action):
                del actions[action.action_name]
        return actions

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # incidents are opened by Azure Monitor (or the API)

    def has_delete_permission(self, request: HttpRequest, obj: Incident | None = None) -> bool:
        return False  # an incident's record is kept; cancel it instead

    # --- columns ---

    @admin.display(description="Title", ordering="title")
    def short_title(self, obj: Incident) -> str:
        # At most three lines (console.css); the whole title shows on hover. The badges
        # (grouped, maintenance, flapping...) go under it: no column of their own to fit.
        return format_html(
            '<span class="clamp" title="{}">{}</span>{}',
            obj.title,
            obj.title,
            badges_html(self.badges(obj)),
        )

    @admin.display(description="State", ordering="state")
    def state_badge(self, obj: Incident) -> str:
        return _badge("state", obj.state, obj.get_state_display())

    @admin.display(description="Priority", ordering="priority")
    def priority_badge(self, obj: Incident) -> str:
        return _badge("priority", obj.priority, obj.get_priority_display())

    @admin.display(description="Severity", ordering="severity")
    def severity_short(self, obj: Incident) -> str | None:
        return obj.severity

    @admin.display(description="State", ordering="state")
    def state_cell(self, obj: Incident) -> str:
        # The incident's state, and under it what Azure last said of its alerts.
        condition = self.azure_condition(obj)
        if condition is None:
            return self.state_badge(obj)
        return format_html('{}<span class="sub">{}</span>', self.state_badge(obj), condition)

    @admin.display(description="Priority", ordering="priority")
    def priority_cell(self, obj: Incident) -> str:
        if not obj.severity:
            return self.priority_badge(obj)
        return format_html(
            '{}<span class="sub" title="Azure severity">{}</span>',
            self.priority_badge(obj),
            obj.severity,
        )

    @admin.display(description="Assigned", ordering="assigned_to__username")
    def assigned(self, obj: Incident) -> str | None:
        person, group = self.assignee(obj), self.group(obj)
        if person is None and group is None:
            return None
        return format_html(
            '{}<span class="sub" title="Assignment group">{}</span>',
            person or "Unassigned",
            group or "",
        )

    @admin.display(description="Assignee", ordering="assigned_to__username")
    def assignee(self, obj: Incident) -> str | None:
        return obj.assigned_to.get_username() if obj.assigned_to else None

    @admin.display(description="Group", ordering="assignment_group__name")
    def group(self, obj: Incident) -> str | None:
        return obj.assignment_group.name if obj.assignment_group else None

    @admin.display(description="Main CI")
    def main_ci(self, obj: Incident) -> str | None:
        # Prefetched by incident_list_for_console.
        links: list[IncidentConfigurationItem] = getattr(obj, CI_LINKS)
        if not links:
            return None
        ci = links[0].configuration_item
        return format_html(
            '<a href="{}" title="{}">{}</a>{}',
            reverse("admin:cmdb_configurationitem_change", args=[ci.pk]),
            ci.azure_resource_id or ci.ci_class,
            ci.name,
            f" (+{len(links) - 1})" if len(links) > 1 else "",
        )

    @admin.display(description="Opened", ordering="opened_at")
    def opened(self, obj: Incident) -> str:
        # When, in the console's one format, then how long ago: what an operator weighs first.
        return format_html(
            '{}<span class="age">{} ago</span>',
            datetime_display(obj.opened_at),
            timesince(obj.opened_at, depth=1),
        )

    @admin.display(description="Azure condition")
    def azure_condition(self, obj: Incident) -> str | None:
        alerts = list(obj.alerts.all())  # prefetched, newest first
        if not alerts:
            return None  # opened by hand
        latest = max(alerts, key=lambda alert: (alert.updated_at, alert.pk))
        return format_html(
            '<span class="badge condition-{}" title="{}">{}</span> {}',
            latest.monitor_condition.lower(),
            latest.alert_rule or latest.monitoring_service,
            latest.get_monitor_condition_display(),
            _ago(latest.resolved_at or latest.fired_at or latest.created_at),
        )

    # --- the incident page ---

    def _opened_by_azure(self, obj: Incident) -> bool:
        # Cached on the object: asked several times while one page is built.
        if not hasattr(obj, _OPENED_BY_AZURE):
            setattr(obj, _OPENED_BY_AZURE, obj.alerts.exists())
        return bool(getattr(obj, _OPENED_BY_AZURE))

    def get_readonly_fields(self, request: HttpRequest, obj: Incident | None = None) -> list[str]:
        fields = list(self.readonly_fields)
        if obj is None:
            return fields
        if is_final(obj.state):
            # A closed or canceled incident is a record; the services refuse edits.
            return [*fields, *EDITABLE_FIELDS, "assignment_group", "assigned_to"]
        if self._opened_by_azure(obj):
            # What Azure said stays as Azure said it.
            return [*fields, "title", "description"]
        return fields

    def save_model(self, request: HttpRequest, obj: Incident, form: Any, change: bool) -> None:
        # One edit, as the API's PATCH makes it: fields and assignment through the same
        # service, both or nothing, journaled. `obj` already carries the form's values, so
        # the service works on a fresh copy.
        changed = set(form.changed_data)
        current = Incident.objects.select_related("assigned_to", "assignment_group").get(pk=obj.pk)
        edits = {field: form.cleaned_data[field] for field in EDITABLE_FIELDS if field in changed}
        assignment = {
            field: form.cleaned_data[field] if field in changed else KEEP
            for field in ("assigned_to", "assignment_group")
        }
        try:
            incident_edit(incident=current, actor=_actor(request), changes=edits, **assignment)
        except ApplicationError as exc:
            self.message_user(request, exc.message, messages.ERROR)

    def change_form_context(self, request: HttpRequest, obj: Incident | None) -> dict[str, Any]:
        context = super().change_form_context(request, obj)
        if obj is not None and obj.pk is not None:
            can_act = self.has_change_permission(request, obj)
            context.update(
                lifecycle_buttons=self._buttons(request, obj) if can_act else [],
                note_form=WorkNoteForm() if can_act else None,
                note_url=reverse("admin:incidents_incident_note", args=[quote(obj.pk)]),
                journal=incident_journal(incident=obj),
                ci_links=incident_configuration_items(incident=obj),
                badges=self.badges(obj),
            )
        return context

    def _buttons(self, request: HttpRequest, incident: Incident) -> list[dict[str, Any]]:
        buttons = []
        for spec in LIFECYCLE.values():
            if not spec.available(incident.state) or not is_allowed(request, spec):
                continue
            if spec.name == "take" and incident.assigned_to_id == request.user.pk:
                continue
            buttons.append(
                {
                    "name": spec.name,
                    "label": spec.label,
                    "url": reverse(
                        "admin:incidents_incident_lifecycle", args=[quote(incident.pk), spec.name]
                    ),
                    "asks": form_for(spec) is not None,
                }
            )
        return buttons

    # --- the incident page's buttons and work note (POST, permission-checked) ---

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        return [
            path(
                "<path:object_id>/lifecycle/<slug:name>/",
                wrap(self.lifecycle_view),
                name="incidents_incident_lifecycle",
            ),
            path(
                "<path:object_id>/note/",
                wrap(self.work_note_view),
                name="incidents_incident_note",
            ),
            *super().get_urls(),
        ]

    def _incident_to_change(self, request: HttpRequest, object_id: str) -> Incident:
        incident = self.get_object(request, unquote(object_id))
        if incident is None:
            raise Http404("No such incident.")
        if not self.has_change_permission(request, incident):
            raise PermissionDenied
        return incident

    def lifecycle_view(self, request: HttpRequest, object_id: str, name: str) -> HttpResponse:
        spec = LIFECYCLE.get(name)
        if spec is None:
            raise Http404("No such action.")
        incident = self._incident_to_change(request, object_id)
        if not is_allowed(request, spec):
            raise PermissionDenied
        data: dict[str, Any] = {}
        form_class = form_for(spec)
        if form_class is not None:
            form = form_class(request.POST if request.method == "POST" else None)
            if not form.is_valid():
                return self._lifecycle_form(request, spec, form, [incident], bulk=False)
            data = form.cleaned_data
        elif request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        self._apply(request, spec, [incident], data)
        return HttpResponseRedirect(
            reverse("admin:incidents_incident_change", args=[quote(incident.pk)])
        )

    def work_note_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        incident = self._incident_to_change(request, object_id)
        form = WorkNoteForm(request.POST)
        if form.is_valid():
            try:
                incident_add_work_note(
                    incident=incident, actor=_actor(request), message=form.cleaned_data["message"]
                )
            except ApplicationError as exc:
                self.message_user(request, exc.message, messages.ERROR)
            else:
                self.message_user(request, "Work note added.", messages.SUCCESS)
        else:
            errors = "; ".join(str(e) for errs in form.errors.values() for e in errs)
            self.message_user(request, f"The work note was not added: {errors}", messages.ERROR)
        url = reverse("admin:incidents_incident_change", args=[quote(incident.pk)])
        return HttpResponseRedirect(f"{url}#journal")

    # --- shared by the bulk actions and the page ---

    def _apply(
        self,
        request: HttpRequest,
        spec: Action,
        incidents: Iterable[Incident],
        data: dict[str, Any],
    ) -> None:
        """Run one lifecycle step on each incident; report each refusal and what was done."""
        done = []
        for incident in incidents:
            try:
                spec.run(incident, _actor(request), data)
            except ApplicationError as exc:
                self.message_user(request, exc.message, messages.ERROR)
            else:
                done.append(incident.number)
        if done:
            self.message_user(request, f"{spec.done} {numbers_text(done)}.", messages.SUCCESS)

    def _lifecycle_form(
        self,
        request: HttpRequest,
        spec: Action,
        form: forms.Form,
        incidents: list[Incident],
        *,
        bulk: bool,
    ) -> TemplateResponse:
        """The intermediate page: what is about to happen to which incidents, and the form."""
        if bulk:
            cancel_url = request.get_full_path()
        else:
            cancel_url = reverse("admin:incidents_incident_change", args=[quote(incidents[0].pk)])
        what = incidents[0].number if len(incidents) == 1 else f"{len(incidents)} incidents"
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"{spec.label.rstrip('…')}: {what}",
            "spec": spec,
            "form": form,
            "incidents": incidents[:MESSAGE_NUMBERS],
            "more": max(0, len(incidents) - MESSAGE_NUMBERS),
            "bulk": bulk,
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
            "selected": request.POST.getlist(ACTION_CHECKBOX_NAME),
            "select_across": request.POST.get("select_across", "0"),
            "form_url": request.get_full_path(),
            "cancel_url": cancel_url,
            "original": incidents[0] if not bulk else None,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/incidents/incident/lifecycle_form.html", context)

    def bulk(
        self, request: HttpRequest, queryset: QuerySet[Incident], spec: Action
    ) -> TemplateResponse | None:
        """A bulk action of the list (`incidents.admin.lifecycle.bulk_actions`)."""
        incidents = list(
            queryset.prefetch_related(None)
            .select_related("assigned_to", "assignment_group")
            .order_by("pk")
        )
        data: dict[str, Any] = {}
        form_class = form_for(spec)
        if form_class is not None:
            form = form_class(request.POST if "apply" in request.POST else None)
            if not form.is_valid():
                return self._lifecycle_form(request, spec, form, incidents, bulk=True)
            data = form.cleaned_data
        if spec.name == "take":
            mine = [i for i in incidents if i.assigned_to_id == request.user.pk]
            if mine:
                numbers = numbers_text([i.number for i in mine])
                self.message_user(request, f"Already yours: {numbers}.", messages.INFO)
            incidents = [i for i in incidents if i.assigned_to_id != request.user.pk]
        self._apply(request, spec, incidents, data)
        return None


@admin.register(AssignmentGroup)
class AssignmentGroupAdmin(admin.ModelAdmin):
    list_display = ["name", "description"]
    search_fields = ["name"]
    list_filter = []
    list_select_related = []
    readonly_fields = ["created_at", "updated_at"]
    filter_horizontal = ["members"]
