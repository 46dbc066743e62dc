"""Migration operations the apps share."""

from typing import Any

from django.db import migrations

from core.search import joined_upper_sql


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


def joined_trigram_index(table: str, column: str, name: str) -> PostgresOnlySQL:
    """A GIN trigram index on UPPER(column) with Azure's name joiners turned into a letter.

    What `core.search.SearchContains` asks first (see there): `bench-rule-0` is then one
    word to pg_trgm, not the common words `bench`, `rule` and `0`.
    """
    expression = joined_upper_sql(f'"{column}"')
    return PostgresOnlySQL(
        f'CREATE INDEX IF NOT EXISTS "{name}" ON "{table}" USING gin (({expression}) gin_trgm_ops)',
        f'DROP INDEX IF EXISTS "{name}"',
    )
