"""The Secure Webhook endpoint: HTTP in, one service call, HTTP out."""

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import exceptions, serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ..authentication import EntraIdBearerAuthentication
from ..selectors import connection_get_for_webhook
from ..services import delivery_receive


class PayloadTooLarge(exceptions.APIException):
    status_code = 413
    default_detail = "The body is larger than the limit."
    default_code = "payload_too_large"


def read_body_capped(request: Request, limit: int) -> bytes:
    """Read the raw body, refusing more than `limit` bytes without reading them all."""
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        raise PayloadTooLarge(f"The body is {declared} bytes; the limit is {limit}.")
    body = request._request.read(limit + 1)
    if len(body) > limit:
        raise PayloadTooLarge(f"The body is larger than the limit of {limit} bytes.")
    return body


_answer = inline_serializer(
    "WebhookAnswer",
    fields={
        "status": serializers.ChoiceField(choices=["created", "resolved", "duplicate", "stale"]),
        "incident": serializers.CharField(allow_null=True),
        "incident_state": serializers.CharField(allow_null=True),
        "alert_id": serializers.CharField(),
    },
)
_error = inline_serializer(
    "WebhookError", fields={"detail": serializers.CharField(), "code": serializers.CharField()}
)


class AzureMonitorWebhookView(APIView):
    """Receive an Azure Monitor alert (common alert schema) from a Secure Webhook."""

    authentication_classes = [EntraIdBearerAuthentication]
    permission_classes = [IsAuthenticated]
    throttle_classes: list = []
    parser_classes: list = []  # the body is read raw, size-capped, and parsed by the service

    def initial(self, request: Request, *args: object, **kwargs: object) -> None:
        # The contract's order: 404, then 413, then 401/403, then 415, then 400.
        connection = connection_get_for_webhook(slug=str(kwargs["slug"]))
        if connection is None:
            raise exceptions.NotFound(f"No connection {kwargs['slug']!r}; check the webhook URL.")
        request.webhook_connection = connection
        request.webhook_body = read_body_capped(request, settings.WEBHOOK_MAX_BODY_BYTES)
        super().initial(request, *args, **kwargs)

    @extend_schema(
        operation_id="azure_monitor_webhook",
        request={"application/json": OpenApiTypes.OBJECT},
        responses={
            201: OpenApiResponse(_answer, description="A new incident was opened."),
            200: OpenApiResponse(_answer, description="Accepted; no new incident."),
            400: OpenApiResponse(_error, description="Not JSON or not the common alert schema."),
            401: OpenApiResponse(_error, description="No valid Entra ID bearer token."),
            403: OpenApiResponse(_error, description="Caller, role or subscription not allowed."),
            404: OpenApiResponse(_error, description="No connection with that slug."),
            413: OpenApiResponse(_error, description="Body larger than the limit."),
            415: OpenApiResponse(_error, description="Content type is not JSON."),
            503: OpenApiResponse(_error, description="Unavailable; retry (Retry-After)."),
        },
        tags=["webhook"],
    )
    def post(self, request: Request, slug: str) -> Response:
        answer = delivery_receive(
            connection=request.webhook_connection,
            principal=request.user,
            raw=request.webhook_body,
            content_type=request.META.get("CONTENT_TYPE", ""),
            content_encoding=request.META.get("HTTP_CONTENT_ENCODING", ""),
        )
        return Response(answer.body, status=answer.status_code)
