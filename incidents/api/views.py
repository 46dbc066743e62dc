"""Incident endpoints: read, create, edit, lifecycle actions, the journal, and a CI's incidents.

Every change goes through one service of `incidents.services` (the same ones the admin
and the webhook call), so the transition table, the journal and the constraints apply.
"""

from collections.abc import Callable
from typing import Any, cast

from django.contrib.auth.base_user import AbstractBaseUser
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action as viewsets_action
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from cmdb.selectors import configuration_item_get
from core.api import OrderingFilter
from core.permissions import ModelPermissions
from core.schema import CONFLICT

from ..filtersets import IncidentFilterSet
from ..lifecycle import LIFECYCLE, Action
from ..models import Incident
from ..selectors import incident_get, incident_journal, incident_list, incident_list_for_ci
from ..services import incident_add_work_note, incident_create, incident_edit
from .serializers import (
    IncidentCreateSerializer,
    IncidentSerializer,
    IncidentUpdateSerializer,
    JournalEntrySerializer,
    WorkNoteCreateSerializer,
    serializer_for,
)

_VIEW = "incidents.view_incident"
# The lifecycle actions the API offers (`POST /api/incidents/{number}/{name}/`).
API_ACTIONS = [action for action in LIFECYCLE.values() if action.in_api]
INCIDENT_ORDERING = ["opened_at", "priority", "number", "state", "severity"]
_ASSIGNMENT_FIELDS = ("assigned_to", "assignment_group")


def _actor(request: Request) -> AbstractBaseUser:
    """Who is acting: the permission classes let only signed-in users this far."""
    return cast(AbstractBaseUser, request.user)


@extend_schema_view(
    list=extend_schema(summary="List incidents (filters, ordering, pages)"),
    retrieve=extend_schema(summary="Get one incident by number"),
)
class IncidentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Incidents, newest first; looked up by number (INC0001001)."""

    serializer_class = IncidentSerializer
    filterset_class = IncidentFilterSet
    # The class's default list (the settings' backends); mypy refuses reading a generic
    # class's instance variable through the class, though nothing here is generic.
    filter_backends = [*viewsets.GenericViewSet.filter_backends, OrderingFilter]  # type: ignore[misc]
    ordering_fields = INCIDENT_ORDERING
    permission_classes = [ModelPermissions]
    # Reads need view_incident; create add_incident; edits and transitions change_incident.
    action_permissions = {
        **{action.name: [_VIEW, action.permission] for action in API_ACTIONS},
        "journal": {
            "GET": [_VIEW, "incidents.view_journalentry"],
            "POST": [_VIEW, "incidents.add_journalentry"],
        },
    }
    lookup_field = "number"
    lookup_value_regex = "INC[0-9]+"

    def get_queryset(self) -> QuerySet[Incident]:
        return incident_list()

    def _answer(self, incident: Incident, code: int = status.HTTP_200_OK) -> Response:
        """Answer with the incident as it now is, loaded as the list loads it."""
        return Response(IncidentSerializer(incident_get(pk=incident.pk)).data, status=code)

    @extend_schema(request=IncidentCreateSerializer, responses={201: IncidentSerializer})
    def create(self, request: Request) -> Response:
        """Open an incident by hand (not from an alert), optionally assigned at once."""
        serializer = IncidentCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        incident = incident_create(actor=_actor(request), **serializer.validated_data)
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
            incident=self.get_object(), actor=_actor(request), changes=changes, **assignment
        )
        return self._answer(incident)

    def _act(self, request: Request, action: Action) -> Response:
        """Validate the body, call the action's service, answer with the incident as it now is."""
        incident = self.get_object()
        data: dict[str, Any] = {}
        input_serializer = serializer_for(action)
        if input_serializer is not None:
            serializer = input_serializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            data = dict(serializer.validated_data)
        action.run(incident, _actor(request), data)
        return self._answer(incident)

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
    @viewsets_action(detail=True, methods=["get", "post"], filterset_class=None, filter_backends=[])
    def journal(self, request: Request, number: str) -> Response:
        """The journal (timeline), newest first; POST adds a work note."""
        incident = self.get_object()
        if request.method == "POST":
            serializer = WorkNoteCreateSerializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            entry = incident_add_work_note(
                incident=incident,
                actor=_actor(request),
                message=serializer.validated_data["message"],
            )
            return Response(JournalEntrySerializer(entry).data, status=status.HTTP_201_CREATED)
        page = self.paginate_queryset(incident_journal(incident=incident))
        return self.get_paginated_response(JournalEntrySerializer(page, many=True).data)


def _api_action(action: Action) -> Callable[..., Response]:
    """`POST /api/incidents/{number}/{action.name}/`, documented from the lifecycle table."""

    def act(self: IncidentViewSet, request: Request, number: str) -> Response:
        return self._act(request, action)

    act.__name__ = act.__qualname__ = action.name
    act.__doc__ = action.summary
    routed = viewsets_action(detail=True, methods=["post"], url_path=action.name)(act)
    return extend_schema(
        operation_id=f"incidents_{action.name}",
        request=serializer_for(action),
        responses={200: IncidentSerializer, 409: CONFLICT},
    )(routed)


# One method per row of the table, so the router and the schema see ordinary @actions.
for _action in API_ACTIONS:
    setattr(IncidentViewSet, _action.name, _api_action(_action))


@extend_schema_view(list=extend_schema(summary="List the incidents of one configuration item"))
class ConfigurationItemIncidentViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """The incidents linked to one configuration item, newest first (same filters as the list).

    Served at /api/configuration-items/{id}/incidents/; it lives here because the
    incident app may read the CMDB, not the other way round.
    """

    serializer_class = IncidentSerializer
    filterset_class = IncidentFilterSet
    # The class's default list (the settings' backends); mypy refuses reading a generic
    # class's instance variable through the class, though nothing here is generic.
    filter_backends = [*viewsets.GenericViewSet.filter_backends, OrderingFilter]  # type: ignore[misc]
    ordering_fields = INCIDENT_ORDERING
    permission_classes = [ModelPermissions]
    action_permissions = {"list": [_VIEW, "cmdb.view_configurationitem"]}

    def get_queryset(self) -> QuerySet[Incident]:
        if getattr(self, "swagger_fake_view", False):  # drf-spectacular, building the schema
            return incident_list().none()
        ci = configuration_item_get(pk=self.kwargs["configuration_item_id"])
        if ci is None:
            raise NotFound("No configuration item with that id.")
        return incident_list_for_ci(configuration_item=ci)
