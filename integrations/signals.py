"""Cache busting: a saved or deleted connection is re-read on the next delivery."""

from typing import Any

from .selectors import connection_cache_clear


def clear_connection_cache(**kwargs: Any) -> None:
    connection_cache_clear()
