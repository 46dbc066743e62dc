"""What the console's pages of every kind of rule share (admin_correlation, admin_routing).

A kind's form subclasses `RuleForm` (one field per `match` key, checked by the kind's
service, the check the API uses) and its admin `RuleAdmin` (the summaries, and saving and
deleting through the service, which clears the ingest's rule cache).
"""

from collections.abc import Sequence
from typing import Any, ClassVar

from django import forms
from django.contrib import admin, messages
from django.db.models import Model, QuerySet
from django.http import HttpRequest
from django.utils.html import format_html_join
from django.utils.safestring import mark_safe

from core.exceptions import ApplicationError
from incidents.choices import Severity

from .rules import Problems, RuleService

# The match lists as the forms ask for them: one value per line (names may hold commas).
MATCH_LABELS = {
    "monitoring_services": "Monitoring services",
    "severities": "Severities",
    "alert_rules": "Alert rules",
    "subscriptions": "Subscriptions",
    "resource_groups": "Resource groups",
    "resource_types": "Resource types",
    "ci_classes": "CI classes",
}
LINES_HELP = "One per line; empty: any. Compared case-insensitively."


def match_field(key: str) -> str:
    """The form field that holds `match[key]`."""
    return f"match_{key}"


def lines_field(key: str, help_text: str = LINES_HELP) -> forms.CharField:
    """A `match` list as a text area, one value per line."""
    return forms.CharField(
        label=MATCH_LABELS[key],
        widget=forms.Textarea(attrs={"rows": 2, "cols": 60}),
        required=False,
        help_text=help_text,
    )


class RuleForm(forms.ModelForm):
    """A rule, with `match` as one field per key (a kind adds the keys only it has)."""

    rules: ClassVar[RuleService[Any]]
    match_keys: ClassVar[Sequence[str]]

    match_monitoring_services = lines_field("monitoring_services")
    match_severities = forms.MultipleChoiceField(
        label=MATCH_LABELS["severities"],
        choices=Severity.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="None ticked: any severity.",
    )
    match_alert_rules = lines_field("alert_rules")
    match_subscriptions = lines_field("subscriptions")
    match_resource_groups = lines_field("resource_groups")
    match_resource_types = lines_field("resource_types")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        match = self.instance.match if isinstance(self.instance.match, dict) else {}
        for key in self.match_keys:
            values = match.get(key) or []
            if not isinstance(values, list):
                values = []
            field = self.fields[match_field(key)]
            field.initial = values if key == "severities" else "\n".join(values)

    def _match(self) -> dict[str, list[str]]:
        match = {}
        for key in self.match_keys:
            value = self.cleaned_data.get(match_field(key)) or []
            match[key] = list(value) if isinstance(value, list) else value.splitlines()
        return match

    def check_rule(
        self, cleaned: dict[str, Any], *, only: str | None = None, **values: Any
    ) -> Problems:
        """Check the rule as filled in (`values` replacing fields); say its problems on the
        form (only those of the field `only`, if given) and keep the cleaned rule in
        `cleaned["rule_values"]` for the admin's save."""
        whole = {
            **{f: cleaned.get(f) for f in self._meta.fields or []},
            "match": self._match(),
            **values,
        }
        checked, problems = self.rules.problems(whole)
        for field, messages_ in problems.items():
            # The fields the form has already refused say so themselves.
            if field in self.errors or (only is not None and field != only):
                continue
            self.add_error(field if field in self.fields else None, messages_)
        cleaned["rule_values"] = checked
        return problems


# The list's first columns, every kind's.
RULE_COLUMNS = ["position", "name", "enabled", "connection_name", "match_summary"]


def _summary(values: object) -> str:
    return ", ".join(str(v) for v in values) if isinstance(values, list) else ""


class RuleAdmin(admin.ModelAdmin):
    """A kind of rule in the console; the roles (no change permission) see it read-only,
    with `readonly_fieldsets`, whose summaries stand for the form's per-key fields."""

    form: type[RuleForm]  # whose service and `match` keys the page uses
    readonly_fieldsets: ClassVar[list[Any]]
    list_display_links = ["name"]
    ordering = ["position", "pk"]

    @property
    def rules(self) -> RuleService[Any]:
        return self.form.rules

    @property
    def match_keys(self) -> Sequence[str]:
        return self.form.match_keys

    def get_fieldsets(self, request: HttpRequest, obj: Model | None = None) -> Any:
        if obj is None or self.has_change_permission(request, obj):
            return self.fieldsets
        return self.readonly_fieldsets

    @admin.display(description="Connection", ordering="connection__slug")
    def connection_name(self, obj: Any) -> str:
        return obj.connection.slug if obj.connection else "all"

    @admin.display(description="Match")
    def match_summary(self, obj: Any) -> str:
        match = obj.match if isinstance(obj.match, dict) else {}
        keys = self.match_keys
        parts = [(MATCH_LABELS[k], _summary(match.get(k))) for k in keys if match.get(k)]
        if not parts:
            return "every alert"
        return format_html_join(mark_safe("<br>"), "<span class='match-key'>{}</span>: {}", parts)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        values = form.cleaned_data["rule_values"]
        try:
            if change:
                # `obj` already carries the form's values: the service works on the stored row.
                current = self.rules.model._default_manager.get(pk=obj.pk)
                saved = self.rules.update(rule=current, values=values)
            else:
                saved = self.rules.create(values=values)
        except ApplicationError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return
        obj.pk = saved.pk

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        pass  # no relations beyond those saved with the rule

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        self.rules.delete(rule=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        for rule in queryset:
            self.rules.delete(rule=rule)
