"""`/api/assignment-rules/` (staff): the rules that give a new incident from Azure its group.

Bodies are checked by `assignment_rules.assignment_rule_problems`, the check the console
uses, and written through the services of integrations.assignment_rules.
`POST /api/assignment-rules/test/` tries a rule (saved or not) on a stored delivery.
"""

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_field, extend_schema_view
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from core.api import OrderingFilter, RefuseUnknownFields, SlugRelatedField
from core.permissions import IsStaff, ModelPermissions
from incidents.choices import Severity
from incidents.models import AssignmentGroup

from ..assignment_rules import (
    RULE_FIELDS,
    assignment_rule_create,
    assignment_rule_delete,
    assignment_rule_list,
    assignment_rule_problems,
    assignment_rule_update,
)
from ..models import AssignmentRule, Connection, Delivery
from ..routing import rule_test

MAX_INT = 2**31 - 1  # PositiveIntegerField's bound on PostgreSQL


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


class AssignmentRuleSerializer(serializers.ModelSerializer):
    """An assignment rule as the API shows it."""

    connection: serializers.SlugRelatedField[Connection] = serializers.SlugRelatedField(
        slug_field="slug", read_only=True, allow_null=True
    )
    assignment_group: serializers.SlugRelatedField[AssignmentGroup] = serializers.SlugRelatedField(
        slug_field="name", read_only=True
    )
    match = AssignmentRuleMatchSerializer(read_only=True)

    class Meta:
        model = AssignmentRule
        fields = ["id", *RULE_FIELDS, "created_at", "updated_at"]
        read_only_fields = fields


class AssignmentRuleWriteSerializer(RefuseUnknownFields, serializers.Serializer):
    """A rule's fields; on PATCH each may be left out. Other fields are refused (400)."""

    name = serializers.CharField(max_length=200)
    position = serializers.IntegerField(
        min_value=0, max_value=MAX_INT, default=100, help_text="Lower is tried first."
    )
    enabled = serializers.BooleanField(default=True)
    connection = SlugRelatedField(
        slug_field="slug",
        queryset=Connection.objects.all(),
        allow_null=True,
        default=None,
        help_text="A connection's slug; null: alerts of every connection.",
    )
    match = MatchField(default=dict)
    assignment_group = SlugRelatedField(
        slug_field="name",
        queryset=AssignmentGroup.objects.all(),
        help_text="The name of the group a matching alert's new incident is assigned to.",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        rule: AssignmentRule | None = self.context.get("rule")
        whole = dict(attrs)
        if rule is not None and self.partial:
            whole = {**{f: getattr(rule, f) for f in RULE_FIELDS}, **attrs}
        cleaned, problems = assignment_rule_problems(whole)
        taken = AssignmentRule.objects.filter(name=cleaned.get("name"))
        if rule is not None:
            taken = taken.exclude(pk=rule.pk)
        if "name" not in problems and taken.exists():
            problems["name"] = ["Another rule has this name."]
        if problems:
            raise serializers.ValidationError(problems)
        return cleaned


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


@extend_schema_view(
    list=extend_schema(summary="List assignment rules, by position (staff)"),
    retrieve=extend_schema(summary="Get one assignment rule (staff)"),
)
class AssignmentRuleViewSet(viewsets.ModelViewSet):
    """Assignment rules, tried by position (the first match wins), for staff."""

    serializer_class = AssignmentRuleSerializer
    permission_classes = [IsStaff, ModelPermissions]
    action_permissions = {
        "test": ["integrations.view_assignmentrule", "integrations.view_delivery"]
    }
    filter_backends = [OrderingFilter]
    ordering_fields = ["position", "name", "created_at"]
    lookup_value_regex = "[0-9]+"

    def get_queryset(self) -> QuerySet[AssignmentRule]:
        return assignment_rule_list()

    def _answer(self, rule: AssignmentRule, code: int = status.HTTP_200_OK) -> Response:
        fresh = assignment_rule_list().get(pk=rule.pk)
        return Response(AssignmentRuleSerializer(fresh).data, status=code)

    def _validated(self, request: Request, rule: AssignmentRule | None, partial: bool) -> Any:
        serializer = AssignmentRuleWriteSerializer(
            data=request.data, partial=partial, context={"rule": rule}
        )
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    @extend_schema(request=AssignmentRuleWriteSerializer, responses={201: AssignmentRuleSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Create a rule; fields left out take their defaults (the group is required)."""
        rule = assignment_rule_create(values=self._validated(request, None, partial=False))
        return self._answer(rule, status.HTTP_201_CREATED)

    @extend_schema(request=AssignmentRuleWriteSerializer, responses={200: AssignmentRuleSerializer})
    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Replace a rule (PUT: fields left out take their defaults) or change some (PATCH)."""
        rule = self.get_object()
        partial = bool(kwargs.get("partial"))
        values = self._validated(request, rule, partial=partial)
        return self._answer(assignment_rule_update(rule=rule, values=values))

    @extend_schema(request=AssignmentRuleWriteSerializer, responses={200: AssignmentRuleSerializer})
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Change some of a rule's fields; the result is checked whole."""
        return self.update(request, *args, partial=True, **kwargs)

    @extend_schema(responses={204: None})
    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Delete a rule; the incidents it routed keep their group."""
        assignment_rule_delete(rule=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

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
