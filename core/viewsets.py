"""The base of the API's viewsets that write through services (STYLE.md, DRF conventions).

A write checks the body with an input serializer (`validated`), calls one service, and
answers with the output serializer (`answer`). Apart from core.api because viewsets import
the pagination setting, which names core.api.
"""

from typing import Any

from django.db.models import Model
from rest_framework import serializers, status, viewsets
from rest_framework.response import Response


class ServiceViewSet(viewsets.GenericViewSet):
    """A GenericViewSet with the two halves of a write around its service call."""

    def validated(self, serializer_class: type[serializers.BaseSerializer], **kwargs: Any) -> Any:
        """The request's body checked by `serializer_class` (built with `kwargs`, e.g.
        `partial=True`); its errors are a 400."""
        serializer = serializer_class(data=self.request.data, **kwargs)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def answer(self, obj: Model, code: int = status.HTTP_200_OK) -> Response:
        """Answer with `obj` as the list shows it: read again through `get_queryset`."""
        fresh = self.get_queryset().get(pk=obj.pk)
        return Response(self.get_serializer_class()(fresh).data, status=code)
