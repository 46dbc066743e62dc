"""INSERT statements for the webhook's hot path, built once per process and reused.

On this hardware the ORM spends ~0.3-0.6 ms of CPU compiling each statement, which is
more than a delivery's whole budget allows for the seven or eight it makes. These
helpers build the same portable SQL (PostgreSQL and SQLite 3.35+: multi-row VALUES,
ON CONFLICT, RETURNING) from the model's metadata, cache its text, and adapt values
with the fields' own `get_db_prep_save`, so types are handled exactly as the ORM does.
Everything else stays on the ORM.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from django.db import connection, models


@cache
def _insert_sql(
    model: type[models.Model],
    columns: tuple[str, ...],
    rows: int,
    on_conflict: str,
    returning: tuple[str, ...],
    vendor: str,
) -> str:
    qn = connection.ops.quote_name
    meta = model._meta
    cols = ", ".join(qn(meta.get_field(c).column) for c in columns)
    one_row = "(" + ", ".join(["%s"] * len(columns)) + ")"
    # Identifiers come from model metadata, values are always parameters.
    sql = f"INSERT INTO {qn(meta.db_table)} ({cols}) VALUES {', '.join([one_row] * rows)}"  # noqa: S608
    if on_conflict:
        sql += f" {on_conflict}"
    if returning:
        sql += " RETURNING " + ", ".join(qn(meta.get_field(c).column) for c in returning)
    return sql


@cache
def _fields(model: type[models.Model], columns: tuple[str, ...]) -> tuple[models.Field, ...]:
    return tuple(model._meta.get_field(c) for c in columns)


class Sql(str):
    """A SQL fragment given in place of a value (e.g. the id a CTE returned)."""


@dataclass(frozen=True, slots=True)
class Statement:
    sql: str
    params: list[Any]


def insert_values(
    model: type[models.Model],
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    on_conflict: str = "",
    returning: Sequence[str] = (),
) -> Statement:
    """INSERT .. VALUES of `rows` (values in `columns` order), adapted per field."""
    columns, returning = tuple(columns), tuple(returning)
    fields = _fields(model, columns)
    params: list[Any] = []
    for row in rows:
        params += [f.get_db_prep_save(v, connection) for f, v in zip(fields, row, strict=True)]
    sql = _insert_sql(model, columns, len(rows), on_conflict, returning, connection.vendor)
    return Statement(sql, params)


def insert_select(
    model: type[models.Model],
    columns: Sequence[str],
    items: Sequence[Any],
    *,
    source: str,
    source_params: Sequence[Any] = (),
    on_conflict: str = "",
    returning: Sequence[str] = (),
) -> Statement:
    """INSERT .. SELECT `items` FROM `source`: rows that depend on an earlier CTE's result.

    Each item is a Python value (adapted by its column's field) or a `Sql` fragment.
    """
    qn = connection.ops.quote_name
    fields = _fields(model, tuple(columns))
    select, params = [], []
    for field, item in zip(fields, items, strict=True):
        if isinstance(item, Sql):
            select.append(item)
        else:
            select.append("%s")
            params.append(field.get_db_prep_save(item, connection))
    cols = ", ".join(qn(f.column) for f in fields)
    sql = (
        f"INSERT INTO {qn(model._meta.db_table)} ({cols}) "  # noqa: S608 - identifiers only
        f"SELECT {', '.join(select)} FROM {source} {on_conflict}"
    ).rstrip()
    if returning:
        sql += " RETURNING " + ", ".join(qn(model._meta.get_field(c).column) for c in returning)
    return Statement(sql, [*params, *source_params])


def with_inserts(parts: Sequence[tuple[str, Statement]], *, final: Statement | str) -> Statement:
    """One statement: each part a named CTE (PostgreSQL runs INSERTs in CTEs), then `final`.

    Saves a round trip per part on the hot path; see `supports_insert_ctes`.
    """
    if isinstance(final, str):
        final = Statement(final, [])
    ctes = ", ".join(f"{name} AS ({part.sql})" for name, part in parts)
    params = [p for _, part in parts for p in part.params]
    return Statement(f"WITH {ctes} {final.sql}", [*params, *final.params])


def supports_insert_ctes() -> bool:
    """PostgreSQL runs INSERTs inside WITH; SQLite does not."""
    return connection.vendor == "postgresql"


def run(statement: Statement) -> list[tuple[Any, ...]]:
    """Execute a statement; return its rows (empty when it returns none)."""
    with connection.cursor() as cursor:
        cursor.execute(statement.sql, statement.params)
        return cursor.fetchall() if cursor.description else []


def insert_rows(
    model: type[models.Model],
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    on_conflict: str = "",
    returning: Sequence[str] = (),
) -> list[tuple[Any, ...]]:
    """INSERT `rows` (values in `columns` order); return the `returning` columns of each.

    `on_conflict` is appended as written (e.g. "ON CONFLICT (a, b) DO NOTHING"); rows
    skipped by DO NOTHING return nothing. Values are Python values, adapted per field.
    """
    if not rows:
        return []
    return run(insert_values(model, columns, rows, on_conflict=on_conflict, returning=returning))


def column(model: type[models.Model], field: str) -> str:
    """The quoted column of a model field, for the few hand-written statements."""
    return connection.ops.quote_name(model._meta.get_field(field).column)
