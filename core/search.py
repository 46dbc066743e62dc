"""A case-insensitive "contains" that a trigram index serves even for Azure's names.

pg_trgm splits text into words at every character that is not a letter or a digit, so
the trigrams of `bench-rule-0` or `vm-web-01` are those of `bench`, `rule` and `0`: words
that most incidents' titles and descriptions hold. Measured at 1,000,000 incidents, the
index then returned every row and PostgreSQL re-read them all (6.5 s). Azure's names are
joined by such characters (rules, resources, tracking IDs), so the index is built on the
text with them turned into a letter (`BENCHQRULEQ0`), and the search asks it first:

    translate(UPPER(col), '-_./:', 'QQQQQ') LIKE translate(UPPER('%term%'), ...)
    AND UPPER(col) LIKE UPPER('%term%')

The first condition follows from the second (the same characters are turned the same
way), so the rows found are exactly `col__icontains=term`'s; the first only lets the
index (core.migration_operations.joined_trigram_index) skip most rows (0.4 s). Other
databases (SQLite) run `icontains` alone. `contains_any` builds the search for several
fields, some of them through one index on their text together (`JoinedText`).
"""

from collections.abc import Sequence
from typing import Any

from django.db.models import F, Func, Lookup, Q, TextField
from django.db.models.lookups import IContains

# The characters that join the parts of Azure's names, and the letter they become.
JOINERS = "-_./:"
JOINED = "Q" * len(JOINERS)


def joined_upper_sql(column_sql: str) -> str:
    """The SQL of the indexed expression, for a column's SQL (the index and the query)."""
    return f"translate(UPPER({column_sql}::text), '{JOINERS}', '{JOINED}')"


# Between the fields of one joined index (JoinedText, the index's expression).
TEXT_JOINER = " || ' ' || "


def joined_text_sql(columns_sql: Sequence[str]) -> str:
    """Several NOT NULL text columns as one text, a space between each (index and query)."""
    return "(" + TEXT_JOINER.join(columns_sql) + ")"


class JoinedText(Func):
    """Fields (NOT NULL) as one text, space-separated: what one joined index covers.

    One index on the title and description together takes one trigram scan where two took
    two (40 ms each for a machine's name among 1,000,000 incidents, bench/README.md).
    """

    arg_joiner = TEXT_JOINER
    template = "(%(expressions)s)"
    output_field = TextField()


class JoinedContains(Lookup):
    """The condition the joined trigram index answers: implied by `lhs__icontains=rhs`.

    On PostgreSQL only the prefilter (`translate(UPPER(col), ...) LIKE ...`); on other
    databases `icontains` itself. Used as an expression: `Q(JoinedContains(F("title"), t))`.
    """

    lookup_name = "joined_contains"
    prepare_rhs = False

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        return compiler.compile(IContains(self.lhs, self.rhs))

    def as_postgresql(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        lhs_sql, lhs_params = compiler.compile(self.lhs)
        # Escaped as icontains escapes it: an escaped "_" becomes an escaped "Q", still
        # the one character it stood for.
        pattern = "%" + connection.ops.prep_for_like_query(self.rhs) + "%"
        return (
            f"{joined_upper_sql(lhs_sql)} LIKE translate(UPPER(%s), '{JOINERS}', '{JOINED}')",
            [*lhs_params, pattern],
        )


def contains_any(
    term: str, *, fields: Sequence[str], joined: Sequence[Sequence[str]], vendor: str
) -> Q:
    """The rows where any of `fields` contains `term`, as an OR of `icontains`.

    On PostgreSQL, what the indexes answer first and then the exact test, each an OR:
    `(prefilter OR ...) AND (icontains OR ...)`. Each group of `joined` fields has one
    joined trigram index (`JoinedContains` of their `JoinedText`); a field in no group is
    its own prefilter. As one OR of (prefilter AND icontains) per field, PostgreSQL
    evaluated both for every candidate twice (the bitmap's recheck, then the filter):
    180-275 ms instead of 90-105 for the 5,000 incidents of 1,000,000 whose description
    names a rule (bench/README.md). Other databases: the OR alone.
    """
    exact = Q()
    for name in fields:
        exact |= Q(**{f"{name}__icontains": term})
    if vendor != "postgresql":
        return exact
    grouped = {name for group in joined for name in group}
    indexed = Q()
    for group in joined:
        indexed |= Q(JoinedContains(JoinedText(*(F(name) for name in group)), term))
    for name in fields:
        if name not in grouped:
            indexed |= Q(**{f"{name}__icontains": term})
    return indexed & exact
