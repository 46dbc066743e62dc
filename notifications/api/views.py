"""Notification channels and rules (staff), a channel's test, and an incident's attempts."""

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, permissions, status
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.generics import ListAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.permissions import IsStaff, ModelPermissions
from core.viewsets import ServiceViewSet
from incidents.models import Incident, incident_pk_from_number

from ..models import NotificationAttempt, NotificationChannel, NotificationRule
from ..selectors import (
    notification_attempts_for,
    notification_channel_list,
    notification_rule_list,
)
from ..services import (
    notification_channel_create,
    notification_channel_delete,
    notification_channel_test,
    notification_channel_update,
    notification_rule_create,
    notification_rule_delete,
    notification_rule_update,
)
from .serializers import (
    NotificationAttemptSerializer,
    NotificationChannelCreateSerializer,
    NotificationChannelSerializer,
    NotificationChannelUpdateSerializer,
    NotificationRuleSerializer,
    NotificationRuleWriteSerializer,
)

_CHANGE_CHANNEL = [
    "notifications.view_notificationchannel",
    "notifications.change_notificationchannel",
]


class NotificationChannelViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ServiceViewSet):
    """Where notifications go (staff). Targets and secrets are write-only."""

    serializer_class = NotificationChannelSerializer
    permission_classes = [IsStaff, ModelPermissions]
    action_permissions = {"test": _CHANGE_CHANNEL}
    lookup_value_regex = "[0-9]+"

    def get_queryset(self) -> QuerySet[NotificationChannel]:
        return notification_channel_list()

    def _answer(self, channel: NotificationChannel, code: int = status.HTTP_200_OK) -> Response:
        return Response(NotificationChannelSerializer(channel).data, status=code)

    @extend_schema(
        request=NotificationChannelCreateSerializer, responses={201: NotificationChannelSerializer}
    )
    def create(self, request: Request) -> Response:
        """Create a channel (email, teams, slack, webhook)."""
        channel = notification_channel_create(**self.validated(NotificationChannelCreateSerializer))
        return self._answer(channel, status.HTTP_201_CREATED)

    @extend_schema(
        request=NotificationChannelUpdateSerializer, responses={200: NotificationChannelSerializer}
    )
    def partial_update(self, request: Request, pk: str) -> Response:
        """Change a channel's name, target, secret or enabled flag; fields left out stay."""
        values = self.validated(NotificationChannelUpdateSerializer, partial=True)
        return self._answer(notification_channel_update(channel=self.get_object(), **values))

    def destroy(self, request: Request, pk: str) -> Response:
        """Delete a channel and its rules (attempts made stay on their incidents)."""
        notification_channel_delete(channel=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses={200: NotificationAttemptSerializer})
    @action(detail=True, methods=["post"])
    def test(self, request: Request, pk: str) -> Response:
        """Send a test notification now; the answer is the try (sent, or failed and why)."""
        attempt = notification_channel_test(channel=self.get_object())
        return Response(NotificationAttemptSerializer(attempt).data)


class NotificationRuleViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ServiceViewSet):
    """Which events of which incidents go to which channel (staff)."""

    serializer_class = NotificationRuleSerializer
    permission_classes = [IsStaff, ModelPermissions]
    lookup_value_regex = "[0-9]+"

    def get_queryset(self) -> QuerySet[NotificationRule]:
        return notification_rule_list()

    @extend_schema(
        request=NotificationRuleWriteSerializer, responses={201: NotificationRuleSerializer}
    )
    def create(self, request: Request) -> Response:
        """Create a rule."""
        rule = notification_rule_create(**self.validated(NotificationRuleWriteSerializer))
        return self.answer(rule, status.HTTP_201_CREATED)

    @extend_schema(
        request=NotificationRuleWriteSerializer, responses={200: NotificationRuleSerializer}
    )
    def partial_update(self, request: Request, pk: str) -> Response:
        """Change a rule; fields left out stay."""
        values = self.validated(NotificationRuleWriteSerializer, partial=True)
        return self.answer(notification_rule_update(rule=self.get_object(), **values))

    def destroy(self, request: Request, pk: str) -> Response:
        """Delete a rule."""
        notification_rule_delete(rule=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


class CanViewIncidents(permissions.BasePermission):
    """Whoever may read incidents may read their notification attempts (no secret in them)."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.has_perm("incidents.view_incident"))


class IncidentNotificationListView(ListAPIView):
    """Every try to notify about an incident, newest first."""

    serializer_class = NotificationAttemptSerializer
    permission_classes = [CanViewIncidents]
    filter_backends: list[Any] = []

    def get_queryset(self) -> QuerySet[NotificationAttempt]:
        pk = incident_pk_from_number(self.kwargs["number"])
        if pk is None or not Incident.objects.filter(pk=pk).exists():
            raise NotFound("No incident with that number.")
        return notification_attempts_for(incident_id=pk)

    @extend_schema(summary="List the notifications sent (and tried) about an incident")
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)
