"""Reads of the integration's data."""

import threading
import time
from collections import OrderedDict
from collections.abc import Iterable

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.db.models import Max, Prefetch, QuerySet

from core.database import database_unavailable
from incidents.models import Incident

from . import snapshot
from .models import Alert, Connection, Delivery

# Per process: the web tier stays stateless, and a change reaches other processes within
# CONNECTION_CACHE_SECONDS. slug -> (connection, monotonic time it was read).
_connections: dict[str, tuple[Connection, float]] = {}
# Slugs that name no connection, so a repeated wrong URL costs no query: bounded (a
# scanner sends random slugs) and kept apart, so they can never push a real connection
# out of the cache the webhook relies on while the database is down.
_missing: OrderedDict[str, float] = OrderedDict()
MAX_MISSING_SLUGS = 1024
_connections_lock = threading.Lock()


def connection_get_for_webhook(*, slug: str) -> Connection | None:
    """Return the connection a webhook URL names, enabled or not; None if there is none.

    Read through a short per-process cache: every delivery needs it, and it rarely
    changes. While the database is down, the last settings read (by this process, or
    by any process on this node: integrations.snapshot) still authenticate deliveries,
    which then wait in the spool.
    """
    now = time.monotonic()
    ttl = settings.CONNECTION_CACHE_SECONDS
    cached = _connections.get(slug)
    if cached is not None and now - cached[1] < ttl:
        return cached[0]
    if cached is None:
        missing_since = _missing.get(slug)
        if missing_since is not None and now - missing_since < ttl:
            return None
    try:
        connection = Connection.objects.filter(slug=slug).order_by().first()
    except (OperationalError, InterfaceError) as exc:
        if not database_unavailable(exc):
            raise
        if cached is not None:
            return cached[0]
        kept = snapshot.connection_load(slug)
        if kept is None:
            raise
        connection_cache_prime([kept], now=now)
        return kept
    if connection is None:
        with _connections_lock:
            _connections.pop(slug, None)
            _missing[slug] = now
            _missing.move_to_end(slug)
            while len(_missing) > MAX_MISSING_SLUGS:
                _missing.popitem(last=False)
        snapshot.connection_forget(slug)  # deleted, perhaps by another process
        return None
    connection_cache_prime([connection], now=now)
    snapshot.connection_keep(connection)
    return connection


def connection_cache_prime(connections: Iterable[Connection], *, now: float | None = None) -> None:
    """Put connections into this process's cache, as if just read (worker start)."""
    now = time.monotonic() if now is None else now
    with _connections_lock:
        for connection in connections:
            _missing.pop(connection.slug, None)
            _connections[connection.slug] = (connection, now)


def connection_cache_clear() -> None:
    """Forget cached connections (after a change in this process)."""
    with _connections_lock:
        _connections.clear()
        _missing.clear()


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


def alert_list_for_incident(*, incident: Incident) -> QuerySet[Alert]:
    """The Azure alerts behind an incident, newest first, with their connection and deliveries.

    Deliveries come newest first, without their bodies (up to a MiB each). The incident
    page shows them: this app extends the incidents app's admin with them
    (integrations.admin.IncidentAdmin), since it points at incidents, never the reverse.
    """
    return (
        Alert.objects.filter(incident=incident)
        .select_related("connection")
        .prefetch_related(
            Prefetch(
                "deliveries",
                queryset=Delivery.objects.defer("body").order_by("-received_at", "-pk"),
            )
        )
        .order_by("-created_at", "-pk")
    )
