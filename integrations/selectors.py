"""Reads of the integration's data."""

import threading
import time

from django.conf import settings

from .models import Connection

# slug -> (connection, monotonic time it was read). Per process: the web tier stays
# stateless, and a change reaches other processes within CONNECTION_CACHE_SECONDS.
_connections: dict[str, tuple[Connection | None, float]] = {}
_connections_lock = threading.Lock()


def connection_get_for_webhook(*, slug: str) -> Connection | None:
    """Return the connection a webhook URL names, enabled or not; None if there is none.

    Read through a short per-process cache: every delivery needs it, and it rarely changes.
    """
    now = time.monotonic()
    cached = _connections.get(slug)
    if cached is not None and now - cached[1] < settings.CONNECTION_CACHE_SECONDS:
        return cached[0]
    connection = Connection.objects.filter(slug=slug).order_by().first()
    with _connections_lock:
        _connections[slug] = (connection, now)
    return connection


def connection_cache_clear() -> None:
    """Forget cached connections (after a change in this process)."""
    with _connections_lock:
        _connections.clear()
