"""Project-level views that belong to no app."""

from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Say the process is alive, for load balancers; touches no database."""
    return JsonResponse({"status": "ok"})
