"""A cursor for hand-written statements that PostgreSQL prepares once per connection.

The hot paths' statements (integrations.fastpath, cmdb.services) have fixed text built
once per process; prepared, PostgreSQL parses and plans each once per connection instead
of on every delivery (bench/README.md has the figures).
"""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from django.db import connection as db


class _PreparedCursor(psycopg.Cursor):
    """psycopg's server-side binding cursor, keeping its statement for Django's query log.

    Django reads the last statement from `_query`, which psycopg sets only for statements
    it does not prepare: here for all (the log shows `$1` placeholders, not values).
    """

    def _convert_query(self, query: Any, params: Any = None) -> Any:
        converted = super()._convert_query(query, params)
        self._query = converted
        return converted


@contextmanager
def prepared_cursor() -> Iterator[Any]:
    """Django's cursor; on PostgreSQL, bound server-side and prepared once per connection.

    Planning the alert lookup cost more than running it (about 0.4 ms of PostgreSQL's CPU
    of 0.47, and 0.08 ms prepared), and the parameters travel apart from the text instead
    of being quoted into it in Python. Django's wrapper is kept (health check, error
    mapping, query logging and counting) around one binding cursor per psycopg
    connection, kept for its life: a client cursor opened and closed per statement, as
    `connection.cursor()` does, cost 2 % of a worker's CPU per new alert. The ORM's own
    cursors stay client-side and never prepare: psycopg prepares only while
    `prepare_threshold` is set, here.
    """
    if db.vendor != "postgresql":
        with db.cursor() as cursor:
            yield cursor
        return
    # What connection.cursor() does, but with the kept cursor.
    db.close_if_health_check_failed()
    db.ensure_connection()
    raw = db.connection  # the psycopg connection Django opened
    binding: Any = getattr(db, _KEPT, None)  # Any: django-stubs want a CursorWrapper below
    if binding is None or binding.connection is not raw or binding.closed:
        binding = _PreparedCursor(raw)
        setattr(db, _KEPT, binding)  # on this thread's connection wrapper
    db.validate_thread_sharing()
    wrapped = db.make_debug_cursor(binding) if db.queries_logged else db.make_cursor(binding)
    raw.prepare_threshold = 0  # prepare at first use; read by server-side cursors only
    try:
        yield wrapped  # not closed on exit: the cursor is kept for the next statement
    finally:
        raw.prepare_threshold = None  # as Django sets it


# The attribute of Django's connection wrapper that keeps its binding cursor.
_KEPT = "_itsm_binding_cursor"
