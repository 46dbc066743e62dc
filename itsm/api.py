"""DRF plumbing shared by every API: the error format and pagination."""

import logging
from typing import Any

from django.db import InterfaceError, OperationalError
from rest_framework import pagination, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from itsm.exceptions import ApplicationError

logger = logging.getLogger(__name__)

DATABASE_RETRY_AFTER_SECONDS = 30


class PageNumberPagination(pagination.PageNumberPagination):
    """Page-number pagination; `page_size` may be asked for, up to 500."""

    page_size_query_param = "page_size"
    max_page_size = 500


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Answer every error as JSON `{"detail": ..., "code": ...}`."""
    if isinstance(exc, ApplicationError):
        return Response({"detail": exc.message, "code": exc.code}, status=exc.status_code)
    if isinstance(exc, OperationalError | InterfaceError):
        # The database is down or unreachable: a retryable answer (Azure retries on 503).
        logger.error("database.unavailable error=%s", type(exc).__name__)
        return Response(
            {"detail": "The database is unavailable; retry later.", "code": "database_unavailable"},
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)},
        )
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
