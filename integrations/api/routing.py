"""`/api/assignment-rules/` (staff): the rules that give a new incident from Azure its group.

Bodies are checked by `assignment_rules.assignment_rule_problems`, the check the console
uses, and written through the services of integrations.assignment_rules.
`POST /api/assignment-rules/test/` tries a rule (saved or not) on a stored delivery.
"""

from typing import Any

from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from core.api import RefuseUnknownFields, SlugRelatedField
from incidents.choices import Severity
from incidents.models import AssignmentGroup

from ..assignment_rules import RULE_FIELDS, RULES, assignment_rule_problems
from ..models import AssignmentRule, Connection, Delivery
from ..routing import rule_test
from .rules import RuleSerializer, RuleViewSet, RuleWriteSerializer, rule_schema


def _strings(**kwargs: Any) -> serializers.ListField:
    return serializers.ListField(child=serializers.CharField(), required=False, **kwargs)


class AssignmentRuleMatchSerializer(serializers.Serializer):
    """Which alerts a rule takes: every non-empty list must hold one of the alert's values
    (case-insensitively); an empty or absent list matches anything."""

    monitoring_services = _strings()
    severities = serializers.ListField(
        child=serializers.ChoiceField(choices=Severity.values), required=False
    )
    alert_rules = _strings(help_text="Alert rule names or full rule IDs.")
    subscriptions = _strings()
    resource_groups = _strings()
    resource_types = _strings(
        help_text='The targets\' types, e.g. "microsoft.compute/virtualmachines"'
    )
    ci_classes = _strings(help_text="The classes of the alert's configuration items.")

    class Meta:
        ref_name = "AssignmentRuleMatch"


@extend_schema_field(AssignmentRuleMatchSerializer)
class MatchField(serializers.JSONField):
    """`match` as received; assignment_rule_problems checks it (the console's check too)."""


class AssignmentRuleSerializer(RuleSerializer):
    """An assignment rule as the API shows it."""

    assignment_group: serializers.SlugRelatedField[AssignmentGroup] = serializers.SlugRelatedField(
        slug_field="name", read_only=True
    )
    match = AssignmentRuleMatchSerializer(read_only=True)

    class Meta:
        model = AssignmentRule
        fields = ["id", *RULE_FIELDS, "created_at", "updated_at"]
        read_only_fields = fields


class AssignmentRuleWriteSerializer(RuleWriteSerializer):
    rules = RULES  # the description is RuleWriteSerializer's

    match = MatchField(default=dict)
    assignment_group = SlugRelatedField(
        slug_field="name",
        queryset=AssignmentGroup.objects.all(),
        help_text="The name of the group a matching alert's new incident is assigned to.",
    )


class AssignmentRuleTestSerializer(RefuseUnknownFields, serializers.Serializer):
    """A rule to try (its fields, as for a new one) and the stored delivery to try it on."""

    delivery = serializers.PrimaryKeyRelatedField(
        queryset=Delivery.objects.all(), help_text="A delivery's id (the delivery log)."
    )
    connection = SlugRelatedField(
        slug_field="slug", queryset=Connection.objects.all(), allow_null=True, default=None
    )
    match = MatchField(default=dict)


class AssignmentRuleTestResultSerializer(serializers.Serializer):
    matches = serializers.BooleanField()
    reasons = serializers.ListField(
        child=serializers.CharField(), help_text="Why it does not match, one per condition."
    )
    error = serializers.CharField(help_text="Why the delivery's body could not be read, or empty.")


@rule_schema(
    plural="assignment rules",
    create="Create a rule; fields left out take their defaults (the group is required).",
    destroy="Delete a rule; the incidents it routed keep their group.",
)
class AssignmentRuleViewSet(RuleViewSet):
    """Assignment rules, tried by position (the first match wins), for staff."""

    rules = RULES
    serializer_class = AssignmentRuleSerializer
    write_serializer_class = AssignmentRuleWriteSerializer
    action_permissions = {
        "test": ["integrations.view_assignmentrule", "integrations.view_delivery"]
    }

    @extend_schema(
        request=AssignmentRuleTestSerializer,
        responses={200: AssignmentRuleTestResultSerializer},
        summary="Try a rule on a stored delivery before saving it (staff)",
    )
    @action(detail=False, methods=["post"], filter_backends=[])
    def test(self, request: Request) -> Response:
        """Whether a rule with this connection and `match` takes a stored delivery's alert."""
        serializer = AssignmentRuleTestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        cleaned, problems = assignment_rule_problems(
            {"name": "test", "match": data["match"], "assignment_group": True}
        )
        if problems:
            raise serializers.ValidationError(problems)
        rule = AssignmentRule(name="test", connection=data["connection"], match=cleaned["match"])
        result = rule_test(rule=rule, delivery=data["delivery"])
        return Response(
            AssignmentRuleTestResultSerializer(
                {"matches": result.matches, "reasons": result.reasons, "error": result.error}
            ).data
        )
