"""Reads of the integration's data."""

import threading
import time

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.db.models import Max, QuerySet

from itsm.database import database_unavailable

from .models import Alert, Connection, Delivery

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
    try:
        connection = Connection.objects.filter(slug=slug).order_by().first()
    except (OperationalError, InterfaceError) as exc:
        if cached is None or not database_unavailable(exc):
            raise
        # The database is down: the last settings read still authenticate deliveries,
        # which then wait in the spool.
        return cached[0]
    with _connections_lock:
        _connections[slug] = (connection, now)
    return connection


def connection_cache_clear() -> None:
    """Forget cached connections (after a change in this process)."""
    with _connections_lock:
        _connections.clear()


def alert_list() -> QuerySet[Alert]:
    """Alerts, newest first, with their connection and incident (no query per row)."""
    return Alert.objects.select_related("connection", "incident").order_by("-created_at", "-pk")


def delivery_list(*, with_body: bool = False) -> QuerySet[Delivery]:
    """Deliveries, newest first, with their connection, alert and incident (no query per row).

    Bodies can be large: they are only loaded when asked for (one delivery's page).
    """
    deliveries = Delivery.objects.select_related("connection", "alert__incident").order_by(
        "-received_at", "-pk"
    )
    return deliveries if with_body else deliveries.defer("body")


def connection_list() -> QuerySet[Connection]:
    """Connections by slug, each with `last_delivery_at` (annotated, no query per row)."""
    return Connection.objects.annotate(last_delivery_at=Max("deliveries__received_at")).order_by(
        "slug"
    )
