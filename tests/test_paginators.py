"""The paginators of large lists: the API's deep pages read from the end, console estimates."""

import pytest
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext

from cmdb.models import ConfigurationItem
from core import paginator as console_paginator
from core.api import EndReadingPaginator
from core.paginator import EstimatedCountPaginator
from tests.factories import ConfigurationItemFactory
from tests.helpers import is_postgres

pytestmark = pytest.mark.django_db


@pytest.fixture
def items() -> None:
    # Names that tie, so the order's tie-breaker (pk) matters.
    for i in range(7):
        ConfigurationItemFactory(name=f"vm-{i // 2}", resource_group=f"rg-{i}")


def test_end_reading_paginator_pages_match_reading_forward(items: None) -> None:
    rows = ConfigurationItem.objects.order_by("name", "pk")
    forward = list(rows.values_list("pk", flat=True))
    paginator = EndReadingPaginator(rows, 2)
    pages = [[ci.pk for ci in paginator.page(n)] for n in paginator.page_range]
    assert [pk for page in pages for pk in page] == forward
    assert pages[-1] == forward[6:]


def test_end_reading_paginator_reads_the_last_page_in_reverse(items: None) -> None:
    paginator = EndReadingPaginator(ConfigurationItem.objects.order_by("name", "pk"), 2)
    paginator.count  # noqa: B018 - counted before, so only the page's query is captured
    with CaptureQueriesContext(db_connection) as ctx:
        list(paginator.page(paginator.num_pages))
    (sql,) = [q["sql"] for q in ctx.captured_queries]
    assert "DESC" in sql
    assert "OFFSET" not in sql


def test_estimated_count_paginator_counts_small_and_filtered_lists_exactly(items: None) -> None:
    assert EstimatedCountPaginator(ConfigurationItem.objects.all(), 50).count == 7
    filtered = ConfigurationItem.objects.filter(name="vm-0")
    assert EstimatedCountPaginator(filtered, 50).count == 2


def test_estimated_count_paginator_estimates_a_large_unfiltered_table(
    items: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not is_postgres():
        pytest.skip("the estimate is PostgreSQL's (pg_class.reltuples)")
    with db_connection.cursor() as cursor:
        cursor.execute("ANALYZE cmdb_configurationitem")
    ConfigurationItemFactory(name="vm-new")  # not in the estimate yet
    monkeypatch.setattr(console_paginator, "ESTIMATE_FROM_ROWS", 1)
    assert EstimatedCountPaginator(ConfigurationItem.objects.all(), 50).count == 7
    filtered = ConfigurationItem.objects.filter(name__startswith="vm-")
    assert EstimatedCountPaginator(filtered, 50).count == 8
