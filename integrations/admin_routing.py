"""Assignment rules in the console (staff with the rule permissions write, roles read).

The form checks a rule with `assignment_rules.assignment_rule_problems`, the check the
API uses, and saves it through the services (which clear the ingest's rule cache). Its
"Test" button tries the rule as it stands in the form on a stored delivery, without
saving it (integrations.routing.rule_test).
"""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.forms.renderers import BaseRenderer
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.safestring import SafeString

from .admin_rules import LINES_HELP, RULE_COLUMNS, RuleAdmin, RuleForm, lines_field, match_field
from .assignment_rules import RULES
from .models import AssignmentRule, Delivery
from .routing import MATCH_KEYS, rule_test

TEST_BUTTON = "_test_rule"


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


class AssignmentRuleForm(RuleForm):
    """A rule, with `match` as one field per key, and a delivery to test it on."""

    rules = RULES
    match_keys = MATCH_KEYS

    match_resource_types = lines_field(
        "resource_types", 'e.g. "microsoft.compute/virtualmachines". ' + LINES_HELP
    )
    match_ci_classes = lines_field(
        "ci_classes", "The classes of the alert's configuration items. " + LINES_HELP
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

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        testing = TEST_BUTTON in self.data
        # A test needs only the match.
        problems = self.check_rule(cleaned, only="match" if testing else None)
        if testing and "match" not in problems:
            self._test(cleaned, cleaned["rule_values"])
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


@admin.register(AssignmentRule)
class AssignmentRuleAdmin(RuleAdmin):
    form = AssignmentRuleForm
    list_display = [*RULE_COLUMNS, "assignment_group"]
    list_filter = ["enabled", "assignment_group", "connection"]
    search_fields = ["name", "assignment_group__name"]
    list_select_related = ["connection", "assignment_group"]
    readonly_fields = ["connection_name", "match_summary", "created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["name", "position", "enabled", "connection", "assignment_group"]}),
        ("Which alerts", {"fields": [match_field(key) for key in MATCH_KEYS]}),
        ("Try it", {"fields": ["test_delivery"]}),
        ("History", {"fields": ["created_at", "updated_at"]}),
    ]

    readonly_fieldsets = [
        (
            None,
            {"fields": ["name", "position", "enabled", "connection_name", "assignment_group"]},
        ),
        ("Which alerts", {"fields": ["match_summary"]}),
        ("History", {"fields": ["created_at", "updated_at"]}),
    ]

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        form = super().get_form(request, obj, change, **kwargs)
        form.request = request  # type: ignore[attr-defined]  # AssignmentRuleForm's
        return form
