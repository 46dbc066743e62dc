"""The console lists' paginator: no count of a million rows to show a page of 50."""

from functools import cached_property

from django.core.paginator import Paginator
from django.db import connections
from django.db.models import QuerySet

# Below this many rows (PostgreSQL's estimate) the list counts exactly: it is cheap, and
# a small table's estimate can be stale.
ESTIMATE_FROM_ROWS = 50_000


def estimated_row_count(queryset: QuerySet) -> int | None:
    """PostgreSQL's estimate of the rows of an unfiltered queryset's table, else None.

    None when the queryset filters (or its database is not PostgreSQL, or the table was
    never analysed): only the whole table has an estimate, kept by autovacuum.
    """
    if queryset.query.where or queryset.query.distinct or queryset.query.is_sliced:
        return None
    connection = connections[queryset.db]
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT reltuples::bigint FROM pg_class WHERE oid = to_regclass(%s)",
            [connection.ops.quote_name(queryset.model._meta.db_table)],
        )
        row = cursor.fetchone()
    return int(row[0]) if row and row[0] >= 0 else None


class EstimatedCountPaginator(Paginator):
    """Counts exactly, except an unfiltered list of a large table: that takes the estimate.

    Measured at 100,000 incidents: counting every row was most of the unfiltered lists'
    time (and at a million, a second or more); the estimate is read from pg_class.
    """

    @cached_property
    def count(self) -> int:
        if isinstance(self.object_list, QuerySet):
            estimate = estimated_row_count(self.object_list)
            if estimate is not None and estimate >= ESTIMATE_FROM_ROWS:
                return estimate
        return super().count
