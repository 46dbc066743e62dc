"""`?ordering=` says NULLS LAST only for a nullable field, so a NOT NULL one reads its index."""

import pytest
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from tests.helpers import results

pytestmark = pytest.mark.django_db


def _page_sql(client: APIClient, query: str) -> str:
    with CaptureQueriesContext(db_connection) as ctx:
        response = client.get(f"/api/incidents/?{query}")
    assert response.status_code == 200
    return next(q["sql"] for q in ctx.captured_queries if "ORDER BY" in q["sql"]).upper()


def test_ordering_not_null_field_has_no_nulls_last(viewer: APIClient, incidents: dict) -> None:
    assert "NULLS LAST" not in _page_sql(viewer, "ordering=-opened_at")
    assert "NULLS LAST" not in _page_sql(viewer, "ordering=priority")


def test_ordering_nullable_field_still_sorts_empty_values_last(
    viewer: APIClient, incidents: dict
) -> None:
    assert "NULLS LAST" in _page_sql(viewer, "ordering=-severity")
    for query in ("ordering=severity", "ordering=-severity"):
        severities = [i["severity"] for i in results(viewer.get(f"/api/incidents/?{query}"))]
        assert None in severities  # the budget alert has no severity
        assert severities[severities.index(None) :] == [None] * severities.count(None)
