"""`/api/correlation-rules/` (staff): the rules that group alerts into one incident.

Bodies are checked by `correlation_rules.correlation_rule_problems`, the check the
console uses, and written through the services of integrations.correlation_rules.
"""

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_field, extend_schema_view
from rest_framework import serializers, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from core.api import OrderingFilter, RefuseUnknownFields, SlugRelatedField
from core.permissions import IsStaff, ModelPermissions
from incidents.choices import Severity

from ..choices import GroupBy, ResolveOn
from ..correlation_rules import (
    RULE_FIELDS,
    correlation_rule_create,
    correlation_rule_delete,
    correlation_rule_list,
    correlation_rule_problems,
    correlation_rule_update,
)
from ..models import Connection, CorrelationRule

MAX_INT = 2**31 - 1  # PositiveIntegerField's bound on PostgreSQL


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


class CorrelationRuleSerializer(serializers.ModelSerializer):
    """A correlation rule as the API shows it."""

    connection: serializers.SlugRelatedField[Connection] = serializers.SlugRelatedField(
        slug_field="slug", read_only=True, allow_null=True
    )
    match = CorrelationRuleMatchSerializer(read_only=True)
    group_by = serializers.ListField(
        child=serializers.ChoiceField(choices=GroupBy.values), read_only=True
    )

    class Meta:
        model = CorrelationRule
        fields = ["id", *RULE_FIELDS, "created_at", "updated_at"]
        read_only_fields = fields


class CorrelationRuleWriteSerializer(RefuseUnknownFields, serializers.Serializer):
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

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        rule: CorrelationRule | None = self.context.get("rule")
        whole = dict(attrs)
        if rule is not None and self.partial:
            whole = {**{f: getattr(rule, f) for f in RULE_FIELDS}, **attrs}
        cleaned, problems = correlation_rule_problems(whole)
        taken = CorrelationRule.objects.filter(name=cleaned.get("name"))
        if rule is not None:
            taken = taken.exclude(pk=rule.pk)
        if "name" not in problems and taken.exists():
            problems["name"] = ["Another rule has this name."]
        if problems:
            raise serializers.ValidationError(problems)
        return cleaned


@extend_schema_view(
    list=extend_schema(summary="List correlation rules, by position (staff)"),
    retrieve=extend_schema(summary="Get one correlation rule (staff)"),
)
class CorrelationRuleViewSet(viewsets.ModelViewSet):
    """Correlation rules, tried by position (the first match wins), for staff."""

    serializer_class = CorrelationRuleSerializer
    permission_classes = [IsStaff, ModelPermissions]
    filter_backends = [OrderingFilter]
    ordering_fields = ["position", "name", "created_at"]
    lookup_value_regex = "[0-9]+"

    def get_queryset(self) -> QuerySet[CorrelationRule]:
        return correlation_rule_list()

    def _answer(self, rule: CorrelationRule, code: int = status.HTTP_200_OK) -> Response:
        fresh = correlation_rule_list().get(pk=rule.pk)
        return Response(CorrelationRuleSerializer(fresh).data, status=code)

    def _validated(self, request: Request, rule: CorrelationRule | None, partial: bool) -> Any:
        serializer = CorrelationRuleWriteSerializer(
            data=request.data, partial=partial, context={"rule": rule}
        )
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    @extend_schema(
        request=CorrelationRuleWriteSerializer, responses={201: CorrelationRuleSerializer}
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Create a rule; fields left out take their defaults (group_by is required)."""
        rule = correlation_rule_create(values=self._validated(request, None, partial=False))
        return self._answer(rule, status.HTTP_201_CREATED)

    @extend_schema(
        request=CorrelationRuleWriteSerializer, responses={200: CorrelationRuleSerializer}
    )
    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Replace a rule (PUT: fields left out take their defaults) or change some (PATCH)."""
        rule = self.get_object()
        partial = bool(kwargs.get("partial"))
        values = self._validated(request, rule, partial=partial)
        return self._answer(correlation_rule_update(rule=rule, values=values))

    @extend_schema(
        request=CorrelationRuleWriteSerializer, responses={200: CorrelationRuleSerializer}
    )
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Change some of a rule's fields; the result is checked whole."""
        return self.update(request, *args, partial=True, **kwargs)

    @extend_schema(responses={204: None})
    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Delete a rule; the incidents it grouped stay as they are."""
        correlation_rule_delete(rule=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)
