"""`/api/sla-targets/` (staff): how long each priority may wait for a response and a resolution.

One item per priority (the contract's defaults until changed); `PATCH
/api/sla-targets/{priority}/` changes one. Incidents opened afterwards take the new
targets; open ones keep theirs until their priority changes.
"""

from typing import Any

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, viewsets
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from core.api import RefuseUnknownFields
from core.permissions import IsStaff, ModelPermissions

from ..models import SlaTarget
from ..sla import sla_target_list, sla_target_update

MAX_INT = 2**31 - 1


class SlaTargetSerializer(serializers.ModelSerializer):
    class Meta:
        model = SlaTarget
        fields = ["priority", "respond_minutes", "resolve_minutes"]
        read_only_fields = fields


class SlaTargetUpdateSerializer(RefuseUnknownFields, serializers.Serializer):
    """The minutes to change; each may be left out. Other fields are refused (400)."""

    respond_minutes = serializers.IntegerField(min_value=1, max_value=MAX_INT, required=False)
    resolve_minutes = serializers.IntegerField(min_value=1, max_value=MAX_INT, required=False)


@extend_schema_view(
    list=extend_schema(summary="List the SLA targets, one per priority (staff)"),
    retrieve=extend_schema(summary="Get one priority's SLA targets (staff)"),
)
class SlaTargetViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """SLA targets per priority (P1 to P5), for staff."""

    serializer_class = SlaTargetSerializer
    permission_classes = [IsStaff, ModelPermissions]
    queryset = SlaTarget.objects.none()  # for the model permissions; reads use the list
    lookup_field = "priority"
    lookup_value_regex = "[1-5]"
    pagination_class = None
    filter_backends: list[Any] = []

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response(SlaTargetSerializer(sla_target_list(), many=True).data)

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response(SlaTargetSerializer(self._target(kwargs["priority"])).data)

    def _target(self, priority: str) -> SlaTarget:
        for target in sla_target_list():
            if str(target.priority) == priority:
                return target
        raise NotFound("No such priority.")

    @extend_schema(request=SlaTargetUpdateSerializer, responses={200: SlaTargetSerializer})
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Change one priority's targets; incidents opened from now on take them."""
        self._target(kwargs["priority"])
        serializer = SlaTargetUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        target = sla_target_update(priority=int(kwargs["priority"]), **serializer.validated_data)
        return Response(SlaTargetSerializer(target).data)
