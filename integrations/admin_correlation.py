"""Correlation rules in the console (staff with the rule permissions write, roles read).

The form checks a rule with `correlation_rules.correlation_rule_problems`, the check
the API uses, and saves it through the services (which clear the ingest's rule cache).
"""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from core.exceptions import ApplicationError
from incidents.choices import Severity

from .choices import GroupBy
from .correlation_rules import (
    MATCH_KEYS,
    correlation_rule_create,
    correlation_rule_delete,
    correlation_rule_problems,
    correlation_rule_update,
)
from .models import CorrelationRule

# The match lists as the form asks for them: one value per line (names may hold commas).
MATCH_LABELS = {
    "monitoring_services": "Monitoring services",
    "severities": "Severities",
    "alert_rules": "Alert rules",
    "subscriptions": "Subscriptions",
    "resource_groups": "Resource groups",
    "resource_types": "Resource types",
}
_LINES_HELP = "One per line; empty: any. Compared case-insensitively."


def _match_field_name(key: str) -> str:
    return f"match_{key}"


def _lines_field(key: str) -> forms.CharField:
    return forms.CharField(
        label=MATCH_LABELS[key],
        widget=forms.Textarea(attrs={"rows": 2, "cols": 60}),
        required=False,
        help_text=_LINES_HELP,
    )


class CorrelationRuleForm(forms.ModelForm):
    """A rule, with `match` as one field per key and `group_by` as checkboxes."""

    match_monitoring_services = _lines_field("monitoring_services")
    match_severities = forms.MultipleChoiceField(
        label=MATCH_LABELS["severities"],
        choices=Severity.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="None ticked: any severity.",
    )
    match_alert_rules = _lines_field("alert_rules")
    match_subscriptions = _lines_field("subscriptions")
    match_resource_groups = _lines_field("resource_groups")
    match_resource_types = _lines_field("resource_types")

    group_by = forms.MultipleChoiceField(
        choices=GroupBy.choices,
        widget=forms.CheckboxSelectMultiple,
        help_text="What makes a group: alerts with the same values share an incident.",
    )

    class Meta:
        model = CorrelationRule
        fields = [
            "name",
            "position",
            "enabled",
            "connection",
            "group_by",
            "window_minutes",
            "max_age_minutes",
            "resolve_on",
        ]
        help_texts = {
            "position": "Rules are tried by position, lowest first; the first match wins.",
            "connection": "Blank: alerts of every connection.",
            "window_minutes": "A group takes an alert fired within this many minutes of its "
            "newest alert.",
            "max_age_minutes": "A group takes alerts only this long after its incident opened "
            "(at least the window).",
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        match = self.instance.match if isinstance(self.instance.match, dict) else {}
        for key in MATCH_KEYS:
            values = match.get(key) or []
            if not isinstance(values, list):
                values = []
            field = self.fields[_match_field_name(key)]
            field.initial = values if key == "severities" else "\n".join(values)
        if self.instance.pk is not None:
            self.fields["group_by"].initial = list(self.instance.group_by or [])

    def _match(self) -> dict[str, list[str]]:
        match = {}
        for key in MATCH_KEYS:
            value = self.cleaned_data.get(_match_field_name(key)) or []
            match[key] = list(value) if isinstance(value, list) else value.splitlines()
        return match

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        values = {
            **{f: cleaned.get(f) for f in self.Meta.fields},
            "match": self._match(),
            "group_by": list(cleaned.get("group_by") or []),
        }
        checked, problems = correlation_rule_problems(values)
        for field, messages_ in problems.items():
            # The fields the form has already refused say so themselves.
            target = field if field in self.fields else None
            if field in self.errors:
                continue
            self.add_error(target, messages_)
        cleaned["rule_values"] = checked
        return cleaned


def _summary(values: object) -> str:
    return ", ".join(str(v) for v in values) if isinstance(values, list) else ""


@admin.register(CorrelationRule)
class CorrelationRuleAdmin(admin.ModelAdmin):
    form = CorrelationRuleForm
    list_display = [
        "position",
        "name",
        "enabled",
        "connection_name",
        "match_summary",
        "group_by_summary",
        "window",
    ]
    list_display_links = ["name"]
    list_filter = ["enabled", "resolve_on", "connection"]
    search_fields = ["name"]
    list_select_related = ["connection"]
    ordering = ["position", "pk"]
    readonly_fields = [
        "connection_name",
        "match_summary",
        "group_by_summary",
        "window",
        "created_at",
        "updated_at",
    ]
    fieldsets = [
        (None, {"fields": ["name", "position", "enabled", "connection"]}),
        (
            "Which alerts",
            {"fields": [_match_field_name(key) for key in MATCH_KEYS]},
        ),
        (
            "How they are grouped",
            {"fields": ["group_by", ("window_minutes", "max_age_minutes"), "resolve_on"]},
        ),
        ("History", {"fields": ["created_at", "updated_at"]}),
    ]

    def get_fieldsets(self, request: HttpRequest, obj: CorrelationRule | None = None) -> Any:
        if obj is None or self.has_change_permission(request, obj):
            return self.fieldsets
        # Read-only (the roles): the summaries stand for the form's per-key fields.
        return [
            (None, {"fields": ["name", "position", "enabled", "connection_name"]}),
            ("Which alerts", {"fields": ["match_summary"]}),
            (
                "How they are grouped",
                {"fields": ["group_by_summary", "window", "resolve_on"]},
            ),
            ("History", {"fields": ["created_at", "updated_at"]}),
        ]

    @admin.display(description="Connection", ordering="connection__slug")
    def connection_name(self, obj: CorrelationRule) -> str:
        return obj.connection.slug if obj.connection else "all"

    @admin.display(description="Match")
    def match_summary(self, obj: CorrelationRule) -> str:
        match = obj.match if isinstance(obj.match, dict) else {}
        parts = [(MATCH_LABELS[k], _summary(match.get(k))) for k in MATCH_KEYS if match.get(k)]
        if not parts:
            return "every alert"
        return format_html_join(mark_safe("<br>"), "<span class='match-key'>{}</span>: {}", parts)

    @admin.display(description="Group by")
    def group_by_summary(self, obj: CorrelationRule) -> str:
        labels = dict(GroupBy.choices)
        return ", ".join(str(labels.get(v, v)) for v in obj.group_by or [])

    @admin.display(description="Window", ordering="window_minutes")
    def window(self, obj: CorrelationRule) -> str:
        return format_html(
            "{} min <span class='age'>(max. age {} min)</span>",
            obj.window_minutes,
            obj.max_age_minutes,
        )

    def save_model(
        self, request: HttpRequest, obj: CorrelationRule, form: Any, change: bool
    ) -> None:
        values = form.cleaned_data["rule_values"]
        try:
            if change:
                # `obj` already carries the form's values: the service works on the stored row.
                current = CorrelationRule.objects.get(pk=obj.pk)
                saved = correlation_rule_update(rule=current, values=values)
            else:
                saved = correlation_rule_create(values=values)
        except ApplicationError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return
        obj.pk = saved.pk

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        pass  # no relations beyond the connection, saved with the rule

    def delete_model(self, request: HttpRequest, obj: CorrelationRule) -> None:
        correlation_rule_delete(rule=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[CorrelationRule]) -> None:
        for rule in queryset:
            correlation_rule_delete(rule=rule)
