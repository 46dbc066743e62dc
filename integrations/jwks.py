"""Entra ID signing keys, cached per key-set URL in this process.

Once a key set is cached, validating a token makes no network call. A token whose `kid`
is not in the set causes a refetch (keys rotate), at most once per cooldown so a flood of
forged `kid`s cannot turn us into a load generator against Entra ID. A failed fetch keeps
the last good set. The cache is only a cache: every process builds its own.
"""

import json
import logging
import threading
import time
import urllib.request
from dataclasses import dataclass, field

import jwt
from django.conf import settings

logger = logging.getLogger(__name__)

MAX_JWKS_BYTES = 512 * 1024
COLD_RETRY_SECONDS = 10


class KeySetUnavailable(Exception):
    """No key set could be had at all (never fetched, and fetching fails)."""


class UnknownSigningKey(Exception):
    """The key set, even freshly fetched, has no key with this `kid`."""


@dataclass
class _Entry:
    keys: dict[str, jwt.PyJWK] = field(default_factory=dict)
    fetched_at: float | None = None  # last successful fetch (monotonic)
    attempted_at: float | None = None  # last fetch attempt, successful or not
    kid_refetch_at: float | None = None  # last fetch caused by an unknown kid
    lock: threading.Lock = field(default_factory=threading.Lock)


_entries: dict[str, _Entry] = {}
_entries_lock = threading.Lock()


def fetch_jwks(uri: str, *, timeout: float) -> dict:
    """GET a JWKS document. The one place this module leaves the process."""
    request = urllib.request.Request(uri, headers={"Accept": "application/json"})  # noqa: S310
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
        body = response.read(MAX_JWKS_BYTES + 1)
    if len(body) > MAX_JWKS_BYTES:
        raise ValueError(f"key set larger than {MAX_JWKS_BYTES} bytes")
    return json.loads(body)


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


def _refresh(uri: str, entry: _Entry, now: float) -> None:
    """Fetch the key set; on failure keep what we had (the caller holds entry.lock)."""
    entry.attempted_at = now
    try:
        keys = _signing_keys(fetch_jwks(uri, timeout=settings.JWKS_FETCH_TIMEOUT_SECONDS))
        if not keys:
            raise ValueError("no RSA signing keys in the key set")
    except Exception as exc:  # noqa: BLE001 - any failure means: keep the last good set
        logger.warning(
            "jwks.fetch_failed uri=%s error=%s kept=%d", uri, type(exc).__name__, len(entry.keys)
        )
        return
    entry.keys = keys
    entry.fetched_at = now
    logger.info("jwks.fetched uri=%s keys=%d", uri, len(keys))


def get_signing_key(uri: str, kid: str) -> jwt.PyJWK:
    """Return the key `kid` from the key set at `uri`, fetching only when needed.

    Raises KeySetUnavailable when there are no keys at all, UnknownSigningKey when the
    (possibly refreshed) set has no such key.
    """
    entry = _entry(uri)
    key = entry.keys.get(kid)
    if key is not None and not _is_stale(entry, time.monotonic()):
        return key
    cooldown = settings.JWKS_REFETCH_COOLDOWN_SECONDS
    with entry.lock:
        # Re-read under the lock: another thread may have fetched meanwhile.
        now = time.monotonic()
        if not entry.keys or _is_stale(entry, now):
            # With no keys at all we cannot serve anyone: retry sooner than the cooldown.
            wait = cooldown if entry.keys else min(cooldown, COLD_RETRY_SECONDS)
            if entry.attempted_at is None or now - entry.attempted_at >= wait:
                _refresh(uri, entry, now)
        elif kid not in entry.keys and (
            entry.kid_refetch_at is None or now - entry.kid_refetch_at >= cooldown
        ):
            # Keys rotate: an unknown kid may be a new key. Only the refetches it causes
            # count against the cooldown, so a rotation right after a fetch still works.
            entry.kid_refetch_at = now
            _refresh(uri, entry, now)
        if not entry.keys:
            raise KeySetUnavailable(uri)
        key = entry.keys.get(kid)
    if key is None:
        raise UnknownSigningKey(kid)
    return key


def _is_stale(entry: _Entry, now: float) -> bool:
    return entry.fetched_at is None or now - entry.fetched_at >= settings.JWKS_MAX_AGE_SECONDS


def clear_cache() -> None:
    """Forget every cached key set (tests, and after changing a connection's key set URL)."""
    with _entries_lock:
        _entries.clear()
