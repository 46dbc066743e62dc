"""The read side's indexes: trigram ones on PostgreSQL only, the btree ones everywhere."""

import pytest
from django.db import connection as db_connection

from tests.helpers import is_postgres

pytestmark = pytest.mark.django_db

TRIGRAM_INDEXES = {
    "cmdb_ci_name_trgm",
    "cmdb_ci_resource_id_trgm",
    "incidents_number_trgm",
    "incidents_text_joined_trgm",
    "integrations_alert_rule_trgm",
    "integrations_alert_condition_trgm",
    "integrations_alert_tracking_upper",
}
BTREE_INDEXES = {
    "cmdb_ci_name_id",
    "incidents_priority_opened",
    "incidents_open_priority",
    "incidents_open_opened",
    "incidents_resolved_at",
    "integrations_alert_alert_id",
}


def _index_names() -> set[str]:
    # (Django's SQLite introspection trips over the incident's generated column.)
    sql = (
        "SELECT indexname FROM pg_indexes"
        if is_postgres()
        else "SELECT name FROM sqlite_master WHERE type = 'index'"
    )
    with db_connection.cursor() as cursor:
        cursor.execute(sql)
        return {row[0] for row in cursor.fetchall()}


def test_read_indexes_btree_exist_on_every_database() -> None:
    assert _index_names() >= BTREE_INDEXES


def test_read_indexes_trigram_exist_on_postgresql_only() -> None:
    if is_postgres():
        assert _index_names() >= TRIGRAM_INDEXES
        with db_connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")
            assert cursor.fetchone() is not None
    else:
        assert not TRIGRAM_INDEXES & _index_names()
