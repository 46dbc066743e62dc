"""Correlation rules in the console (staff with the rule permissions write, roles read).

The form checks a rule with `correlation_rules.correlation_rule_problems`, the check
the API uses, and saves it through the services (which clear the ingest's rule cache).
"""

from typing import Any

from django import forms
from django.contrib import admin
from django.utils.html import format_html

from .admin_rules import RULE_COLUMNS, RuleAdmin, RuleForm, match_field
from .choices import GroupBy
from .correlation_rules import MATCH_KEYS, RULES
from .models import CorrelationRule


class CorrelationRuleForm(RuleForm):
    """A rule, with `match` as one field per key and `group_by` as checkboxes."""

    rules = RULES
    match_keys = MATCH_KEYS

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
        if self.instance.pk is not None:
            self.fields["group_by"].initial = list(self.instance.group_by or [])

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        self.check_rule(cleaned, group_by=list(cleaned.get("group_by") or []))
        return cleaned


@admin.register(CorrelationRule)
class CorrelationRuleAdmin(RuleAdmin):
    form = CorrelationRuleForm
    list_display = [*RULE_COLUMNS, "group_by_summary", "window"]
    list_filter = ["enabled", "resolve_on", "connection"]
    search_fields = ["name"]
    list_select_related = ["connection"]
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
        ("Which alerts", {"fields": [match_field(key) for key in MATCH_KEYS]}),
        (
            "How they are grouped",
            {"fields": ["group_by", ("window_minutes", "max_age_minutes"), "resolve_on"]},
        ),
        ("History", {"fields": ["created_at", "updated_at"]}),
    ]
    readonly_fieldsets = [
        (None, {"fields": ["name", "position", "enabled", "connection_name"]}),
        ("Which alerts", {"fields": ["match_summary"]}),
        ("How they are grouped", {"fields": ["group_by_summary", "window", "resolve_on"]}),
        ("History", {"fields": ["created_at", "updated_at"]}),
    ]

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
