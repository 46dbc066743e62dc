"""Project-level views that belong to no app."""

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from django.views.decorators.http import require_GET
from drf_spectacular.views import SpectacularAPIView
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

API_PREFIX = "/api/"


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Say the process is alive, for load balancers; touches no database."""
    return JsonResponse({"status": "ok"})


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
