"""DRF plumbing shared by every API: the error format and pagination."""

from typing import Any

from rest_framework import pagination, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from itsm.exceptions import ApplicationError


class PageNumberPagination(pagination.PageNumberPagination):
    """Page-number pagination; `page_size` may be asked for, up to 500."""

    page_size_query_param = "page_size"
    max_page_size = 500


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Answer every error as JSON `{"detail": ..., "code": ...}`."""
    if isinstance(exc, ApplicationError):
        return Response({"detail": exc.message, "code": exc.code}, status=exc.status_code)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    data = response.data
    if isinstance(data, dict) and "detail" in data:
        detail = data["detail"]
        code = getattr(detail, "code", None) or getattr(exc, "default_code", "error")
        response.data = {"detail": str(detail), "code": code}
    else:
        # Field validation errors: keep the per-field messages under "errors".
        response.data = {
            "detail": "The request is not valid.",
            "code": "invalid",
            "errors": data,
        }
    if response.status_code == status.HTTP_429_TOO_MANY_REQUESTS:
        response.data["code"] = "throttled"
    return response
