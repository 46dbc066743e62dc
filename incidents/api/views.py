"""Incident endpoints: read, create, edit, lifecycle actions, the journal, and a CI's incidents.

Every change goes through one service of `incidents.services` (the same ones the admin
and the webhook call), so the transition table, the journal and the constraints apply.
"""

from collections.abc import Callable
from typing import Any

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import Serializer

from cmdb.selectors import configuration_item_get
from core.api import OrderingFilter
from core.permissions import ModelPermissions
from core.schema import CONFLICT

from ..filtersets import IncidentFilterSet
from ..models import Incident
from ..selectors import incident_get, incident_journal, incident_list, incident_list_for_ci
from ..services import (
    incident_add_work_note,
    incident_assign,
    incident_cancel,
    incident_close,
    incident_create,
    incident_edit,
    incident_hold,
    incident_reopen,
    incident_resolve,
    incident_start,
)
from .serializers import (
    IncidentAssignSerializer,
    IncidentCreateSerializer,
    IncidentHoldSerializer,
    IncidentReasonSerializer,
    IncidentResolveSerializer,
    IncidentSerializer,
    IncidentUpdateSerializer,
    JournalEntrySerializer,
    WorkNoteCreateSerializer,
)

_VIEW = "incidents.view_incident"
_CHANGE = [_VIEW, "incidents.change_incident"]
LIFECYCLE_ACTIONS = ("assign", "start", "hold", "resolve", "close", "cancel", "reopen")
INCIDENT_ORDERING = ["opened_at", "priority", "number", "state", "severity"]
_ASSIGNMENT_FIELDS = ("assigned_to", "assignment_group")


@extend_schema_view(
    list=extend_schema(summary="List incidents (filters, ordering, pages)"),
    retrieve=extend_schema(summary="Get one incident by number"),
)
class IncidentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Incidents, newest first; looked up by number (INC0001001)."""

    serializer_class = IncidentSerializer
    filterset_class = IncidentFilterSet
    filter_backends = [*viewsets.GenericViewSet.filter_backends, OrderingFilter]
    ordering_fields = INCIDENT_ORDERING
    permission_classes = [ModelPermissions]
    # Reads need view_incident; create add_incident; edits and transitions change_incident.
    action_permissions = {
        **dict.fromkeys(LIFECYCLE_ACTIONS, _CHANGE),
        "journal": {
            "GET": [_VIEW, "incidents.view_journalentry"],
            "POST": [_VIEW, "incidents.add_journalentry"],
        },
    }
    lookup_field = "number"
    lookup_value_regex = "INC[0-9]+"

    def get_queryset(self):
        return incident_list()

    def _answer(self, incident: Incident, code: int = status.HTTP_200_OK) -> Response:
        """Answer with the incident as it now is, loaded as the list loads it."""
        return Response(IncidentSerializer(incident_get(pk=incident.pk)).data, status=code)

    @extend_schema(request=IncidentCreateSerializer, responses={201: IncidentSerializer})
    def create(self, request: Request) -> Response:
        """Open an incident by hand (not from an alert), optionally assigned at once."""
        serializer = IncidentCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        incident = incident_create(actor=request.user, **serializer.validated_data)
        return self._answer(incident, status.HTTP_201_CREATED)

    @extend_schema(
        request=IncidentUpdateSerializer, responses={200: IncidentSerializer, 409: CONFLICT}
    )
    def partial_update(self, request: Request, number: str) -> Response:
        """Edit title, description, impact, urgency (priority follows) and assignment.

        Fields left out keep their value; closed and canceled incidents cannot be edited (409).
        """
        serializer = IncidentUpdateSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        changes = dict(serializer.validated_data)
        assignment = {f: changes.pop(f) for f in _ASSIGNMENT_FIELDS if f in changes}
        incident = incident_edit(
            incident=self.get_object(), actor=request.user, changes=changes, **assignment
        )
        return self._answer(incident)

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
        return self._answer(incident)

    @extend_schema(
        operation_id="incidents_assign",
        request=IncidentAssignSerializer,
        responses={200: IncidentSerializer, 409: CONFLICT},
    )
    @action(detail=True, methods=["post"])
    def assign(self, request: Request, number: str) -> Response:
        """Assign to a person and/or a group; a field left out keeps its value, null clears."""

        def change(incident: Incident, data: dict[str, Any]) -> None:
            incident_assign(
                incident=incident,
                actor=request.user,
                assigned_to=data.get("assigned_to", incident.assigned_to),
                assignment_group=data.get("assignment_group", incident.assignment_group),
            )

        return self._act(request, IncidentAssignSerializer, change)

    @extend_schema(
        operation_id="incidents_start",
        request=None,
        responses={200: IncidentSerializer, 409: CONFLICT},
    )
    @action(detail=True, methods=["post"])
    def start(self, request: Request, number: str) -> Response:
        """Start work: `in_progress` (from `new` or `on_hold`)."""
        return self._act(request, None, lambda i, _: incident_start(incident=i, actor=request.user))

    @extend_schema(
        operation_id="incidents_hold",
        request=IncidentHoldSerializer,
        responses={200: IncidentSerializer, 409: CONFLICT},
    )
    @action(detail=True, methods=["post"])
    def hold(self, request: Request, number: str) -> Response:
        """Put on hold, saying why: `on_hold` (from `new` or `in_progress`)."""
        return self._act(
            request,
            IncidentHoldSerializer,
            lambda i, d: incident_hold(incident=i, actor=request.user, reason=d["reason"]),
        )

    @extend_schema(
        operation_id="incidents_resolve",
        request=IncidentResolveSerializer,
        responses={200: IncidentSerializer, 409: CONFLICT},
    )
    @action(detail=True, methods=["post"])
    def resolve(self, request: Request, number: str) -> Response:
        """Resolve with a resolution code and notes: `resolved` (from an open state)."""
        return self._act(
            request,
            IncidentResolveSerializer,
            lambda i, d: incident_resolve(incident=i, actor=request.user, **d),
        )

    @extend_schema(
        operation_id="incidents_close",
        request=None,
        responses={200: IncidentSerializer, 409: CONFLICT},
    )
    @action(detail=True, methods=["post"])
    def close(self, request: Request, number: str) -> Response:
        """Close for good: `closed` (from `resolved`)."""
        return self._act(request, None, lambda i, _: incident_close(incident=i, actor=request.user))

    @extend_schema(
        operation_id="incidents_cancel",
        request=IncidentReasonSerializer,
        responses={200: IncidentSerializer, 409: CONFLICT},
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, number: str) -> Response:
        """Cancel (no work needed): `canceled` (from an open state)."""
        return self._act(
            request,
            IncidentReasonSerializer,
            lambda i, d: incident_cancel(incident=i, actor=request.user, reason=d["reason"]),
        )

    @extend_schema(
        operation_id="incidents_reopen",
        request=IncidentReasonSerializer,
        responses={200: IncidentSerializer, 409: CONFLICT},
    )
    @action(detail=True, methods=["post"])
    def reopen(self, request: Request, number: str) -> Response:
        """Reopen: back to `in_progress` (from `resolved`), resolution cleared."""
        return self._act(
            request,
            IncidentReasonSerializer,
            lambda i, d: incident_reopen(incident=i, actor=request.user, reason=d["reason"]),
        )

    @extend_schema(
        methods=["GET"],
        request=None,
        responses={200: JournalEntrySerializer(many=True)},
        summary="List an incident's journal (timeline), newest first",
    )
    @extend_schema(
        methods=["POST"],
        request=WorkNoteCreateSerializer,
        responses={201: JournalEntrySerializer},
        summary="Add a work note to an incident's journal",
    )
    @action(detail=True, methods=["get", "post"], filterset_class=None, filter_backends=[])
    def journal(self, request: Request, number: str) -> Response:
        """The journal (timeline), newest first; POST adds a work note."""
        incident = self.get_object()
        if request.method == "POST":
            serializer = WorkNoteCreateSerializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            entry = incident_add_work_note(
                incident=incident, actor=request.user, message=serializer.validated_data["message"]
            )
            return Response(JournalEntrySerializer(entry).data, status=status.HTTP_201_CREATED)
        page = self.paginate_queryset(incident_journal(incident=incident))
        return self.get_paginated_response(JournalEntrySerializer(page, many=True).data)


@extend_schema_view(list=extend_schema(summary="List the incidents of one configuration item"))
class ConfigurationItemIncidentViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """The incidents linked to one configuration item, newest first (same filters as the list).

    Served at /api/configuration-items/{id}/incidents/; it lives here because the
    incident app may read the CMDB, not the other way round.
    """

    serializer_class = IncidentSerializer
    filterset_class = IncidentFilterSet
    filter_backends = [*viewsets.GenericViewSet.filter_backends, OrderingFilter]
    ordering_fields = INCIDENT_ORDERING
    permission_classes = [ModelPermissions]
    action_permissions = {"list": [_VIEW, "cmdb.view_configurationitem"]}

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # drf-spectacular, building the schema
            return incident_list().none()
        ci = configuration_item_get(pk=self.kwargs["configuration_item_id"])
        if ci is None:
            raise NotFound("No configuration item with that id.")
        return incident_list_for_ci(configuration_item=ci)
