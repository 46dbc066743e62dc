"""The CI list's search re-checks its trigram candidates once, for the count and the page.

cmdb.admin.ConfigurationItemAdmin.get_search_results reads the CIs a search finds and
lists them by id (issue 12); past SEARCH_IDS_AT_MOST it keeps Django's search as is.
"""

from typing import cast

import pytest
from django.db import connection as db_connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from cmdb import admin as cmdb_admin
from cmdb.models import ConfigurationItem
from tests.factories import ConfigurationItemFactory
from tests.helpers import CIS

pytestmark = pytest.mark.django_db


@pytest.fixture
def named() -> set[str]:
    """Three CIs, two of them named with `vm-web`; the names of the two."""
    ConfigurationItemFactory(name="vm-db-01")
    return {
        cast(ConfigurationItem, ConfigurationItemFactory(name=name)).name
        for name in ("vm-web-01", "VM-WEB-02")
    }


def search(client: Client, term: str) -> tuple[set[str], int, int]:
    """The names listed, the count shown and how many queries asked LIKE."""
    with CaptureQueriesContext(db_connection) as ctx:
        response = client.get(CIS, {"q": term})
    assert response.status_code == 200
    cl = response.context["cl"]
    likes = sum("LIKE" in query["sql"] for query in ctx.captured_queries)
    return {ci.name for ci in cl.result_list}, cl.result_count, likes


def test_configuration_item_search_reads_the_matches_once(
    superuser_client: Client, named: set[str]
) -> None:
    assert search(superuser_client, "vm-web") == (named, 2, 1)


def test_configuration_item_search_keeps_django_search_past_the_bound(
    superuser_client: Client, named: set[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cmdb_admin, "SEARCH_IDS_AT_MOST", 1)
    names, count, likes = search(superuser_client, "vm-web")
    assert (names, count) == (named, 2)
    assert likes == 3  # the bounded read, the count, the page


def test_configuration_item_search_finds_nothing_for_no_match(
    superuser_client: Client, named: set[str]
) -> None:
    assert search(superuser_client, "nothing-like-this")[:2] == (set(), 0)
