"""`/api/assignment-groups/`: the teams incidents go to (roles read, staff write).

Members are usernames. Writes go through incidents.assignment.
"""

from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import permissions, serializers, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import OrderingFilter, RefuseUnknownFields, SlugRelatedField
from core.permissions import IsStaff, ModelPermissions

from ..assignment import (
    assignment_group_create,
    assignment_group_delete,
    assignment_group_list,
    assignment_group_update,
)
from ..models import AssignmentGroup


class StaffWrites(permissions.BasePermission):
    """Reads pass (the model permissions decide); writes are for staff only."""

    message = IsStaff.message

    def has_permission(self, request: Request, view: APIView) -> bool:
        if request.method in permissions.SAFE_METHODS:
            return True
        return IsStaff().has_permission(request, view)


class AssignmentGroupSerializer(serializers.ModelSerializer):
    """A group as the API shows it; `members` are usernames."""

    members: serializers.SlugRelatedField = serializers.SlugRelatedField(
        slug_field="username", many=True, read_only=True
    )

    class Meta:
        model = AssignmentGroup
        fields = ["id", "name", "description", "members", "created_at", "updated_at"]
        read_only_fields = fields


class AssignmentGroupWriteSerializer(RefuseUnknownFields, serializers.Serializer):
    """A group's fields; on PATCH each may be left out. Other fields are refused (400)."""

    name = serializers.CharField(max_length=100)
    description = serializers.CharField(allow_blank=True, required=False, default="")
    members = SlugRelatedField(
        slug_field="username",
        queryset=get_user_model().objects.filter(is_active=True),
        many=True,
        required=False,
        help_text="Usernames of active users; the whole list (PATCH replaces it when given).",
    )


@extend_schema_view(
    list=extend_schema(summary="List assignment groups, by name"),
    retrieve=extend_schema(summary="Get one assignment group"),
)
class AssignmentGroupViewSet(viewsets.ModelViewSet):
    """Assignment groups (teams): the roles read them, staff change them."""

    serializer_class = AssignmentGroupSerializer
    permission_classes = [StaffWrites, ModelPermissions]
    filter_backends = [OrderingFilter]
    ordering_fields = ["name", "created_at"]
    lookup_value_regex = "[0-9]+"

    def get_queryset(self) -> QuerySet[AssignmentGroup]:
        return assignment_group_list()

    def _answer(self, group: AssignmentGroup, code: int = status.HTTP_200_OK) -> Response:
        fresh = assignment_group_list().get(pk=group.pk)
        return Response(AssignmentGroupSerializer(fresh).data, status=code)

    def _validated(self, request: Request, partial: bool) -> dict[str, Any]:
        serializer = AssignmentGroupWriteSerializer(data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)

    @extend_schema(
        request=AssignmentGroupWriteSerializer, responses={201: AssignmentGroupSerializer}
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Create a group (staff)."""
        values = self._validated(request, partial=False)
        members = values.pop("members", [])
        group = assignment_group_create(values=values, members=members)
        return self._answer(group, status.HTTP_201_CREATED)

    @extend_schema(
        request=AssignmentGroupWriteSerializer, responses={200: AssignmentGroupSerializer}
    )
    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Replace a group (PUT) or change some of its fields (PATCH) (staff)."""
        group = self.get_object()
        values = self._validated(request, partial=bool(kwargs.get("partial")))
        members = values.pop("members", None)
        return self._answer(assignment_group_update(group=group, values=values, members=members))

    @extend_schema(
        request=AssignmentGroupWriteSerializer, responses={200: AssignmentGroupSerializer}
    )
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Change some of a group's fields (staff)."""
        return self.update(request, *args, partial=True, **kwargs)

    @extend_schema(responses={204: None})
    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Delete a group no incident or rule names (400 `group_in_use` otherwise) (staff)."""
        assignment_group_delete(group=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)
