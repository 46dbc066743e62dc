"""Assignment rules in the console (staff with the rule permissions write, roles read).

The form checks a rule with `assignment_rules.assignment_rule_problems`, the check the
API uses, and saves it through the services (which clear the ingest's rule cache). Its
"Test" button tries the rule as it stands in the form on a stored delivery, without
saving it (integrations.routing.rule_test).
"""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.forms.renderers import BaseRenderer
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from core.exceptions import ApplicationError
from incidents.choices import Severity

from .assignment_rules import (
    assignment_rule_create,
    assignment_rule_delete,
    assignment_rule_problems,
    assignment_rule_update,
)
from .models import AssignmentRule, Delivery
from .routing import MATCH_KEYS, rule_test

MATCH_LABELS = {
    "monitoring_services": "Monitoring services",
    "severities": "Severities",
    "alert_rules": "Alert rules",
    "subscriptions": "Subscriptions",
    "resource_groups": "Resource groups",
    "resource_types": "Resource types",
    "ci_classes": "CI classes",
}
_LINES_HELP = "One per line; empty: any. Compared case-insensitively."
TEST_BUTTON = "_test_rule"


def _field(key: str) -> str:
    return f"match_{key}"


def _lines_field(key: str, help_text: str = _LINES_HELP) -> forms.CharField:
    return forms.CharField(
        label=MATCH_LABELS[key],
        widget=forms.Textarea(attrs={"rows": 2, "cols": 60}),
        required=False,
        help_text=help_text,
    )


class TestDeliveryWidget(forms.NumberInput):
    """A delivery id, with the button that tries the rule on it."""

    def render(
        self,
        name: str,
        value: Any,
        attrs: dict[str, Any] | None = None,
        renderer: BaseRenderer | None = None,
    ) -> SafeString:
        field = super().render(name, value, attrs, renderer)
        return format_html(
            '{} <input type="submit" class="button" name="{}" value="Test (does not save)">',
            field,
            TEST_BUTTON,
        )


class AssignmentRuleForm(forms.ModelForm):
    """A rule, with `match` as one field per key, and a delivery to test it on."""

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
    match_resource_types = _lines_field(
        "resource_types", 'e.g. "microsoft.compute/virtualmachines". ' + _LINES_HELP
    )
    match_ci_classes = _lines_field(
        "ci_classes", "The classes of the alert's configuration items. " + _LINES_HELP
    )
    test_delivery = forms.IntegerField(
        label="Test on delivery",
        required=False,
        min_value=1,
        widget=TestDeliveryWidget,
        help_text="A delivery's id (Deliveries): whether this rule, as filled in above, "
        "takes its alert. Nothing is saved.",
    )

    request: HttpRequest | None = None  # set by the admin, for the test's message

    class Meta:
        model = AssignmentRule
        fields = ["name", "position", "enabled", "connection", "assignment_group"]
        help_texts = {
            "position": "Rules are tried by position, lowest first; the first match wins.",
            "connection": "Blank: alerts of every connection.",
            "assignment_group": "New incidents from Azure whose alert matches go to this group.",
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        match = self.instance.match if isinstance(self.instance.match, dict) else {}
        for key in MATCH_KEYS:
            values = match.get(key) or []
            if not isinstance(values, list):
                values = []
            self.fields[_field(key)].initial = values if key == "severities" else "\n".join(values)

    def _match(self) -> dict[str, list[str]]:
        match = {}
        for key in MATCH_KEYS:
            value = self.cleaned_data.get(_field(key)) or []
            match[key] = list(value) if isinstance(value, list) else value.splitlines()
        return match

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        values = {**{f: cleaned.get(f) for f in self.Meta.fields}, "match": self._match()}
        checked, problems = assignment_rule_problems(values)
        testing = TEST_BUTTON in self.data
        for field, messages_ in problems.items():
            if field in self.errors or (testing and field != "match"):
                continue  # a test needs only the match
            self.add_error(field if field in self.fields else None, messages_)
        cleaned["rule_values"] = checked
        if testing and "match" not in problems:
            self._test(cleaned, checked)
        return cleaned

    def _test(self, cleaned: dict[str, Any], checked: dict[str, Any]) -> None:
        """Try the rule on the delivery, say what happened, and stop the save."""
        delivery = Delivery.objects.filter(pk=cleaned.get("test_delivery") or 0).first()
        if delivery is None:
            self.add_error("test_delivery", "Give the id of a stored delivery to test on.")
            return
        rule = AssignmentRule(
            name=checked.get("name") or "",
            connection=cleaned.get("connection"),
            match=checked["match"],
        )
        result = rule_test(rule=rule, delivery=delivery)
        if result.error:
            text = f"Delivery {delivery.pk} cannot be read: {result.error}"
        elif result.matches:
            text = f"Delivery {delivery.pk}: this rule takes its alert."
        else:
            text = f"Delivery {delivery.pk}: no match ({'; '.join(result.reasons)})."
        if self.request is not None:
            messages.info(self.request, text)
        # Not an error in the rule: what stops the save and shows the form as filled in.
        self.add_error(None, f"Tested, not saved. {text}")


def _summary(values: object) -> str:
    return ", ".join(str(v) for v in values) if isinstance(values, list) else ""


@admin.register(AssignmentRule)
class AssignmentRuleAdmin(admin.ModelAdmin):
    form = AssignmentRuleForm
    list_display = [
        "position",
        "name",
        "enabled",
        "connection_name",
        "match_summary",
        "assignment_group",
    ]
    list_display_links = ["name"]
    list_filter = ["enabled", "assignment_group", "connection"]
    search_fields = ["name", "assignment_group__name"]
    list_select_related = ["connection", "assignment_group"]
    ordering = ["position", "pk"]
    readonly_fields = ["connection_name", "match_summary", "created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["name", "position", "enabled", "connection", "assignment_group"]}),
        ("Which alerts", {"fields": [_field(key) for key in MATCH_KEYS]}),
        ("Try it", {"fields": ["test_delivery"]}),
        ("History", {"fields": ["created_at", "updated_at"]}),
    ]

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        form = super().get_form(request, obj, change, **kwargs)
        form.request = request  # type: ignore[attr-defined]  # AssignmentRuleForm's
        return form

    def get_fieldsets(self, request: HttpRequest, obj: AssignmentRule | None = None) -> Any:
        if obj is None or self.has_change_permission(request, obj):
            return self.fieldsets
        # Read-only (the roles): the summary stands for the form's per-key fields.
        return [
            (
                None,
                {"fields": ["name", "position", "enabled", "connection_name", "assignment_group"]},
            ),
            ("Which alerts", {"fields": ["match_summary"]}),
            ("History", {"fields": ["created_at", "updated_at"]}),
        ]

    @admin.display(description="Connection", ordering="connection__slug")
    def connection_name(self, obj: AssignmentRule) -> str:
        return obj.connection.slug if obj.connection else "all"

    @admin.display(description="Match")
    def match_summary(self, obj: AssignmentRule) -> str:
        match = obj.match if isinstance(obj.match, dict) else {}
        parts = [(MATCH_LABELS[k], _summary(match.get(k))) for k in MATCH_KEYS if match.get(k)]
        if not parts:
            return "every alert"
        return format_html_join(mark_safe("<br>"), "<span class='match-key'>{}</span>: {}", parts)

    def save_model(
        self, request: HttpRequest, obj: AssignmentRule, form: Any, change: bool
    ) -> None:
        values = form.cleaned_data["rule_values"]
        try:
            if change:
                # `obj` already carries the form's values: the service works on the stored row.
                current = AssignmentRule.objects.get(pk=obj.pk)
                saved = assignment_rule_update(rule=current, values=values)
            else:
                saved = assignment_rule_create(values=values)
        except ApplicationError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return
        obj.pk = saved.pk

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        pass  # no relations beyond those saved with the rule

    def delete_model(self, request: HttpRequest, obj: AssignmentRule) -> None:
        assignment_rule_delete(rule=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[AssignmentRule]) -> None:
        for rule in queryset:
            assignment_rule_delete(rule=rule)
