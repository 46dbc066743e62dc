"""The integration's endpoints: the Secure Webhook, and (for people) connections, alerts
and deliveries. HTTP in, one service call, HTTP out."""

import time
from typing import Any, cast

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.db.models import QuerySet
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import exceptions, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core import metrics
from core.api import Conflict, OrderingFilter
from core.exceptions import ApplicationError
from core.permissions import IsStaff, ModelPermissions
from core.schema import CONFLICT, ErrorSerializer

from ..authentication import EntraIdBearerAuthentication, WebhookRequest, failure_limit
from ..filtersets import AlertFilterSet, DeliveryFilterSet
from ..models import Alert, Connection, Delivery
from ..outcomes import OUTCOME_STATUS, REFUSAL_STATUS, Outcome
from ..selectors import alert_list, connection_get_for_webhook, connection_list, delivery_list
from ..services import (
    CONNECTION_FIELDS,
    DeliveryRefused,
    IngestResult,
    Unavailable,
    connection_delete,
    connection_upsert,
    delivery_receive,
    delivery_replay,
)
from ..tokens import AzurePrincipal
from ..validators import ConnectionSpecSerializer
from .serializers import (
    AlertSerializer,
    ConnectionReplaceSerializer,
    ConnectionSerializer,
    DeliveryDetailSerializer,
    DeliverySerializer,
    WebhookAnswerSerializer,
)


class PayloadTooLarge(exceptions.APIException):
    status_code = 413
    default_detail = "The body is larger than the limit."
    default_code = "payload_too_large"


class BodyTimeout(exceptions.APIException):
    status_code = 408
    default_detail = "The body did not arrive in time."
    default_code = "request_timeout"


class ServiceUnavailable(exceptions.APIException):
    """Neither the database nor the spool can take the delivery: Azure should retry."""

    status_code = 503
    default_detail = "The database is unavailable and the spool is full; retry later."
    default_code = "unavailable"
    wait = 30  # becomes Retry-After


def answer_body(result: IngestResult) -> dict[str, Any]:
    """The webhook's answer body for what an accepted delivery did (contract)."""
    if result.outcome == Outcome.QUEUED or result.incident is None:
        return {"status": result.outcome, "incident": None, "alert_id": result.alert_id}
    return {
        "status": result.outcome,
        "incident": result.incident.number,
        "incident_state": result.incident.state,
        "alert_id": result.alert_id,
    }


def declared_length(request: Request) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


class _DeadlineSocket:
    """The client socket as gunicorn's body reader sees it while we read a body.

    Every recv waits only for the time left before one deadline, so the deadline is
    for the whole body: a socket timeout alone is per read, and a client sending a
    byte every few seconds would never reach it.
    """

    def __init__(self, sock: Any, deadline: float) -> None:
        self._sock = sock
        self._deadline = deadline

    def recv(self, size: int) -> bytes:
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("the body deadline passed")
        self._sock.settimeout(left)
        return self._sock.recv(size)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


def _gunicorn_unreader(request: Request) -> Any:
    """gunicorn's buffered reader of this request's socket, or None (not under gunicorn).

    Its body reader holds it as `unreader` (Content-Length, read to EOF) or through the
    request (chunked). tests/integrations/test_transport.py pins this against gunicorn.
    """
    reader = getattr(request.META.get("wsgi.input"), "reader", None)
    unreader = getattr(reader, "unreader", None)
    if unreader is None:
        unreader = getattr(getattr(reader, "req", None), "unreader", None)
    return unreader if hasattr(unreader, "sock") else None


def read_body_capped(request: Request, limit: int) -> bytes:
    """Read the raw body, refusing more than `limit` bytes without reading them all.

    Under gunicorn the whole body must arrive within WEBHOOK_BODY_TIMEOUT_SECONDS
    (then 408), however it trickles in, so a slow client cannot hold a worker thread.
    """
    declared = declared_length(request)
    if declared > limit:
        raise PayloadTooLarge(f"The body is {declared} bytes; the limit is {limit}.")
    unreader = _gunicorn_unreader(request)
    if unreader is None:
        body = request._request.read(limit + 1)
    else:
        deadline = time.monotonic() + settings.WEBHOOK_BODY_TIMEOUT_SECONDS
        sock = unreader.sock
        unreader.sock = _DeadlineSocket(sock, deadline)
        try:
            body = request._request.read(limit + 1)
        except OSError as exc:  # TimeoutError is one
            raise BodyTimeout() from exc
        finally:
            unreader.sock = sock
            sock.settimeout(None)
    if len(body) > limit:
        raise PayloadTooLarge(f"The body is larger than the limit of {limit} bytes.")
    return body


_answer = WebhookAnswerSerializer
_error = ErrorSerializer

# What the webhook checks before anything else (contract: "What the body must hold");
# everything else in the common alert schema may be absent or null.
COMMON_ALERT_SCHEMA = {
    "type": "object",
    "description": "An Azure Monitor alert in the common alert schema.",
    "required": ["schemaId", "data"],
    "properties": {
        "schemaId": {"type": "string", "enum": ["azureMonitorCommonAlertSchema"]},
        "data": {
            "type": "object",
            "required": ["essentials"],
            "properties": {
                "essentials": {
                    "type": "object",
                    "required": ["alertId", "monitorCondition"],
                    "properties": {
                        "alertId": {"type": "string", "minLength": 1},
                        "monitorCondition": {"type": "string", "enum": ["Fired", "Resolved"]},
                        "alertRule": {"type": "string", "nullable": True},
                        "severity": {
                            "type": "string",
                            "enum": ["Sev0", "Sev1", "Sev2", "Sev3", "Sev4", None],
                            "nullable": True,
                        },
                        "signalType": {"type": "string", "nullable": True},
                        "monitoringService": {"type": "string", "nullable": True},
                        "alertTargetIDs": {
                            "type": "array",
                            "items": {"type": "string"},
                            "nullable": True,
                        },
                        "configurationItems": {
                            "type": "array",
                            "items": {"type": "string"},
                            "nullable": True,
                        },
                        "firedDateTime": {"type": "string", "nullable": True},
                        "resolvedDateTime": {"type": "string", "nullable": True},
                    },
                },
                "alertContext": {"type": "object", "nullable": True},
                "customProperties": {"type": "object", "nullable": True},
            },
        },
    },
}


class AzureMonitorWebhookView(APIView):
    """Receive an Azure Monitor alert (common alert schema) from a Secure Webhook."""

    authentication_classes = [EntraIdBearerAuthentication]
    permission_classes = [IsAuthenticated]
    throttle_classes: list = []
    parser_classes: list = []  # the body is read raw, size-capped, and parsed by the service

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        # Every answer is counted, refusals too (core.metrics, /metrics).
        started = time.perf_counter()
        try:
            response = super().dispatch(request, *args, **kwargs)
        except BaseException:
            metrics.webhook_answered(
                status=500, outcome=None, seconds=time.perf_counter() - started
            )
            raise
        data = getattr(response, "data", None)
        metrics.webhook_answered(
            status=response.status_code,
            outcome=data.get("status") if isinstance(data, dict) else None,
            seconds=time.perf_counter() - started,
        )
        return response

    def initial(self, request: Request, *args: object, **kwargs: object) -> None:
        # The contract's order: 404, then 413, then 401/403, then 415, then 400. The
        # body is read only once the caller is authenticated: a stranger's slow body
        # never holds a worker, and a declared oversize body is refused unread.
        connection = connection_get_for_webhook(slug=str(kwargs["slug"]))
        if connection is None:
            failure_limit(request)  # a scanner guessing slugs is limited like bad tokens
            raise exceptions.NotFound(f"No connection {kwargs['slug']!r}; check the webhook URL.")
        request = cast(WebhookRequest, request)
        request.webhook_connection = connection
        limit = settings.WEBHOOK_MAX_BODY_BYTES
        declared = declared_length(request)
        if declared > limit:
            raise PayloadTooLarge(f"The body is {declared} bytes; the limit is {limit}.")
        super().initial(request, *args, **kwargs)
        request.webhook_body = read_body_capped(request, limit)

    @extend_schema(
        operation_id="azure_monitor_webhook",
        summary="Receive an Azure Monitor alert (Secure Webhook)",
        description="Called by an Azure Monitor action group's Secure Webhook action, with "
        "a Microsoft Entra ID bearer token (not an API token) and a common-alert-schema "
        "body. When several answers apply: 404, then 413, then 401/403, then 415, then 400. "
        "A 2xx answer is sent only once the delivery is stored.",
        request={"application/json": COMMON_ALERT_SCHEMA},
        parameters=[
            OpenApiParameter(
                "WWW-Authenticate",
                str,
                OpenApiParameter.HEADER,
                response=[401],
                description='`Bearer realm="azure-monitor"`, with `error="invalid_token"` '
                "when a token was sent.",
            ),
            OpenApiParameter(
                "Retry-After",
                int,
                OpenApiParameter.HEADER,
                response=[429, 503],
                description="Seconds to wait before retrying.",
            ),
        ],
        examples=[
            OpenApiExample(
                "Created",
                value={
                    "status": "created",
                    "incident": "INC0001001",
                    "incident_state": "new",
                    "alert_id": "/subscriptions/…/providers/Microsoft.AlertsManagement/alerts/…",
                },
                response_only=True,
                status_codes=["201"],
            ),
        ],
        responses={
            201: OpenApiResponse(_answer, description="A new incident was opened."),
            200: OpenApiResponse(_answer, description="Accepted; no new incident."),
            202: OpenApiResponse(
                _answer,
                description="The database is unavailable; the delivery is kept in the spool "
                "and processed later (status `queued`, incident null).",
            ),
            400: OpenApiResponse(_error, description="Not JSON or not the common alert schema."),
            401: OpenApiResponse(_error, description="No valid Entra ID bearer token."),
            403: OpenApiResponse(_error, description="Caller, role or subscription not allowed."),
            404: OpenApiResponse(_error, description="No connection with that slug."),
            413: OpenApiResponse(_error, description="Body larger than the limit."),
            415: OpenApiResponse(_error, description="Content type is not JSON."),
            429: OpenApiResponse(
                _error,
                description="Too many failed authentications from this address (Retry-After); "
                "valid deliveries are never limited.",
            ),
            503: OpenApiResponse(_error, description="Unavailable; retry (Retry-After)."),
        },
        tags=["webhook"],
    )
    def post(self, request: Request, slug: str) -> Response:
        request = cast(WebhookRequest, request)
        try:
            result = delivery_receive(
                connection=request.webhook_connection,
                # EntraIdBearerAuthentication is this view's only authenticator.
                principal=cast(AzurePrincipal, request.user),
                raw=request.webhook_body,
                content_type=request.META.get("CONTENT_TYPE", ""),
                content_encoding=request.META.get("HTTP_CONTENT_ENCODING", ""),
            )
        except DeliveryRefused as refusal:
            return Response(
                {"detail": refusal.message, "code": refusal.code},
                status=REFUSAL_STATUS[refusal.kind],
            )
        except Unavailable:
            raise ServiceUnavailable() from None
        return Response(answer_body(result), status=OUTCOME_STATUS[result.outcome])


class AzureMonitorWebhookNoSlashView(AzureMonitorWebhookView):
    """The webhook at its URL without the trailing slash (Azure does not follow a 301).

    Left out of the schema, which documents the one operation once.
    """

    schema = None


@extend_schema_view(
    list=extend_schema(summary="List alerts (filters, ordering, pages)"),
    retrieve=extend_schema(summary="Get one alert"),
)
class AlertViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Azure Monitor alerts as received (one per connection and alertId), newest first."""

    serializer_class = AlertSerializer
    filterset_class = AlertFilterSet
    # The stub types filter_backends per model (a generic instance variable); this reads
    # DRF's class default, the same for every model.
    filter_backends = [*viewsets.GenericViewSet.filter_backends, OrderingFilter]  # type: ignore[misc]
    ordering_fields = ["created_at", "fired_at", "resolved_at", "alert_rule", "id"]
    permission_classes = [ModelPermissions]
    lookup_value_regex = "[0-9]+"

    def get_queryset(self) -> QuerySet[Alert]:
        return alert_list()


_SLUG_IMMUTABLE = (
    "The slug cannot be changed: it is part of the webhook URL. Create a new connection "
    "and disable this one instead."
)


@extend_schema_view(
    list=extend_schema(summary="List connections (staff)"),
    retrieve=extend_schema(summary="Get one connection by slug (staff)"),
)
class ConnectionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Connections (Azure tenant + app registration), for staff. Bodies are validated by
    the same code as `manage.py seed_connections`."""

    serializer_class = ConnectionSerializer
    permission_classes = [IsStaff, ModelPermissions]
    filter_backends = [OrderingFilter]
    ordering_fields = ["slug", "name", "created_at"]
    lookup_field = "slug"
    lookup_value_regex = "[-a-zA-Z0-9_]+"

    def get_queryset(self) -> QuerySet[Connection]:
        return connection_list()

    def _answer(self, connection: Connection, code: int = status.HTTP_200_OK) -> Response:
        fresh = connection_list().get(pk=connection.pk)
        return Response(self.get_serializer(fresh).data, status=code)

    def _validated(self, spec: Any) -> dict[str, Any]:
        """A whole connection spec, checked by the validator `seed_connections` uses."""
        serializer = ConnectionSpecSerializer(data=spec)
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)

    def _replace(self, connection: Connection, spec: dict[str, Any]) -> Response:
        values = self._validated(spec)
        if values.pop("slug") != connection.slug:
            raise serializers.ValidationError({"slug": [_SLUG_IMMUTABLE]})
        connection, _ = connection_upsert(slug=connection.slug, values=values)
        return self._answer(connection)

    @extend_schema(request=ConnectionSpecSerializer, responses={201: ConnectionSerializer})
    def create(self, request: Request) -> Response:
        """Create a connection; the fields and defaults are those of `seed_connections`."""
        values = self._validated(request.data)
        slug = values.pop("slug")
        if connection_list().filter(slug=slug).exists():
            raise serializers.ValidationError(
                {"slug": [f"A connection {slug!r} exists already; PUT or PATCH it instead."]}
            )
        connection, _ = connection_upsert(slug=slug, values=values)
        return self._answer(connection, status.HTTP_201_CREATED)

    @extend_schema(request=ConnectionReplaceSerializer, responses={200: ConnectionSerializer})
    def update(self, request: Request, slug: str) -> Response:
        """Replace a connection's settings; fields left out take their defaults."""
        connection = self.get_object()
        return self._replace(connection, {"slug": connection.slug, **_as_object(request.data)})

    @extend_schema(request=ConnectionSpecSerializer, responses={200: ConnectionSerializer})
    def partial_update(self, request: Request, slug: str) -> Response:
        """Change some settings; the result is validated as a whole."""
        connection = self.get_object()
        current = {f: getattr(connection, f) for f in ("slug", *CONNECTION_FIELDS)}
        return self._replace(connection, {**current, **_as_object(request.data)})

    @extend_schema(responses={204: None, 409: CONFLICT})
    def destroy(self, request: Request, slug: str) -> Response:
        """Delete a connection that never delivered anything (409 otherwise: disable it)."""
        try:
            connection_delete(connection=self.get_object())
        except ApplicationError as exc:
            if exc.code == "connection_in_use":
                raise Conflict(exc.message, code=exc.code) from None
            raise
        return Response(status=status.HTTP_204_NO_CONTENT)


def _as_object(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise serializers.ValidationError({"non_field_errors": ["must be a JSON object"]})
    return dict(data)


@extend_schema_view(
    list=extend_schema(summary="List deliveries, without bodies (staff)"),
    retrieve=extend_schema(summary="Get one delivery with its body (staff)"),
)
class DeliveryViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Webhook deliveries as received, newest first, for staff; the body only on one
    delivery's page."""

    permission_classes = [IsStaff, ModelPermissions]
    action_permissions = {
        "replay": ["integrations.view_delivery", "integrations.replay_delivery"],
    }
    filterset_class = DeliveryFilterSet
    # The stub types filter_backends per model (a generic instance variable); this reads
    # DRF's class default, the same for every model.
    filter_backends = [*viewsets.GenericViewSet.filter_backends, OrderingFilter]  # type: ignore[misc]
    ordering_fields = ["received_at", "status_code", "id"]
    lookup_value_regex = "[0-9]+"

    def get_queryset(self) -> QuerySet[Delivery]:
        return delivery_list(with_body=self.action != "list")

    def get_serializer_class(self) -> type[serializers.BaseSerializer[Delivery]]:
        return DeliverySerializer if self.action == "list" else DeliveryDetailSerializer

    @extend_schema(
        operation_id="deliveries_replay",
        request=None,
        responses={
            200: OpenApiResponse(
                WebhookAnswerSerializer,
                description="Processed again; the answer the webhook would give now.",
            ),
            400: OpenApiResponse(ErrorSerializer, description="The body cannot be processed."),
        },
    )
    @action(detail=True, methods=["post"])
    def replay(self, request: Request, pk: str) -> Response:
        """Run a stored delivery through processing again (idempotent), as its sender."""
        # The permission classes let only signed-in staff this far, never AnonymousUser.
        actor = cast(AbstractBaseUser, request.user)
        result = delivery_replay(delivery=self.get_object(), actor=actor)
        return Response(answer_body(result), status=status.HTTP_200_OK)
