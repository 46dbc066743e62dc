"""Entra ID signing keys, cached per key-set URL in this process.

Once a key set is cached, validating a token makes no network call. A token whose `kid`
is not in the set causes a refetch (keys rotate), at most once per cooldown so a flood of
forged `kid`s cannot turn us into a load generator against Entra ID; within the cooldown
an unknown `kid` is answered "retry later" (503), never "bad token" (401, which Azure
does not retry), since it may be a new key. Entra ID publishes new keys well before it
signs with them, so a set older than JWKS_MAX_AGE_SECONDS is refreshed in the background
while the cached set goes on serving, and each worker fetches its sets when it starts
(integrations.warmup). A failed fetch keeps the last good set. The cache is only a
cache: every process builds its own.
"""

import contextlib
import http.client
import json
import logging
import math
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import jwt
from django.conf import settings

from .validators import LOOPBACK_HOSTS

logger = logging.getLogger(__name__)

MAX_JWKS_BYTES = 512 * 1024
COLD_RETRY_SECONDS = 10


class KeySetUnavailable(Exception):
    """No key set could be had at all (never fetched, and fetching fails)."""


class UnknownSigningKey(Exception):
    """The key set, even freshly fetched, has no key with this `kid`."""


class SigningKeyNotCheckable(Exception):
    """The `kid` is not in the cached set, and the set cannot be refetched now (cooldown,
    or the fetch failed): it may be a new key, so the caller should retry later."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"retry in {retry_after:.0f}s")
        self.retry_after = max(1, math.ceil(retry_after))


@dataclass
class _Entry:
    keys: dict[str, jwt.PyJWK] = field(default_factory=dict)
    fetched_at: float | None = None  # last successful fetch (monotonic)
    attempted_at: float | None = None  # last fetch attempt, successful or not
    kid_refetch_at: float | None = None  # last fetch caused by an unknown kid
    refreshing: bool = False  # a background refresh is under way
    lock: threading.Lock = field(default_factory=threading.Lock)


_entries: dict[str, _Entry] = {}
_entries_lock = threading.Lock()


def fetch_jwks(uri: str, *, timeout: float) -> dict:
    """GET a JWKS document. The one place this module leaves the process.

    `timeout` bounds the whole fetch (name lookup, connection, a server trickling its
    answer), not each read; redirects are refused (a key set URL is exact), and so are
    bodies over MAX_JWKS_BYTES.
    """
    parts = urlsplit(uri)
    host = parts.hostname or ""
    if parts.scheme == "https":
        context = ssl.create_default_context()
        conn: http.client.HTTPConnection = http.client.HTTPSConnection(
            host, parts.port, timeout=timeout, context=context
        )
    elif parts.scheme == "http" and host in LOOPBACK_HOSTS:
        conn = http.client.HTTPConnection(host, parts.port, timeout=timeout)
    else:
        raise ValueError("a key set URL must be https (http only on loopback hosts)")
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    outcome: dict[str, object] = {}

    def get() -> None:
        try:
            outcome["body"] = _get(conn, target)
        except Exception as exc:
            outcome["error"] = exc

    # The fetch runs in a short-lived thread so that the caller waits `timeout` at most,
    # whatever the server or the name lookup does; at the deadline the socket is shut,
    # which ends the thread's blocked read too.
    fetcher = threading.Thread(target=get, name="jwks-fetch", daemon=True)
    fetcher.start()
    fetcher.join(timeout)
    if fetcher.is_alive():
        _abort(conn)
        raise TimeoutError(f"the key set did not arrive within {timeout:g}s")
    conn.close()
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return json.loads(outcome["body"])  # type: ignore[arg-type]


def _get(conn: http.client.HTTPConnection, target: str) -> bytes:
    conn.request("GET", target, headers={"Accept": "application/json"})
    with conn.getresponse() as response:
        if response.status != 200:
            # Redirects included: following one could take the key set from anywhere.
            raise ValueError(f"the key set URL answered {response.status}")
        declared = response.getheader("Content-Length")
        if declared and declared.isdigit() and int(declared) > MAX_JWKS_BYTES:
            raise ValueError(f"key set larger than {MAX_JWKS_BYTES} bytes")
        body = response.read(MAX_JWKS_BYTES + 1)
    if len(body) > MAX_JWKS_BYTES:
        raise ValueError(f"key set larger than {MAX_JWKS_BYTES} bytes")
    return body


def _abort(conn: http.client.HTTPConnection) -> None:
    sock = conn.sock
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)  # wakes a thread blocked reading it
    conn.close()


def _signing_keys(document: dict) -> dict[str, jwt.PyJWK]:
    keys = {}
    for jwk in document.get("keys", []):
        if not isinstance(jwk, dict) or jwk.get("kty") != "RSA" or jwk.get("use", "sig") != "sig":
            continue
        kid = jwk.get("kid")
        if not isinstance(kid, str):
            continue
        try:
            keys[kid] = jwt.PyJWK(jwk, algorithm="RS256")
        except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError, TypeError):
            logger.warning("jwks.key_skipped kid=%s", kid)
    return keys


def _entry(uri: str) -> _Entry:
    with _entries_lock:
        return _entries.setdefault(uri, _Entry())


def _refresh(uri: str, entry: _Entry, now: float) -> bool:
    """Fetch the key set; on failure keep what we had (the caller holds entry.lock)."""
    entry.attempted_at = now
    try:
        keys = _signing_keys(fetch_jwks(uri, timeout=settings.JWKS_FETCH_TIMEOUT_SECONDS))
        if not keys:
            raise ValueError("no RSA signing keys in the key set")
    except Exception as exc:
        logger.warning(
            "jwks.fetch_failed uri=%s error=%s kept=%d", uri, type(exc).__name__, len(entry.keys)
        )
        return False
    entry.keys = keys
    entry.fetched_at = now
    logger.info("jwks.fetched uri=%s keys=%d", uri, len(keys))
    return True


def _in_background(work: Callable[[], None]) -> None:
    """Run `work` in a short-lived thread (tests replace this to run it at once)."""
    threading.Thread(target=work, name="jwks-refresh", daemon=True).start()


def _refresh_soon(uri: str, entry: _Entry, now: float) -> None:
    """Refresh an old key set in the background, once; the caller goes on with the old one."""
    cooldown = settings.JWKS_REFETCH_COOLDOWN_SECONDS
    if entry.attempted_at is not None and now - entry.attempted_at < cooldown:
        return  # the last attempt failed recently: do not hammer the endpoint
    with _entries_lock:
        if entry.refreshing:
            return
        entry.refreshing = True

    def refresh() -> None:
        try:
            with entry.lock:
                if _is_stale(entry, time.monotonic()):
                    _refresh(uri, entry, time.monotonic())
        finally:
            entry.refreshing = False

    _in_background(refresh)


def get_signing_key(uri: str, kid: str) -> jwt.PyJWK:
    """Return the key `kid` from the key set at `uri`, fetching only when needed.

    Raises KeySetUnavailable when there are no keys at all, SigningKeyNotCheckable when
    `kid` is unknown and the set cannot be refetched now, UnknownSigningKey when the
    freshly fetched set has no such key.
    """
    entry = _entry(uri)
    key = entry.keys.get(kid)
    if key is not None:
        now = time.monotonic()
        if _is_stale(entry, now):
            _refresh_soon(uri, entry, now)
        return key
    cooldown = settings.JWKS_REFETCH_COOLDOWN_SECONDS
    with entry.lock:
        # Re-read under the lock: another thread may have fetched meanwhile.
        now = time.monotonic()
        if not entry.keys:
            # With no keys at all we cannot serve anyone: retry sooner than the cooldown.
            wait = min(cooldown, COLD_RETRY_SECONDS)
            if entry.attempted_at is None or now - entry.attempted_at >= wait:
                _refresh(uri, entry, now)
            if not entry.keys:
                raise KeySetUnavailable(uri)
        elif kid not in entry.keys:
            # Keys rotate: an unknown kid may be a new key. Only the refetches it causes
            # count against the cooldown, so a rotation right after a fetch still works.
            since = None if entry.kid_refetch_at is None else now - entry.kid_refetch_at
            if since is not None and since < cooldown:
                raise SigningKeyNotCheckable(cooldown - since)
            entry.kid_refetch_at = now
            if not _refresh(uri, entry, now):
                raise SigningKeyNotCheckable(cooldown)
        key = entry.keys.get(kid)
    if key is None:
        raise UnknownSigningKey(kid)
    return key


def key_set_warm(uri: str) -> bool:
    """Fetch the key set at `uri` now unless a fresh one is cached (worker start)."""
    entry = _entry(uri)
    with entry.lock:
        now = time.monotonic()
        if entry.keys and not _is_stale(entry, now):
            return True
        return _refresh(uri, entry, now)


def _is_stale(entry: _Entry, now: float) -> bool:
    return entry.fetched_at is None or now - entry.fetched_at >= settings.JWKS_MAX_AGE_SECONDS


def clear_cache() -> None:
    """Forget every cached key set (tests, and after changing a connection's key set URL)."""
    with _entries_lock:
        _entries.clear()
