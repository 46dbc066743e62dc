"""Incident endpoints."""

from rest_framework import viewsets

from ..filtersets import IncidentFilterSet
from ..selectors import incident_list
from .serializers import IncidentSerializer


class IncidentViewSet(viewsets.ReadOnlyModelViewSet):
    """Incidents, newest first; looked up by number (INC0001001)."""

    serializer_class = IncidentSerializer
    filterset_class = IncidentFilterSet
    lookup_field = "number"
    lookup_value_regex = "INC[0-9]+"

    def get_queryset(self):  # noqa: ANN201
        return incident_list()
