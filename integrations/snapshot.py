"""Connection settings kept on disk beside the spool, for when the database is away.

A web process reads a connection's settings from the database and caches them for a
few seconds (selectors.connection_get_for_webhook). A process that has never read them
(a worker started during an outage: after a deploy, most of them) would have to answer
503. So each time settings are read they are also written here, one file per
connection (mode 0600, replaced atomically), and read back only when the database
cannot be reached and this process has no copy of its own. They hold no secrets: the
tenant, audiences, allowed callers and the like, as in the admin.

Best effort: a snapshot that cannot be written or read is logged and skipped, never a
reason to refuse a delivery the database would take.
"""

import json
import logging
import os
import re
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core import serializers

from .models import Connection

logger = logging.getLogger(__name__)

_SLUG = re.compile(r"[-a-zA-Z0-9_]{1,64}")
# slug -> updated_at of the copy this process last wrote, so a re-read writes nothing.
_written: dict[str, float] = {}
_written_lock = threading.Lock()


def _iso(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _folder() -> Path:
    return Path(settings.SPOOL_DIR) / "connections"


def _path(slug: str) -> Path | None:
    return _folder() / f"{slug}.json" if _SLUG.fullmatch(slug) else None


def connection_keep(connection: Connection) -> None:
    """Write the connection's settings to disk unless this process wrote this version."""
    version = connection.updated_at.timestamp()
    if _written.get(connection.slug) == version:
        return
    path = _path(connection.slug)
    if path is None:
        return
    # Django's "json" format rounds times to milliseconds; keep updated_at exact (it keys
    # the verified-token cache).
    data = json.dumps(serializers.serialize("python", [connection]), default=_iso)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(data)
        os.replace(tmp, path)
    except OSError as exc:
        logger.warning("snapshot.write_failed connection=%s error=%s", connection.slug, exc)
        tmp.unlink(missing_ok=True)
        return
    with _written_lock:
        _written[connection.slug] = version


def connection_load(slug: str) -> Connection | None:
    """The connection's settings as last written, or None (never written, unreadable)."""
    path = _path(slug)
    if path is None:
        return None
    try:
        data = json.loads(path.read_text())
        (found,) = serializers.deserialize("python", data, ignorenonexistent=True)
    except FileNotFoundError:
        return None
    except Exception as exc:
        logger.warning("snapshot.read_failed connection=%s error=%s", slug, type(exc).__name__)
        return None
    connection = found.object
    return connection if isinstance(connection, Connection) else None


def connection_slugs() -> list[str]:
    """Slugs of every connection kept on disk."""
    try:
        return sorted(p.stem for p in _folder().glob("*.json"))
    except OSError:
        return []


def connection_forget(slug: str) -> None:
    """Remove a connection that no longer exists."""
    path = _path(slug)
    if path is not None:
        try:
            path.unlink(missing_ok=True)
        except OSError as exc:
            logger.warning("snapshot.remove_failed connection=%s error=%s", slug, exc)
    with _written_lock:
        _written.pop(slug, None)


def written_clear() -> None:
    """Forget what this process wrote (tests: a new SPOOL_DIR)."""
    with _written_lock:
        _written.clear()
