"""What the API of every kind of rule shares (integrations.api.correlation, .routing).

A kind's viewset subclasses `RuleViewSet`, naming its service (integrations.rules) and its
serializers; its write serializer subclasses `RuleWriteSerializer` and declares `match`
first, then its own fields, so the fields keep the order the answers name them in.
"""

from collections.abc import Callable
from typing import Any, ClassVar

from django.db.models import Model, QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from core.api import OrderingFilter, RefuseUnknownFields, SlugRelatedField
from core.permissions import IsStaff, ModelPermissions
from core.viewsets import ServiceViewSet

from ..models import Connection
from ..rules import RuleService

MAX_INT = 2**31 - 1  # PositiveIntegerField's bound on PostgreSQL


class RuleSerializer(serializers.ModelSerializer):
    """A rule as the API shows it (a kind's serializer adds its Meta and `match`)."""

    connection: serializers.SlugRelatedField[Connection] = serializers.SlugRelatedField(
        slug_field="slug", read_only=True, allow_null=True
    )


class RuleWriteSerializer(RefuseUnknownFields, serializers.Serializer):
    """A rule's fields; on PATCH each may be left out. Other fields are refused (400)."""

    rules: ClassVar[RuleService[Any]]

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

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        rule: Model | None = self.context.get("rule")
        whole = dict(attrs)
        if rule is not None and self.partial:
            whole = {**{f: getattr(rule, f) for f in self.rules.fields}, **attrs}
        cleaned, problems = self.rules.problems(whole)
        taken = self.rules.model._default_manager.filter(name=cleaned.get("name"))
        if rule is not None:
            taken = taken.exclude(pk=rule.pk)
        if "name" not in problems and taken.exists():
            problems["name"] = ["Another rule has this name."]
        if problems:
            raise serializers.ValidationError(problems)
        return cleaned


def rule_schema(
    *, plural: str, create: str, destroy: str
) -> Callable[[type["RuleViewSet"]], type["RuleViewSet"]]:
    """The OpenAPI description of a kind's RuleViewSet: summaries, bodies and answers.

    `plural` names the rules ("correlation rules"); `create` and `destroy` describe those
    operations for this kind. The bodies are the viewset's serializer classes.
    """

    def decorate(view: type["RuleViewSet"]) -> type["RuleViewSet"]:
        read, write = view.serializer_class, view.write_serializer_class
        singular = plural.removesuffix("s")
        return extend_schema_view(
            list=extend_schema(summary=f"List {plural}, by position (staff)"),
            retrieve=extend_schema(summary=f"Get one {singular} (staff)"),
            create=extend_schema(request=write, responses={201: read}, description=create),
            update=extend_schema(request=write, responses={200: read}),
            partial_update=extend_schema(request=write, responses={200: read}),
            destroy=extend_schema(responses={204: None}, description=destroy),
        )(view)

    return decorate


class RuleViewSet(ServiceViewSet, viewsets.ModelViewSet):
    """Rules of one kind, tried by position (the first match wins), for staff."""

    rules: ClassVar[RuleService[Any]]
    write_serializer_class: ClassVar[type[RuleWriteSerializer]]
    permission_classes = [IsStaff, ModelPermissions]
    filter_backends = [OrderingFilter]
    ordering_fields = ["position", "name", "created_at"]
    lookup_value_regex = "[0-9]+"

    def get_queryset(self) -> QuerySet[Any]:
        return self.rules.list()

    def _validated(self, rule: Model | None, partial: bool) -> Any:
        return self.validated(self.write_serializer_class, partial=partial, context={"rule": rule})

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Create a rule; fields left out take their defaults."""
        rule = self.rules.create(values=self._validated(None, partial=False))
        return self.answer(rule, status.HTTP_201_CREATED)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Replace a rule (PUT: fields left out take their defaults) or change some (PATCH)."""
        rule = self.get_object()
        partial = bool(kwargs.get("partial"))
        values = self._validated(rule, partial=partial)
        return self.answer(self.rules.update(rule=rule, values=values))

    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Change some of a rule's fields; the result is checked whole."""
        return self.update(request, *args, partial=True, **kwargs)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Delete a rule."""
        self.rules.delete(rule=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)
