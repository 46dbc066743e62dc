"""`/api/correlation-rules/` (staff): the rules that group alerts into one incident.

Bodies are checked by `correlation_rules.correlation_rule_problems`, the check the
console uses, and written through the services of integrations.correlation_rules.
"""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from incidents.choices import Severity

from ..choices import GroupBy, ResolveOn
from ..correlation_rules import RULE_FIELDS, RULES
from ..models import CorrelationRule
from .rules import MAX_INT, RuleSerializer, RuleViewSet, RuleWriteSerializer, rule_schema


class CorrelationRuleMatchSerializer(serializers.Serializer):
    """Which alerts a rule takes: every non-empty list must hold the alert's value
    (case-insensitively); an empty or absent list matches anything."""

    monitoring_services = serializers.ListField(child=serializers.CharField(), required=False)
    severities = serializers.ListField(
        child=serializers.ChoiceField(choices=Severity.values), required=False
    )
    alert_rules = serializers.ListField(child=serializers.CharField(), required=False)
    subscriptions = serializers.ListField(child=serializers.CharField(), required=False)
    resource_groups = serializers.ListField(child=serializers.CharField(), required=False)
    resource_types = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        help_text='e.g. "microsoft.compute/virtualmachines"',
    )

    class Meta:
        ref_name = "CorrelationRuleMatch"


@extend_schema_field(CorrelationRuleMatchSerializer)
class MatchField(serializers.JSONField):
    """`match` as received; correlation_rule_problems checks it (the console's check too)."""


@extend_schema_field(
    {"type": "array", "items": {"type": "string", "enum": GroupBy.values}, "minItems": 1}
)
class GroupByField(serializers.JSONField):
    """`group_by` as received; correlation_rule_problems checks it."""


class CorrelationRuleSerializer(RuleSerializer):
    """A correlation rule as the API shows it."""

    match = CorrelationRuleMatchSerializer(read_only=True)
    group_by = serializers.ListField(
        child=serializers.ChoiceField(choices=GroupBy.values), read_only=True
    )

    class Meta:
        model = CorrelationRule
        fields = ["id", *RULE_FIELDS, "created_at", "updated_at"]
        read_only_fields = fields


class CorrelationRuleWriteSerializer(RuleWriteSerializer):
    rules = RULES  # the description is RuleWriteSerializer's

    match = MatchField(default=dict)
    group_by = GroupByField(help_text="What makes a group: at least one, each once.")
    window_minutes = serializers.IntegerField(
        max_value=MAX_INT,
        default=10,
        help_text="A group takes an alert that fired within this many minutes of its newest.",
    )
    max_age_minutes = serializers.IntegerField(
        max_value=MAX_INT,
        default=120,
        help_text="A group takes alerts only this long after it opened (at least the window).",
    )
    resolve_on = serializers.ChoiceField(choices=ResolveOn.choices, default=ResolveOn.ALL)


@rule_schema(
    plural="correlation rules",
    create="Create a rule; fields left out take their defaults (group_by is required).",
    destroy="Delete a rule; the incidents it grouped stay as they are.",
)
class CorrelationRuleViewSet(RuleViewSet):
    """Correlation rules, tried by position (the first match wins), for staff."""

    rules = RULES
    serializer_class = CorrelationRuleSerializer
    write_serializer_class = CorrelationRuleWriteSerializer
