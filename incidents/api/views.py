"""Incident endpoints: read, lifecycle actions, and the journal."""

from collections.abc import Callable
from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import permissions, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import Serializer
from rest_framework.views import APIView

from ..filtersets import IncidentFilterSet
from ..models import Incident
from ..selectors import incident_journal, incident_list
from ..services import (
    incident_add_work_note,
    incident_assign,
    incident_cancel,
    incident_close,
    incident_hold,
    incident_reopen,
    incident_resolve,
    incident_start,
)
from .serializers import (
    IncidentAssignSerializer,
    IncidentHoldSerializer,
    IncidentReasonSerializer,
    IncidentResolveSerializer,
    IncidentSerializer,
    JournalEntrySerializer,
    WorkNoteCreateSerializer,
)


class CanWorkIncidents(permissions.BasePermission):
    """Anyone signed in reads; changing an incident needs `incidents.change_incident`."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        if request.method in permissions.SAFE_METHODS:
            return True
        return request.user.has_perm("incidents.change_incident")


_conflict = OpenApiResponse(description="The incident's state does not allow this change.")


class IncidentViewSet(viewsets.ReadOnlyModelViewSet):
    """Incidents, newest first; looked up by number (INC0001001)."""

    serializer_class = IncidentSerializer
    filterset_class = IncidentFilterSet
    permission_classes = [CanWorkIncidents]
    lookup_field = "number"
    lookup_value_regex = "INC[0-9]+"

    def get_queryset(self):  # noqa: ANN201
        return incident_list()

    def _act(
        self, request: Request, input_serializer: type[Serializer] | None, change: Callable
    ) -> Response:
        """Validate the body, call one service, answer with the incident as it now is."""
        incident = self.get_object()
        data: dict[str, Any] = {}
        if input_serializer is not None:
            serializer = input_serializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            data = serializer.validated_data
        change(incident, data)
        fresh = incident_list().get(pk=incident.pk)
        return Response(IncidentSerializer(fresh).data)

    @extend_schema(
        request=IncidentAssignSerializer, responses={200: IncidentSerializer, 409: _conflict}
    )
    @action(detail=True, methods=["post"])
    def assign(self, request: Request, number: str) -> Response:
        def change(incident: Incident, data: dict[str, Any]) -> None:
            incident_assign(
                incident=incident,
                actor=request.user,
                assigned_to=data.get("assigned_to", incident.assigned_to),
                assignment_group=data.get("assignment_group", incident.assignment_group),
            )

        return self._act(request, IncidentAssignSerializer, change)

    @extend_schema(request=None, responses={200: IncidentSerializer, 409: _conflict})
    @action(detail=True, methods=["post"])
    def start(self, request: Request, number: str) -> Response:
        return self._act(request, None, lambda i, _: incident_start(incident=i, actor=request.user))

    @extend_schema(
        request=IncidentHoldSerializer, responses={200: IncidentSerializer, 409: _conflict}
    )
    @action(detail=True, methods=["post"])
    def hold(self, request: Request, number: str) -> Response:
        return self._act(
            request,
            IncidentHoldSerializer,
            lambda i, d: incident_hold(incident=i, actor=request.user, reason=d["reason"]),
        )

    @extend_schema(
        request=IncidentResolveSerializer, responses={200: IncidentSerializer, 409: _conflict}
    )
    @action(detail=True, methods=["post"])
    def resolve(self, request: Request, number: str) -> Response:
        return self._act(
            request,
            IncidentResolveSerializer,
            lambda i, d: incident_resolve(incident=i, actor=request.user, **d),
        )

    @extend_schema(request=None, responses={200: IncidentSerializer, 409: _conflict})
    @action(detail=True, methods=["post"])
    def close(self, request: Request, number: str) -> Response:
        return self._act(request, None, lambda i, _: incident_close(incident=i, actor=request.user))

    @extend_schema(
        request=IncidentReasonSerializer, responses={200: IncidentSerializer, 409: _conflict}
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, number: str) -> Response:
        return self._act(
            request,
            IncidentReasonSerializer,
            lambda i, d: incident_cancel(incident=i, actor=request.user, reason=d["reason"]),
        )

    @extend_schema(
        request=IncidentReasonSerializer, responses={200: IncidentSerializer, 409: _conflict}
    )
    @action(detail=True, methods=["post"])
    def reopen(self, request: Request, number: str) -> Response:
        return self._act(
            request,
            IncidentReasonSerializer,
            lambda i, d: incident_reopen(incident=i, actor=request.user, reason=d["reason"]),
        )

    @extend_schema(
        methods=["GET"], request=None, responses={200: JournalEntrySerializer(many=True)}
    )
    @extend_schema(
        methods=["POST"], request=WorkNoteCreateSerializer, responses={201: JournalEntrySerializer}
    )
    @action(detail=True, methods=["get", "post"], pagination_class=None, filterset_class=None)
    def journal(self, request: Request, number: str) -> Response:
        incident = self.get_object()
        if request.method == "POST":
            serializer = WorkNoteCreateSerializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            entry = incident_add_work_note(
                incident=incident, actor=request.user, message=serializer.validated_data["message"]
            )
            return Response(JournalEntrySerializer(entry).data, status=status.HTTP_201_CREATED)
        entries = incident_journal(incident=incident)
        return Response(JournalEntrySerializer(entries, many=True).data)
