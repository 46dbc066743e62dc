"""Reads of the integration's data."""

from django.shortcuts import get_object_or_404

from .models import Connection


def connection_get_for_webhook(*, slug: str) -> Connection:
    """Return the connection a webhook URL names, enabled or not (404 if none)."""
    return get_object_or_404(Connection, slug=slug)
