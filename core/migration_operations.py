"""Migration operations the apps share."""

from collections.abc import Sequence
from typing import Any

from django.db import migrations

from core.search import joined_text_sql, joined_upper_sql


class PostgresOnlySQL(migrations.RunSQL):
    """SQL that runs on PostgreSQL and does nothing elsewhere (SQLite in development).

    For what Django cannot declare portably: the pg_trgm extension and the trigram
    indexes the searches use (`UPPER(col) LIKE UPPER('%term%')` is what `icontains`
    becomes on PostgreSQL, so the indexes are on `UPPER(col)`).
    """

    def database_forwards(self, app_label: str, schema_editor: Any, *args: Any) -> None:
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, *args)

    def database_backwards(self, app_label: str, schema_editor: Any, *args: Any) -> None:
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, *args)


def trigram_index(table: str, column: str, name: str) -> PostgresOnlySQL:
    """A GIN trigram index on UPPER(column): what `column__icontains` can use."""
    return PostgresOnlySQL(
        f'CREATE INDEX IF NOT EXISTS "{name}" ON "{table}" '
        f'USING gin ((UPPER("{column}"::text)) gin_trgm_ops)',
        f'DROP INDEX IF EXISTS "{name}"',
    )


def joined_trigram_index(table: str, column: str | Sequence[str], name: str) -> PostgresOnlySQL:
    """A GIN trigram index on UPPER(column) with Azure's name joiners turned into a letter.

    What `core.search.JoinedContains` asks (see there): `bench-rule-0` is then one word to
    pg_trgm, not the common words `bench`, `rule` and `0`. Several columns: on their
    `core.search.JoinedText`, one index for a search of any of them.
    """
    columns = [column] if isinstance(column, str) else list(column)
    text = f'"{columns[0]}"' if len(columns) == 1 else joined_text_sql([f'"{c}"' for c in columns])
    expression = joined_upper_sql(text)
    return PostgresOnlySQL(
        f'CREATE INDEX IF NOT EXISTS "{name}" ON "{table}" USING gin (({expression}) gin_trgm_ops)',
        f'DROP INDEX IF EXISTS "{name}"',
    )


def reversed_sql(operation: migrations.RunSQL) -> migrations.RunSQL:
    """The operation run the other way round (an index dropped on the way up, made down)."""
    if operation.reverse_sql is None:
        raise ValueError("an irreversible operation has no other way round")
    return type(operation)(operation.reverse_sql, operation.sql)
