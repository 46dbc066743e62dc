"""`POST /api/incidents/{number}/merge/` and `/split/`: operators reshape incidents.

Served by this app, since they move Azure alerts (the incidents app does not know them);
the answers are the incidents API's own representation. Each calls one service of
integrations.merging; its refusals answer 409 (state) or 400 (input) with a code.
"""

from typing import Any, cast

from django.contrib.auth.base_user import AbstractBaseUser
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from core.permissions import ModelPermissions
from core.schema import CONFLICT
from incidents.api.serializers import IncidentSerializer
from incidents.models import Incident, incident_pk_from_number
from incidents.selectors import incident_get, incident_list

from ..merging import incident_merge, incident_split
from ..models import MAX_ALERT_ID_LENGTH, Alert

_CHANGE = ["incidents.view_incident", "incidents.change_incident"]
MAX_SPLIT_ALERTS = 1000


class IncidentMergeSerializer(serializers.Serializer):
    into = serializers.CharField(
        max_length=20, help_text="The number of the incident to merge into (INC…)."
    )

    def validate_into(self, number: str) -> Incident:
        pk = incident_pk_from_number(number)
        found = Incident.objects.filter(pk=pk).first() if pk is not None else None
        if found is None:
            raise serializers.ValidationError(f"No incident {number[:20]}.")
        return found


@extend_schema_field({"oneOf": [{"type": "string"}, {"type": "integer"}]})
class AlertRefField(serializers.Field):
    """An alert: its Azure alertId (as the incident's `alerts` show it) or its id."""

    def to_internal_value(self, data: Any) -> str | int:
        if isinstance(data, bool) or not isinstance(data, str | int):
            raise serializers.ValidationError("An alertId (string) or an alert id (integer).")
        if isinstance(data, str) and (len(data) > MAX_ALERT_ID_LENGTH or "\x00" in data):
            raise serializers.ValidationError("Not an alertId.")
        return data

    def to_representation(self, value: Any) -> Any:
        return value


class IncidentSplitSerializer(serializers.Serializer):
    alert_ids = serializers.ListField(
        child=AlertRefField(),
        max_length=MAX_SPLIT_ALERTS,
        help_text="The alerts to move to a new incident: at least one, not all.",
    )


def _alert_pks(incident: Incident, refs: list[str | int]) -> list[int]:
    """The primary keys of the named alerts of `incident`; a ref it does not hold is a 400."""
    ids = {r for r in refs if isinstance(r, str)}
    pks = {r for r in refs if isinstance(r, int)}
    rows = list(Alert.objects.filter(incident=incident).values_list("pk", "alert_id"))
    found = {pk for pk, alert_id in rows if pk in pks or alert_id in ids}
    known = {ref for pk, alert_id in rows for ref in (pk, alert_id) if pk in found}
    unknown = [str(r)[:200] for r in refs if r not in known]
    if unknown:
        raise serializers.ValidationError(
            {"alert_ids": [f"Not an alert of {incident.number}: {', '.join(unknown[:5])}."]}
        )
    return sorted(found)


class IncidentRestructureViewSet(viewsets.GenericViewSet):
    """Merge an incident into another, or split alerts out of it (operators)."""

    serializer_class = IncidentSerializer
    permission_classes = [ModelPermissions]
    action_permissions = {"merge": _CHANGE, "split": _CHANGE}
    lookup_field = "number"
    lookup_value_regex = "INC[0-9]+"

    def get_queryset(self) -> QuerySet[Incident]:
        return incident_list()

    def _answer(self, incident: Incident, code: int) -> Response:
        return Response(IncidentSerializer(incident_get(pk=incident.pk)).data, status=code)

    @extend_schema(
        operation_id="incidents_merge",
        summary="Merge an incident into another (it becomes canceled, a duplicate)",
        request=IncidentMergeSerializer,
        responses={200: IncidentSerializer, 409: CONFLICT},
    )
    @action(detail=True, methods=["post"])
    def merge(self, request: Request, number: str) -> Response:
        """Move this incident's alerts and CIs to `into`; answer with `into` as it now is.

        409 (with a code) into itself, into a closed or canceled incident, or from an
        incident that is not open.
        """
        incident = self.get_object()
        serializer = IncidentMergeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        actor = cast(AbstractBaseUser, request.user)  # signed in: the permission says so
        result = incident_merge(
            incident=incident, into=serializer.validated_data["into"], actor=actor
        )
        return self._answer(result.target, status.HTTP_200_OK)

    @extend_schema(
        operation_id="incidents_split",
        summary="Split alerts out of an incident into a new one",
        request=IncidentSplitSerializer,
        responses={201: IncidentSerializer, 409: CONFLICT},
    )
    @action(detail=True, methods=["post"])
    def split(self, request: Request, number: str) -> Response:
        """Move the named alerts (at least one, not all) to a new incident; answer with it.

        409 if the incident is not open.
        """
        incident = self.get_object()
        serializer = IncidentSplitSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        pks = _alert_pks(incident, serializer.validated_data["alert_ids"])
        actor = cast(AbstractBaseUser, request.user)
        result = incident_split(incident=incident, alert_pks=pks, actor=actor)
        return self._answer(result.incident, status.HTTP_201_CREATED)
