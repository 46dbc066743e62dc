"""Reads of the integration's data."""

from .models import Connection


def connection_get_for_webhook(*, slug: str) -> Connection | None:
    """Return the connection a webhook URL names, enabled or not; None if there is none."""
    return Connection.objects.filter(slug=slug).first()
