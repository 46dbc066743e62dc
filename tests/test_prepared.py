"""Hand-written hot-path statements are prepared once per connection (core.prepared)."""

import pytest
from django.db import connection as db
from django.test.utils import CaptureQueriesContext

from core.prepared import prepared_cursor
from incidents.models import Incident
from tests.helpers import is_postgres

STATEMENT = "SELECT %s::int + 1"


@pytest.fixture(autouse=True)
def _postgres_only() -> None:
    if not is_postgres():
        pytest.skip("PostgreSQL only: elsewhere prepared_cursor is Django's cursor")


def _prepared(text: str) -> int:
    """How many of this connection's prepared statements have this text ($n placeholders)."""
    with db.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE statement = %s", [text])
        return int(cursor.fetchone()[0])


@pytest.mark.django_db
def test_prepared_cursor_prepares_a_statement_once_and_orm_statements_never() -> None:
    for n in range(3):
        with prepared_cursor() as cursor:
            cursor.execute(STATEMENT, [n])
            assert cursor.fetchone() == (n + 1,)
    Incident.objects.filter(number="INC0").exists()
    Incident.objects.filter(number="INC0").exists()

    assert _prepared("SELECT $1::int + 1") == 1
    with db.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        texts = [text for (text,) in cursor.fetchall()]
    assert not [t for t in texts if "incidents_incident" in t]  # the ORM's stay client-side


@pytest.mark.django_db(transaction=True)
def test_prepared_cursor_follows_the_connection_when_django_reopens_it() -> None:
    with prepared_cursor() as cursor:
        cursor.execute(STATEMENT, [1])
    db.close()  # CONN_MAX_AGE reached, or a failed health check

    with prepared_cursor() as cursor:
        cursor.execute(STATEMENT, [2])
        assert cursor.fetchone() == (3,)
    assert _prepared("SELECT $1::int + 1") == 1  # prepared again on the new connection


@pytest.mark.django_db
def test_prepared_cursor_statements_are_logged_and_counted() -> None:
    with CaptureQueriesContext(db) as queries, prepared_cursor() as cursor:
        cursor.execute(STATEMENT, [5])
    assert [q["sql"] for q in queries.captured_queries] == ["SELECT $1::int + 1"]
