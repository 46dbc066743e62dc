"""`/api/maintenance-windows/`: planned work that holds alerts back (contract).

Operators write (the model permissions of migration integrations.0007), viewers read.
Writes go through the services of integrations.maintenance; a window that held alerts
is not deleted (409 `window_holds_alerts`): `POST .../{id}/end/` ends it instead.
"""

from typing import Any, cast

import django_filters
from django.contrib.auth.models import User
from django.db.models import Q, QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from core.api import OrderingFilter, RefuseUnknownFields, SlugRelatedField
from core.permissions import ModelPermissions
from core.schema import CONFLICT

from ..maintenance import (
    MAX_SCOPE_ITEM_LENGTH,
    MAX_SCOPE_ITEMS,
    SCOPE_KEYS,
    WINDOW_STATUSES,
    maintenance_window_alerts,
    maintenance_window_create,
    maintenance_window_delete,
    maintenance_window_end,
    maintenance_window_list,
    maintenance_window_update,
    window_status,
    window_status_q,
)
from ..models import Connection, MaintenanceWindow
from .serializers import AlertSerializer


def _scope_list(help_text: str) -> serializers.ListField:
    return serializers.ListField(
        child=serializers.CharField(max_length=MAX_SCOPE_ITEM_LENGTH),
        required=False,
        max_length=MAX_SCOPE_ITEMS,
        help_text=help_text,
    )


class MaintenanceScopeSerializer(RefuseUnknownFields, serializers.Serializer):
    """Which alerts a window covers; each list empty or absent = anything."""

    subscriptions = _scope_list("Subscription IDs of the alert's targets.")
    resource_groups = _scope_list("Resource group names of the alert's targets.")
    resource_ids = _scope_list(
        "Azure resource IDs: a target is covered when it is one of them or under "
        "one (a resource group's ID covers its resources)."
    )
    configuration_items = _scope_list(
        "CI names: a target's name, or a name in Azure's configurationItems."
    )
    alert_rules = _scope_list("Alert rule names.")

    class Meta:
        ref_name = "MaintenanceScope"


class MaintenanceWindowSerializer(serializers.ModelSerializer):
    """A maintenance window as the API shows it, with what it holds back."""

    connection: serializers.SlugRelatedField[Connection] = serializers.SlugRelatedField(
        slug_field="slug", read_only=True, allow_null=True, help_text="Null: every connection."
    )
    scope = MaintenanceScopeSerializer(read_only=True)
    created_by: serializers.SlugRelatedField[User] = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )
    status = serializers.SerializerMethodField(
        help_text="`coming`, `active` (holding back what it covers) or `ended`."
    )
    alert_count = serializers.IntegerField(
        read_only=True, help_text="Alerts it held back (all of them, released or not)."
    )
    held_count = serializers.IntegerField(
        read_only=True, help_text="Alerts it holds back now: no incident yet, still firing."
    )

    class Meta:
        model = MaintenanceWindow
        fields = [
            "id",
            "name",
            "reason",
            "starts_at",
            "ends_at",
            "connection",
            "scope",
            "status",
            "alert_count",
            "held_count",
            "released_at",
            "created_by",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_status(self, window: MaintenanceWindow) -> str:
        return window_status(window)


class MaintenanceWindowWriteSerializer(RefuseUnknownFields, serializers.Serializer):
    """A window to create, or the fields to change (PATCH: some of them)."""

    name = serializers.CharField(max_length=200)
    reason = serializers.CharField(allow_blank=True, required=False, default="")
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField(help_text="After starts_at; the end is excluded.")
    connection = SlugRelatedField(
        slug_field="slug",
        queryset=Connection.objects.all(),
        allow_null=True,
        required=False,
        default=None,
        help_text="A connection's slug, or null for every connection.",
    )
    scope = MaintenanceScopeSerializer(required=False, default=dict)

    class Meta:
        ref_name = "MaintenanceWindowWrite"

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        window = cast(MaintenanceWindow | None, self.instance)
        starts_at = attrs.get("starts_at", window.starts_at if window else None)
        ends_at = attrs.get("ends_at", window.ends_at if window else None)
        if starts_at and ends_at and ends_at <= starts_at:
            raise serializers.ValidationError({"ends_at": ["Must be after starts_at."]})
        if "scope" in attrs:
            attrs["scope"] = {key: list(attrs["scope"].get(key, [])) for key in SCOPE_KEYS}
        return attrs


class MaintenanceWindowFilterSet(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(
        choices=[(s, s) for s in WINDOW_STATUSES],
        method="filter_status",
        label="coming, active or ended (repeat for several)",
    )
    connection = django_filters.CharFilter(
        field_name="connection__slug",
        label="Connection slug (windows for every connection too)",
        method="filter_connection",
    )

    class Meta:
        model = MaintenanceWindow
        fields: list[str] = []

    def filter_status(self, queryset: QuerySet, name: str, value: list[str]) -> QuerySet:
        return queryset.filter(window_status_q(value)) if value else queryset

    def filter_connection(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(Q(connection__slug=value) | Q(connection__isnull=True))


_WRITE = MaintenanceWindowWriteSerializer


@extend_schema_view(
    list=extend_schema(summary="List maintenance windows (filters, ordering, pages)"),
    retrieve=extend_schema(summary="Get one maintenance window"),
)
class MaintenanceWindowViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Maintenance windows: planned work during which the alerts they cover open no incident."""

    serializer_class = MaintenanceWindowSerializer
    permission_classes = [ModelPermissions]
    action_permissions = {
        "alerts": ["integrations.view_maintenancewindow", "integrations.view_alert"],
        "end": ["integrations.view_maintenancewindow", "integrations.change_maintenancewindow"],
    }
    filterset_class = MaintenanceWindowFilterSet
    # The stub types filter_backends per model (a generic instance variable); this reads
    # DRF's class default, the same for every model.
    filter_backends = [*viewsets.GenericViewSet.filter_backends, OrderingFilter]  # type: ignore[misc]
    ordering_fields = ["starts_at", "ends_at", "name", "created_at", "id"]
    lookup_value_regex = "[0-9]+"

    def get_queryset(self) -> QuerySet[MaintenanceWindow]:
        return maintenance_window_list()

    def _answer(self, window: MaintenanceWindow, code: int = status.HTTP_200_OK) -> Response:
        fresh = maintenance_window_list().get(pk=window.pk)
        return Response(MaintenanceWindowSerializer(fresh).data, status=code)

    @extend_schema(request=_WRITE, responses={201: MaintenanceWindowSerializer})
    def create(self, request: Request) -> Response:
        """Plan a window; its end releases what it still holds (a background job)."""
        serializer = _WRITE(data=request.data)
        serializer.is_valid(raise_exception=True)
        # Only signed-in users with the add permission get this far.
        user = cast(User, request.user)
        window = maintenance_window_create(**serializer.validated_data, created_by=user)
        return self._answer(window, status.HTTP_201_CREATED)

    @extend_schema(request=_WRITE, responses={200: MaintenanceWindowSerializer, 409: CONFLICT})
    def update(self, request: Request, pk: str) -> Response:
        """Replace a window's fields (an ended window: only name and reason; 409 otherwise)."""
        return self._change(request, partial=False)

    @extend_schema(request=_WRITE, responses={200: MaintenanceWindowSerializer, 409: CONFLICT})
    def partial_update(self, request: Request, pk: str) -> Response:
        """Change some of a window's fields; moving `ends_at` moves its release."""
        return self._change(request, partial=True)

    def _change(self, request: Request, *, partial: bool) -> Response:
        window = self.get_object()
        serializer = _WRITE(window, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        changes = dict(serializer.validated_data)
        if partial:
            # A PATCH changes what it names; the serializer's defaults are not changes.
            changes = {k: v for k, v in changes.items() if k in request.data}
        window = maintenance_window_update(window=window, **changes)
        return self._answer(window)

    @extend_schema(responses={204: None, 409: CONFLICT})
    def destroy(self, request: Request, pk: str) -> Response:
        """Delete a window that never held an alert (409 `window_holds_alerts`: end it)."""
        maintenance_window_delete(window=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        request=None,
        responses={
            200: OpenApiResponse(MaintenanceWindowSerializer, description="Ended now."),
            409: CONFLICT,
        },
    )
    @action(detail=True, methods=["post"])
    def end(self, request: Request, pk: str) -> Response:
        """End a window now; what it still holds opens incidents at once (the job)."""
        return self._answer(maintenance_window_end(window=self.get_object()))

    @extend_schema(
        summary="List the alerts a window holds or held back (pages)",
        responses={200: AlertSerializer(many=True)},
        filters=False,
    )
    @action(detail=True, methods=["get"], filter_backends=[], ordering_fields=[])
    def alerts(self, request: Request, pk: str) -> Response:
        """The alerts the window held back, newest first: `incident` null while it holds one."""
        alerts = maintenance_window_alerts(window=self.get_object())
        page = self.paginate_queryset(alerts)
        serializer = AlertSerializer(page, many=True, context=self.get_serializer_context())
        return self.get_paginated_response(serializer.data)
