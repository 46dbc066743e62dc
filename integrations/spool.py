"""A local durable spool for deliveries that arrive while the database is unreachable.

An authenticated, valid delivery that cannot be stored is written here (one file per
delivery: write, fsync, rename) and answered 202; it is processed, in arrival order,
once the database is back: by `manage.py drain_spool`, and by a background thread in
each web process. Processing is idempotent (the alert's unique constraint), and a file
is claimed by an atomic rename, so two processes never ingest the same file.

Files are JSON: the connection's slug, who sent it (never the token), when, the content
type and the body (base64). The folder is SPOOL_DIR; its size is bounded by
SPOOL_MAX_FILES and SPOOL_MAX_BYTES.
"""

import base64
import itertools
import json
import logging
import os
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.db import InterfaceError, OperationalError, connections

logger = logging.getLogger(__name__)

_sequence = itertools.count()
_drainer_lock = threading.Lock()
_drainer: threading.Thread | None = None


class SpoolFull(Exception):
    """The spool has no room (files or bytes), or cannot be written."""


@dataclass(frozen=True, slots=True)
class SpooledDelivery:
    connection_slug: str
    caller_app_id: str
    caller_object_id: str
    caller_tenant_id: str
    content_type: str
    received_at: datetime
    body: bytes


def spool_dir() -> Path:
    return Path(settings.SPOOL_DIR)


def _usage(folder: Path) -> tuple[int, int]:
    files = [p for p in folder.glob("*.json")]
    return len(files), sum(p.stat().st_size for p in files if p.exists())


def spool_write(delivery: SpooledDelivery) -> Path:
    """Write a delivery durably (write, fsync, rename); raise SpoolFull if it cannot."""
    folder = spool_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        count, size = _usage(folder)
        record = json.dumps(
            {
                "connection": delivery.connection_slug,
                "caller_app_id": delivery.caller_app_id,
                "caller_object_id": delivery.caller_object_id,
                "caller_tenant_id": delivery.caller_tenant_id,
                "content_type": delivery.content_type,
                "received_at": delivery.received_at.isoformat(),
                "body": base64.b64encode(delivery.body).decode(),
            }
        ).encode()
        if count >= settings.SPOOL_MAX_FILES or size + len(record) > settings.SPOOL_MAX_BYTES:
            raise SpoolFull(f"spool full: {count} files, {size} bytes")
        # Names sort in arrival order: time, then process and a per-process sequence.
        name = f"{time.time_ns():020d}-{os.getpid():07d}-{next(_sequence):06d}"
        tmp = folder / f".{name}.tmp"
        with open(tmp, "wb") as f:
            f.write(record)
            f.flush()
            os.fsync(f.fileno())
        final = folder / f"{name}.json"
        os.rename(tmp, final)
        _fsync_dir(folder)
    except OSError as exc:
        raise SpoolFull(f"spool not writable: {exc.strerror}") from exc
    return final


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _read(path: Path) -> SpooledDelivery:
    data = json.loads(path.read_bytes())
    return SpooledDelivery(
        connection_slug=data["connection"],
        caller_app_id=data["caller_app_id"],
        caller_object_id=data["caller_object_id"],
        caller_tenant_id=data["caller_tenant_id"],
        content_type=data["content_type"],
        received_at=datetime.fromisoformat(data["received_at"]),
        body=base64.b64decode(data["body"]),
    )


def pending() -> list[Path]:
    """Spooled deliveries waiting, oldest first."""
    folder = spool_dir()
    return sorted(folder.glob("*.json")) if folder.is_dir() else []


def spool_drain(*, limit: int | None = None) -> tuple[int, int]:
    """Ingest spooled deliveries in arrival order; return (ingested, left).

    Stops at the first database error (the files stay for the next try). A file that
    cannot be read or whose connection is gone is moved aside to `failed/` and logged.
    """
    from .services import spool_ingest  # services import this module

    done = 0
    for path in pending()[:limit]:
        claimed = path.with_suffix(f".{os.getpid()}.claimed")
        try:
            os.rename(path, claimed)  # atomic: only one process wins the file
        except FileNotFoundError:
            continue
        try:
            delivery = _read(claimed)
            spool_ingest(delivery=delivery)
        except (OperationalError, InterfaceError):
            os.rename(claimed, path)  # still down: put it back, in its place
            break
        except Exception:
            failed = claimed.parent / "failed"
            failed.mkdir(exist_ok=True)
            os.rename(claimed, failed / path.name)
            logger.exception("spool.failed file=%s", path.name)
            continue
        claimed.unlink()
        done += 1
    left = len(pending())
    if done:
        logger.info("spool.drained ingested=%d left=%d", done, left)
    return done, left


def _drain_forever() -> None:
    last = time.monotonic()
    while True:
        # Short naps, so a changed interval (or spool folder) is seen within a second.
        time.sleep(min(1.0, settings.SPOOL_DRAIN_INTERVAL_SECONDS))
        if time.monotonic() - last < settings.SPOOL_DRAIN_INTERVAL_SECONDS:
            continue
        last = time.monotonic()
        if not pending():
            continue
        try:
            spool_drain()
        except Exception:  # noqa: BLE001 - the drainer must outlive any one failure
            logger.exception("spool.drain_error")
        finally:
            # This thread drains rarely: hold no connection between drains.
            connections.close_all()


def ensure_drainer() -> None:
    """Start this process's background drainer once (after the first spooled delivery)."""
    global _drainer
    with _drainer_lock:
        if _drainer is None or not _drainer.is_alive():
            _drainer = threading.Thread(target=_drain_forever, name="spool-drainer", daemon=True)
            _drainer.start()
