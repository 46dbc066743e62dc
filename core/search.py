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
databases (SQLite) run `icontains` alone.
"""

from typing import Any

from django.db.models import Lookup
from django.db.models.lookups import IContains

# The characters that join the parts of Azure's names, and the letter they become.
JOINERS = "-_./:"
JOINED = "Q" * len(JOINERS)


def joined_upper_sql(column_sql: str) -> str:
    """The SQL of the indexed expression, for a column's SQL (the index and the query)."""
    return f"translate(UPPER({column_sql}::text), '{JOINERS}', '{JOINED}')"


class SearchContains(Lookup):
    """`lhs__icontains=rhs`, with the prefilter the joined trigram index serves on PostgreSQL.

    Used as an expression: `Q(SearchContains(F("title"), term))`.
    """

    lookup_name = "search_contains"
    prepare_rhs = False

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        return compiler.compile(IContains(self.lhs, self.rhs))

    def as_postgresql(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        contains_sql, contains_params = compiler.compile(IContains(self.lhs, self.rhs))
        lhs_sql, lhs_params = compiler.compile(self.lhs)
        # Escaped as icontains escapes it: an escaped "_" becomes an escaped "Q", still
        # the one character it stood for.
        pattern = "%" + connection.ops.prep_for_like_query(self.rhs) + "%"
        prefilter = (
            f"{joined_upper_sql(lhs_sql)} LIKE translate(UPPER(%s), '{JOINERS}', '{JOINED}')"
        )
        return f"({prefilter} AND {contains_sql})", [*lhs_params, pattern, *contains_params]
