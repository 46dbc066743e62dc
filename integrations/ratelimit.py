"""Rate limit on failed webhook requests, per client address, in this process.

Failures are bad or missing tokens, made-up key IDs and unknown slugs; the address is
the client's as core.clientaddr sees it through TRUSTED_PROXIES, so clients behind one
proxy are counted apart.

Only failures are counted and only failures are limited: past the limit a failing request
gets 429 (with Retry-After) instead of 401/403, so a scanner is told to back off, while a
valid Azure delivery from the same address is never held back (it does not fail).
"""

import threading
import time
from collections import OrderedDict, deque

from django.conf import settings

WINDOW_SECONDS = 60.0
MAX_ADDRESSES = 10_000  # bounded memory under a spray of addresses

_failures: OrderedDict[str, deque[float]] = OrderedDict()
_lock = threading.Lock()


def failure_record(address: str) -> float | None:
    """Count a failed authentication; return seconds to wait if the address is over the limit."""
    limit = settings.WEBHOOK_AUTH_FAILURES_PER_MINUTE
    if limit <= 0:
        return None
    now = time.monotonic()
    with _lock:
        hits = _failures.pop(address, None) or deque()
        while hits and now - hits[0] >= WINDOW_SECONDS:
            hits.popleft()
        hits.append(now)
        _failures[address] = hits  # most recently failing last
        while len(_failures) > MAX_ADDRESSES:
            _failures.popitem(last=False)
        if len(hits) <= limit:
            return None
        return WINDOW_SECONDS - (now - hits[0])


def failures_clear() -> None:
    with _lock:
        _failures.clear()
