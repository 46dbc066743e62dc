"""DRF plumbing shared by every API: the error format, pagination and ordering."""

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

from django.core.exceptions import FieldDoesNotExist
from django.core.paginator import Page, Paginator
from django.db import InterfaceError, OperationalError
from django.db.models import F, QuerySet
from rest_framework import exceptions, filters, pagination, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework.views import exception_handler as drf_exception_handler

from core.exceptions import ApplicationError

if TYPE_CHECKING:
    # Only for a cast: importing generics here at run time makes an import cycle
    # (rest_framework.generics → the pagination setting → this module).
    from rest_framework import generics

logger = logging.getLogger(__name__)

DATABASE_RETRY_AFTER_SECONDS = 30


class EndReadingPaginator(Paginator):
    """Reads a page in the second half of a list from its end, in the reverse order.

    `?page=last` of a million incidents was an OFFSET of a million rows (1.5 s measured
    at 100,000); read backwards it is the first rows of the reversed order, and the
    result is the same rows in the same order. The list's ordering must be total (the
    API's ends with the primary key), as it must for stable pages anyway.
    """

    def page(self, number: Any) -> Page:
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        count = self.count
        rows = self.object_list
        if not isinstance(rows, QuerySet) or not rows.ordered or bottom <= count // 2:
            return super().page(number)
        top = min(bottom + self.per_page, count)
        page_rows = list(rows.reverse()[count - top : count - bottom])
        page_rows.reverse()
        return Page(page_rows, number, self)


class PageNumberPagination(pagination.PageNumberPagination):
    """Page-number pagination; `page_size` may be asked for, up to 500."""

    page_size_query_param = "page_size"
    max_page_size = 500
    django_paginator_class = EndReadingPaginator


def _nullable(queryset: QuerySet, name: str) -> bool:
    """Whether the model's field `name` may hold NULL (an unknown name: assume it may)."""
    try:
        return bool(queryset.model._meta.get_field(name).null)
    except FieldDoesNotExist:
        return True


class OrderingFilter(filters.OrderingFilter):
    """`?ordering=-priority,opened_at` over the view's `ordering_fields`; ties broken by id.

    Without the tie-breaker, rows sharing a value (every priority-2 incident) could move
    between pages from one request to the next.
    """

    def filter_queryset(self, request: Request, queryset: QuerySet, view: APIView) -> QuerySet:
        ordering = self.get_ordering(request, queryset, view)
        if not ordering:
            return queryset
        # Empty values sort last either way, on PostgreSQL and SQLite alike (their
        # defaults differ). Only a nullable field says NULLS LAST: on a NOT NULL one it
        # changes nothing but keeps PostgreSQL from reading its index backwards
        # (`-opened_at` sorted a million incidents, 2.5 s, instead of reading 50).
        terms = []
        for term in ordering:
            name = term.lstrip("-")
            nulls_last = True if _nullable(queryset, name) else None
            column = F(name)
            terms.append(
                column.desc(nulls_last=nulls_last)
                if term.startswith("-")
                else column.asc(nulls_last=nulls_last)
            )
        return queryset.order_by(*terms, "pk")

    def get_schema_operation_parameters(self, view: APIView) -> list[dict[str, Any]]:
        # Filter backends run only on generic views (only they have `filter_backends`).
        queryset = cast("generics.GenericAPIView", view).get_queryset()
        fields = [name for name, *_ in self.get_valid_fields(queryset, view)]
        return [
            {
                "name": self.ordering_param,
                "required": False,
                "in": "query",
                "description": "Sort by these fields, comma-separated; a leading `-` sorts "
                "descending. Fields: " + ", ".join(f"`{f}`" for f in fields) + ".",
                "schema": {"type": "string"},
            }
        ]


class SlugRelatedField(serializers.SlugRelatedField):
    """DRF's SlugRelatedField that refuses, without a query, what no row can match.

    A NUL character reaches PostgreSQL as an error (a 500), and a non-string or an
    over-long one is simply not a name.
    """

    max_length = 255

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, str) or "\x00" in data or len(data) > self.max_length:
            self.fail("invalid")
        return super().to_internal_value(data)


if TYPE_CHECKING:
    # What the mixin is mixed into, so mypy knows `fields` and the next to_internal_value.
    _SerializerBase = serializers.Serializer
else:
    _SerializerBase = object


class RefuseUnknownFields(_SerializerBase):
    """Serializer mixin: a field the serializer does not take is an error, not dropped.

    Otherwise a typo (`titel`) or a field that is not set this way (`state`, `priority`)
    would be ignored and the client told 200, believing it had changed something.
    """

    # Names listed in one answer at most (the body is the client's, and may be huge).
    MAX_REPORTED = 20

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            fields = self.fields
            accepted = [name for name, field in fields.items() if not field.read_only]
            unknown = sorted(str(name) for name in data if name not in accepted)
            if unknown:
                message = "Unknown field; the fields are " + ", ".join(accepted) + "."
                raise serializers.ValidationError(
                    {name[:100]: [message] for name in unknown[: self.MAX_REPORTED]}
                )
        return super().to_internal_value(data)


class Conflict(exceptions.APIException):
    """The request is valid but the current state of the data refuses it (409)."""

    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state of the data."
    default_code = "conflict"


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Answer every error as JSON `{"detail": ..., "code": ...}`."""
    if isinstance(exc, ApplicationError):
        body: dict[str, Any] = {"detail": exc.message, "code": exc.code}
        if exc.fields:
            body["errors"] = {field: [exc.message] for field in exc.fields}
        return Response(body, status=exc.status_code)
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
        if not isinstance(data, dict):
            data = {"non_field_errors": data}
        response.data = {
            "detail": "The request is not valid.",
            "code": "invalid",
            "errors": data,
        }
    if response.status_code == status.HTTP_429_TOO_MANY_REQUESTS:
        response.data["code"] = "throttled"
    return response
