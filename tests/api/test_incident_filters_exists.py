"""The API's alert and CI filters match with EXISTS: no DISTINCT over the incident list.

DISTINCT over a join sorted or hashed every incident of the list (every column of each)
to answer a page, and its count counted them again; EXISTS lets each query stop at the
page. An incident with two matching alerts or links is listed once either way.
"""

import pytest
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from incidents.models import Incident
from integrations.models import Alert
from tests.helpers import VM_ID, results

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "query", ["alert_id=/a/1", "connection=contoso", f"configuration_item={VM_ID}"]
)
def test_incident_list_filter_by_alert_or_ci_uses_no_distinct(
    viewer: APIClient, incidents: dict, query: str
) -> None:
    vm = Incident.objects.get(number=incidents["vm"])
    # A second alert of the same connection on the same incident: still listed once.
    second = Alert.objects.filter(incident=vm).first()
    assert second is not None
    second.pk, second.alert_id = None, "/a/1-copy"
    second.save()
    with CaptureQueriesContext(db_connection) as ctx:
        response = viewer.get(f"/api/incidents/?{query}")
    assert response.status_code == 200
    numbers = [i["number"] for i in results(response)]
    assert numbers.count(incidents["vm"]) == 1
    assert response.json()["count"] == len(numbers)
    assert not [q["sql"] for q in ctx.captured_queries if "DISTINCT" in q["sql"].upper()]
