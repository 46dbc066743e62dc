"""Tell a database that cannot be reached from a statement that cannot succeed.

The webhook keeps a delivery in its spool (202) only when the database is unavailable: the
same statements would succeed later, unchanged. Anything else (bad data, a program limit
such as an index row that is too large, a bug) fails again on every try, so it is refused
with a clear error instead, and the spool never waits on it.
"""

import sqlite3

import psycopg
from django.db import DatabaseError, InterfaceError, OperationalError

# SQLSTATE classes and codes that say "not now", never "not this statement":
# 08 connection exception, 57P0x shutdown / cannot connect now / database dropped / idle
# session timeout, 53 insufficient resources (disk full, out of memory, too many
# connections), 58 system error (I/O), 40 transaction rollback (serialization failure,
# deadlock: a retry succeeds), 25006 read-only transaction (a standby after a failover),
# 55P03 lock not available. Not 57014 (statement timeout): our statements are small, so
# a timeout is a fault to look at, and a spooled file that always times out would block
# the drain. See https://www.postgresql.org/docs/current/errcodes-appendix.html
_PG_UNAVAILABLE_PREFIXES = ("08", "57P", "53", "58", "40", "25006", "55P03")

# SQLite primary result codes for a database that is busy, locked, unreadable or full
# (https://www.sqlite.org/rescode.html); SQLITE_ERROR (no such table...), TOOBIG,
# CONSTRAINT and MISMATCH are about the statement.
_SQLITE_UNAVAILABLE = {
    5,  # SQLITE_BUSY: database is locked
    6,  # SQLITE_LOCKED: database table is locked
    7,  # SQLITE_NOMEM
    8,  # SQLITE_READONLY: the file cannot be written
    10,  # SQLITE_IOERR: disk I/O error
    11,  # SQLITE_CORRUPT: the file is damaged (every write fails until it is repaired)
    13,  # SQLITE_FULL: database or disk is full
    14,  # SQLITE_CANTOPEN: unable to open database file
    15,  # SQLITE_PROTOCOL: locking protocol
}
_SQLITE_UNAVAILABLE_MESSAGES = (
    "database is locked",
    "database table is locked",
    "unable to open database",
    "disk i/o error",
    "database or disk is full",
    "readonly database",
)


def database_unavailable(exc: BaseException) -> bool:
    """Whether `exc` means the database cannot be reached now (retry later, unchanged).

    Django wraps the driver's exception; the driver's (psycopg or sqlite3) is its cause
    and carries the SQLSTATE or result code. A Django OperationalError or InterfaceError
    without a driver cause counts as unavailable (nothing says the statement is at fault).
    """
    if isinstance(exc, psycopg.Error | sqlite3.Error):
        driver: BaseException | None = exc
    elif isinstance(exc, DatabaseError | InterfaceError):
        driver = exc.__cause__
    else:
        return False  # not the database's: a refusal, a bug
    if isinstance(driver, psycopg.Error):
        if isinstance(driver, psycopg.InterfaceError):
            return True  # the connection is closed or lost
        sqlstate = driver.sqlstate
        if sqlstate is None:
            # libpq's own failures (refused, reset, server closed the connection) carry no
            # SQLSTATE; errors the server reports always do.
            return isinstance(driver, psycopg.OperationalError)
        return sqlstate.startswith(_PG_UNAVAILABLE_PREFIXES)
    if isinstance(driver, sqlite3.Error):
        code = getattr(driver, "sqlite_errorcode", None)
        if code is not None:
            return code & 0xFF in _SQLITE_UNAVAILABLE
        message = str(driver).lower()
        return any(m in message for m in _SQLITE_UNAVAILABLE_MESSAGES)
    return isinstance(exc, OperationalError | InterfaceError)
