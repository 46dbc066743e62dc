"""Cache busting: a saved or deleted connection is re-read on the next delivery."""

from typing import Any

from .correlation import rules_cache_clear
from .maintenance import windows_cache_clear
from .selectors import connection_cache_clear


def clear_connection_cache(**kwargs: Any) -> None:
    connection_cache_clear()


def clear_windows_cache(**kwargs: Any) -> None:
    """A maintenance window changed: this process reads the windows again at once."""
    windows_cache_clear()


def clear_rules_cache(**kwargs: Any) -> None:
    """A correlation rule changed: this process reads the rules again at once."""
    rules_cache_clear()
