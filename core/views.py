"""Project-level views that belong to no app."""

import logging

from django.db import DatabaseError, connection, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from django.views.decorators.http import require_safe
from drf_spectacular.views import SpectacularAPIView
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

logger = logging.getLogger(__name__)

API_PREFIX = "/api/"
# How long /readyz lets PostgreSQL take for `SELECT 1` before it counts as down.
READYZ_STATEMENT_TIMEOUT_MS = 2000
READYZ_RETRY_AFTER_SECONDS = 5

# Both probes are answered by core.middleware.ProbeMiddleware, whatever the Host header;
# the URL patterns name them for reverse() and serve them if that middleware is left out.


@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    """Say the process is alive, for load balancers; touches no database."""
    return JsonResponse({"status": "ok"})


def _database_answers() -> bool:
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                # SET LOCAL: ends with the transaction, never sticks to a reused connection.
                cursor.execute(f"SET LOCAL statement_timeout = {READYZ_STATEMENT_TIMEOUT_MS}")
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError as exc:
        logger.warning("readyz.database_unavailable error=%s", type(exc).__name__)
        return False
    return True


@require_safe
def readyz(request: HttpRequest) -> JsonResponse:
    """Say whether this process can serve: 200 when the database answers, else 503."""
    if _database_answers():
        return JsonResponse({"status": "ok"})
    return JsonResponse(
        {"status": "unavailable"},
        status=503,
        headers={"Retry-After": str(READYZ_RETRY_AFTER_SECONDS)},
    )


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """404: JSON `{"detail", "code"}` under /api/ (as the API's own errors), HTML elsewhere."""
    if request.path.startswith(API_PREFIX):
        return JsonResponse(
            {"detail": f"No API endpoint at {request.path[:200]}.", "code": "not_found"},
            status=404,
        )
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    """500: JSON `{"detail", "code"}` under /api/, HTML elsewhere. Details go to the log only."""
    if request.path.startswith(API_PREFIX):
        return JsonResponse(
            {"detail": "Internal server error; it has been logged.", "code": "server_error"},
            status=500,
        )
    return defaults.server_error(request)


class SchemaView(SpectacularAPIView):
    """The OpenAPI document (YAML, or JSON with `?format=json`); errors are JSON as elsewhere."""

    def handle_exception(self, exc: Exception) -> Response:
        self.request.accepted_renderer = JSONRenderer()
        self.request.accepted_media_type = JSONRenderer.media_type
        return super().handle_exception(exc)
