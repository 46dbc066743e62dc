"""Only a database that cannot be reached counts as unavailable (the spool waits for it)."""

import sqlite3
from pathlib import Path

import psycopg
import psycopg.errors
import pytest
from django.db import DataError, IntegrityError, InterfaceError, InternalError, OperationalError

from core.database import database_unavailable


def _wrapped(django_class: type[Exception], driver: BaseException) -> Exception:
    """A Django exception caused by a driver's, as Django's DatabaseErrorWrapper raises it."""
    try:
        raise django_class(str(driver)) from driver
    except django_class as exc:
        return exc


@pytest.mark.parametrize(
    "sqlstate",
    [
        "08006",  # connection failure
        "08001",  # cannot establish the connection
        "57P01",  # admin shutdown
        "57P03",  # cannot connect now (starting up)
        "53300",  # too many connections
        "53100",  # disk full
        "40P01",  # deadlock: a retry succeeds
        "25006",  # read-only transaction: a standby after a failover
    ],
)
def test_database_unavailable_for_connection_level_sqlstates(sqlstate: str) -> None:
    driver = psycopg.errors.lookup(sqlstate)("server says no")
    django_class = InternalError if sqlstate.startswith("25") else OperationalError
    assert database_unavailable(_wrapped(django_class, driver))


@pytest.mark.parametrize(
    ("sqlstate", "django_class"),
    [
        ("54000", OperationalError),  # index row too large: a program limit
        ("57014", OperationalError),  # statement timeout
        ("22P05", DataError),  # \u0000 in jsonb
        ("22001", DataError),  # value too long
        ("23505", IntegrityError),
        ("42P01", OperationalError),  # no such table (a missing migration)
    ],
)
def test_database_unavailable_not_for_statement_errors(
    sqlstate: str, django_class: type[Exception]
) -> None:
    driver = psycopg.errors.lookup(sqlstate)("this statement fails")
    assert not database_unavailable(_wrapped(django_class, driver))


def test_database_unavailable_for_libpq_failures_without_sqlstate() -> None:
    refused = psycopg.OperationalError("connection failed: Connection refused")
    assert database_unavailable(_wrapped(OperationalError, refused))
    closed = psycopg.InterfaceError("the connection is closed")
    assert database_unavailable(_wrapped(InterfaceError, closed))
    assert not database_unavailable(
        _wrapped(DataError, psycopg.DataError("PostgreSQL text fields cannot contain NUL bytes"))
    )


def test_database_unavailable_for_a_locked_or_missing_sqlite_file(tmp_path: Path) -> None:
    with pytest.raises(sqlite3.OperationalError) as missing:
        sqlite3.connect(tmp_path / "no" / "such" / "folder.db")
    assert database_unavailable(_wrapped(OperationalError, missing.value))

    path = tmp_path / "busy.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN EXCLUSIVE")
    other = sqlite3.connect(path, timeout=0)
    with pytest.raises(sqlite3.OperationalError, match="locked") as locked:
        other.execute("SELECT * FROM t")
    holder.rollback()
    holder.close()
    other.close()
    assert database_unavailable(_wrapped(OperationalError, locked.value))


def test_database_unavailable_not_for_sqlite_statement_errors() -> None:
    db = sqlite3.connect(":memory:")
    with pytest.raises(sqlite3.OperationalError) as no_table:
        db.execute("SELECT * FROM nowhere")
    db.close()
    assert not database_unavailable(_wrapped(OperationalError, no_table.value))
    assert database_unavailable(
        _wrapped(OperationalError, sqlite3.OperationalError("disk I/O error"))
    )


def test_database_unavailable_only_for_database_errors() -> None:
    assert database_unavailable(OperationalError("could not connect to server"))  # no cause
    assert not database_unavailable(ValueError("a bug"))
    assert not database_unavailable(DataError("bad value"))
