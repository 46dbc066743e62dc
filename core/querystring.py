"""Refuse a NUL character in a URL (path or query string) before any view sees it.

PostgreSQL cannot store or compare text holding NUL: a console filter, a search or an
API filter given one raises DataError, a 500 (SQLite merely finds nothing). No URL of
ours means anything with a NUL in it, so one check here answers 400 for all of them
instead of a check in each filter.
"""

import logging
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse

from core.views import API_PREFIX

logger = logging.getLogger(__name__)

NUL = "\x00"
MESSAGE = "The URL holds a NUL character (%00)."


def _holds_nul(request: HttpRequest) -> bool:
    if NUL in request.path:
        return True
    return any(NUL in key or any(NUL in v for v in values) for key, values in request.GET.lists())


class NulQueryStringMiddleware:
    """Answer 400 to a request whose path or query string holds a NUL character.

    Under /api/ the answer is the API's error format (`{"detail", "code"}`).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        query = request.META.get("QUERY_STRING", "")
        # Cheap test first: only "%00" (or a raw NUL) decodes to NUL.
        if "%00" not in query and NUL not in query and NUL not in request.path:
            return self.get_response(request)
        if not _holds_nul(request):
            return self.get_response(request)
        logger.warning("request.nul_refused method=%s", request.method)
        if request.path.startswith(API_PREFIX):
            return JsonResponse({"detail": MESSAGE, "code": "invalid"}, status=400)
        return HttpResponseBadRequest(MESSAGE, content_type="text/plain; charset=utf-8")
