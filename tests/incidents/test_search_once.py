"""A search reads its id lists once for a list's count and its page (issue 12).

incidents.selectors.incident_matching runs the union of its three id lists when the
search is built and lists the incidents by those ids; as a subquery it ran twice, once
for the count and once for the page. Past SEARCH_IDS_AT_MOST it keeps the subquery.
"""

from typing import cast

import pytest
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext

from incidents import selectors
from incidents.models import Incident
from incidents.selectors import incident_search
from tests.factories import IncidentFactory
from tests.helpers import INCIDENTS, client_as, make_user, results, signed_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def titled() -> set[str]:
    """Two incidents titled with `vm-web-01`, one not; the numbers of the two."""
    IncidentFactory(title="Disk full on vm-db-01")
    titled = [IncidentFactory(title=f"High CPU {n} on vm-web-01") for n in (1, 2)]
    return {cast(Incident, incident).number for incident in titled}


def unions(ctx: CaptureQueriesContext) -> int:
    return sum("UNION" in query["sql"] for query in ctx.captured_queries)


def test_incident_list_search_runs_the_union_once(titled: set[str]) -> None:
    client = signed_in(make_user("staff"))
    with CaptureQueriesContext(db_connection) as ctx:
        response = client.get(INCIDENTS, {"q": "vm-web-01", "state": "all"})
    assert response.status_code == 200
    assert {i.number for i in response.context["cl"].result_list} == titled
    assert unions(ctx) == 1


def test_api_incident_search_runs_the_union_once(titled: set[str]) -> None:
    with CaptureQueriesContext(db_connection) as ctx:
        response = client_as("viewer").get("/api/incidents/", {"search": "VM-WEB-01"})
    assert response.json()["count"] == 2
    assert {i["number"] for i in results(response)} == titled
    assert unions(ctx) == 1


def test_incident_search_keeps_the_subquery_past_the_bound(
    titled: set[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(selectors, "SEARCH_IDS_AT_MOST", 1)
    found = incident_search(Incident.objects.all(), terms=["vm-web-01"])
    assert "UNION" in str(found.query)
    assert {i.number for i in found} == titled
    assert found.count() == 2


def test_incident_search_lists_the_ids_within_the_bound(titled: set[str]) -> None:
    found = incident_search(Incident.objects.all(), terms=["web", "HIGH CPU"])
    assert "UNION" not in str(found.query)
    assert {i.number for i in found} == titled
