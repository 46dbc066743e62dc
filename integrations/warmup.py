"""Ready a web worker for its first delivery, before it gets one (gunicorn.conf.py).

A worker that has never read a connection's settings cannot authenticate a delivery
while the database is away, and one with no key set must fetch it while Azure waits. So
each worker reads every enabled connection when it starts (from the database, else from
the copies on disk: integrations.snapshot) and fetches their key sets in a short-lived
background thread, so it answers requests meanwhile.
"""

import logging
import threading

from django.db import DatabaseError, connections

from . import jwks, snapshot
from .models import Connection
from .selectors import connection_cache_prime

logger = logging.getLogger(__name__)


def worker_warm_up() -> threading.Thread:
    """Cache every enabled connection and start fetching their key sets; never raises."""
    try:
        enabled = list(Connection.objects.filter(enabled=True).order_by("slug"))
        for connection in enabled:
            snapshot.connection_keep(connection)
        source = "database"
    except DatabaseError as exc:
        logger.warning("warmup.database_unavailable error=%s", type(exc).__name__)
        kept = (snapshot.connection_load(slug) for slug in snapshot.connection_slugs())
        enabled = [c for c in kept if c is not None and c.enabled]
        source = "disk"
    finally:
        # The worker's main thread serves no requests: do not keep its connection open.
        for db in connections.all(initialized_only=True):
            if not db.in_atomic_block:  # (a test's transaction)
                db.close()
    connection_cache_prime(enabled)
    uris = sorted({c.effective_jwks_uri for c in enabled})
    logger.info("warmup.connections count=%d source=%s", len(enabled), source)

    def fetch() -> None:
        for uri in uris:
            jwks.key_set_warm(uri)

    fetcher = threading.Thread(target=fetch, name="jwks-warmup", daemon=True)
    fetcher.start()
    return fetcher
