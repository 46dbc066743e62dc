"""The CI list's `has_open_incidents` is a per-row lookup, not an EXISTS PostgreSQL hashes.

Measured at 1,000,000 incidents: EXISTS became a hash of every CI with an open incident
(a scan of a million links, 0.45 s) for a page of 50; the scalar subquery reads the
page's rows only (0.01 s). The values are in tests/api/test_configuration_items.py.
"""

import pytest
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


def test_configuration_item_list_open_flag_is_no_exists(viewer: APIClient, incidents: dict) -> None:
    with CaptureQueriesContext(db_connection) as ctx:
        response = viewer.get("/api/configuration-items/")
    assert response.status_code == 200
    assert any(ci["has_open_incidents"] for ci in response.json()["results"])
    page = [q["sql"] for q in ctx.captured_queries if "ORDER BY" in q["sql"]]
    assert page
    assert not [sql for sql in page if "EXISTS" in sql.upper()]
