"""A local durable spool for deliveries that arrive while the database is unreachable.

An authenticated, valid delivery that cannot be stored because the database is
unavailable (`core.database.database_unavailable`) is written here (one file per delivery:
write, fsync, rename) and answered 202; it is processed, in arrival order, once the
database is back: by `manage.py drain_spool`, and by a background thread in each web
process. Processing is idempotent (the alert's unique constraint), and a file is claimed
by an atomic rename, so two processes never ingest the same file.

This module stores, claims and lists files; what ingesting one means is the caller's
(`services.spool_drain` passes `services.spool_ingest`). A file that fails while the
database answers (tampered, refused now, or failing deterministically) is moved aside to
`failed/` with its error beside it, and the drain goes on with the next.

A file is a tag line, then the record: the tag is an HMAC of the record keyed by the
SECRET_KEY, so a file written or changed by anyone else is never ingested. The record is
JSON: the connection's slug, who sent it (never the token), when, the content type and
the body (base64). The folder is SPOOL_DIR (mode 0700, files 0600); its size is bounded by
SPOOL_MAX_FILES and SPOOL_MAX_BYTES.
"""

import base64
import hmac
import itertools
import json
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.db import connections
from django.utils.crypto import salted_hmac

from core.database import database_unavailable

logger = logging.getLogger(__name__)

_TAG_SALT = "integrations.spool.file"
_FOLDER_MODE = 0o700
_FILE_MODE = 0o600

_sequence = itertools.count()
_drainer_lock = threading.Lock()
_drainer: threading.Thread | None = None
_drainer_stop = threading.Event()


class SpoolFull(Exception):
    """The spool has no room (files or bytes), or cannot be written."""


class SpoolFileInvalid(Exception):
    """A spool file that is unreadable, untagged, or whose tag does not match."""


@dataclass(frozen=True, slots=True)
class SpooledDelivery:
    connection_slug: str
    caller_app_id: str
    caller_object_id: str
    caller_tenant_id: str
    content_type: str
    received_at: datetime
    body: bytes


@dataclass(slots=True)
class DrainReport:
    """What one drain did: files ingested, files set aside (name, error), and what stopped it."""

    ingested: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    left: int = 0
    stopped_by: str = ""  # why the drain stopped early (the database is unavailable)


def spool_dir() -> Path:
    return Path(settings.SPOOL_DIR)


def failed_dir() -> Path:
    return spool_dir() / "failed"


def _tag(record: bytes, secret: str | bytes) -> str:
    return salted_hmac(_TAG_SALT, record, secret=secret, algorithm="sha256").hexdigest()


def _make_private_dir(folder: Path) -> None:
    folder.mkdir(mode=_FOLDER_MODE, parents=True, exist_ok=True)
    os.chmod(folder, _FOLDER_MODE)  # mkdir's mode is masked by the umask, and old folders


def _usage(folder: Path) -> tuple[int, int]:
    files = list(folder.glob("*.json"))
    return len(files), sum(p.stat().st_size for p in files if p.exists())


def spool_write(delivery: SpooledDelivery) -> Path:
    """Write a delivery durably (write, fsync, rename); raise SpoolFull if it cannot."""
    folder = spool_dir()
    try:
        _make_private_dir(folder)
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
        content = _tag(record, settings.SECRET_KEY).encode() + b"\n" + record
        if count >= settings.SPOOL_MAX_FILES or size + len(content) > settings.SPOOL_MAX_BYTES:
            raise SpoolFull(f"spool full: {count} files, {size} bytes")
        # Names sort in arrival order: time, then process and a per-process sequence.
        name = f"{time.time_ns():020d}-{os.getpid():07d}-{next(_sequence):06d}"
        tmp = folder / f".{name}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _FILE_MODE)
        with open(fd, "wb") as f:
            f.write(content)
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


def spool_read(path: Path) -> SpooledDelivery:
    """Read a spool file after checking its tag; raise SpoolFileInvalid if it fails."""
    content = path.read_bytes()
    tag, _, record = content.partition(b"\n")
    # Files tagged before a key rotation stay readable while the old key is a fallback.
    secrets = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    if not record or not any(
        hmac.compare_digest(tag, _tag(record, secret).encode()) for secret in secrets
    ):
        raise SpoolFileInvalid(
            "integrity tag missing or wrong: the file was not written by this service "
            "with this SECRET_KEY (or was changed since)"
        )
    try:
        data = json.loads(record)
        return SpooledDelivery(
            connection_slug=data["connection"],
            caller_app_id=data["caller_app_id"],
            caller_object_id=data["caller_object_id"],
            caller_tenant_id=data["caller_tenant_id"],
            content_type=data["content_type"],
            received_at=datetime.fromisoformat(data["received_at"]),
            body=base64.b64decode(data["body"], validate=True),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise SpoolFileInvalid(f"unreadable record: {type(exc).__name__}") from exc


def pending() -> list[Path]:
    """Spooled deliveries waiting, oldest first."""
    folder = spool_dir()
    return sorted(folder.glob("*.json")) if folder.is_dir() else []


def failed() -> list[Path]:
    """Spool files set aside, oldest first (each with a `.error` file beside it)."""
    folder = failed_dir()
    return sorted(folder.glob("*.json")) if folder.is_dir() else []


def _claim(path: Path) -> Path | None:
    claimed = path.with_suffix(f".{os.getpid()}.claimed")
    try:
        os.rename(path, claimed)  # atomic: only one process wins the file
    except FileNotFoundError:
        return None
    return claimed


def _recover_orphans() -> None:
    """Put back files claimed by a process that died before it finished them."""
    for claimed in spool_dir().glob("*.claimed"):
        name, _, rest = claimed.name.partition(".")
        pid = rest.removesuffix(".claimed")
        if not pid.isdigit() or _alive(int(pid)):
            continue
        # Ingesting is idempotent: a file whose delivery was stored before the crash is
        # recorded again as a repeat, never twice as an alert.
        try:
            os.rename(claimed, claimed.with_name(f"{name}.json"))
        except FileNotFoundError:
            continue  # another drainer recovered it first
        logger.warning("spool.recovered file=%s.json dead_pid=%s", name, pid)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    return True


def _set_aside(claimed: Path, name: str, error: str) -> None:
    folder = failed_dir()
    _make_private_dir(folder)
    note = (folder / name).with_suffix(".error")
    fd = os.open(note, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, _FILE_MODE)
    with open(fd, "w", encoding="utf-8") as f:
        f.write(error + "\n")
    os.rename(claimed, folder / name)
    logger.error("spool.failed file=%s error=%s", name, error)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else '-'}"[:500]


def spool_drain(
    *, ingest: Callable[[SpooledDelivery], object], limit: int | None = None
) -> DrainReport:
    """Ingest spooled deliveries in arrival order with `ingest`; report what happened.

    Stops when the database is unavailable (that file goes back, in its place, for the
    next try). Any other failure (a tampered or unreadable file, a delivery refused now,
    a deterministic error) moves that file to `failed/` with its error, and the drain goes
    on: one bad file never holds up the others.
    """
    report = DrainReport()
    if spool_dir().is_dir():
        _recover_orphans()
    for path in pending()[:limit]:
        claimed = _claim(path)
        if claimed is None:
            continue
        try:
            ingest(spool_read(claimed))
        except Exception as exc:
            if database_unavailable(exc):
                os.rename(claimed, path)  # still down: put it back, in its place
                report.stopped_by = f"database unavailable ({_describe(exc)})"
                logger.warning("spool.stopped file=%s reason=%s", path.name, report.stopped_by)
                break
            error = _describe(exc)
            _set_aside(claimed, path.name, error)
            report.failed.append((path.name, error))
            continue
        claimed.unlink()
        report.ingested += 1
    report.left = len(pending())
    if report.ingested or report.failed:
        logger.info(
            "spool.drained ingested=%d failed=%d left=%d",
            report.ingested,
            len(report.failed),
            report.left,
        )
    return report


def _drain_forever(drain: Callable[[], object], stop: threading.Event) -> None:
    last = time.monotonic()
    # Short naps, so a changed interval (or spool folder) is seen within a second.
    while not stop.wait(min(1.0, settings.SPOOL_DRAIN_INTERVAL_SECONDS)):
        if time.monotonic() - last < settings.SPOOL_DRAIN_INTERVAL_SECONDS:
            continue
        last = time.monotonic()
        if not pending():
            continue
        try:
            drain()
        except Exception:
            logger.exception("spool.drain_error")
        finally:
            # This thread drains rarely: hold no connection between drains.
            connections.close_all()


def ensure_drainer(*, drain: Callable[[], object]) -> None:
    """Start this process's background drainer once (after the first spooled delivery)."""
    global _drainer
    with _drainer_lock:
        if _drainer is None or not _drainer.is_alive():
            _drainer_stop.clear()
            _drainer = threading.Thread(
                target=_drain_forever,
                args=(drain, _drainer_stop),
                name="spool-drainer",
                daemon=True,
            )
            _drainer.start()


def stop_drainer(timeout: float = 10.0) -> None:
    """Stop this process's background drainer, letting a drain in progress finish."""
    global _drainer
    with _drainer_lock:
        if _drainer is not None:
            _drainer_stop.set()
            _drainer.join(timeout)
            _drainer = None
