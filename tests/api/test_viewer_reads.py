"""What a viewer may read, as README and docs/console.md say: a user made a viewer with
`grant_role` reads everything, in the console and the API, and changes nothing."""

import io
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client

from cmdb.models import ConfigurationItem
from integrations.models import Alert, Connection, Delivery
from tests.factories import UserFactory
from tests.helpers import client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def viewer_user(incidents: dict[str, str]) -> Any:
    user = UserFactory(username="vicky")
    call_command("grant_role", "vicky", "viewers", stdout=io.StringIO())
    user.refresh_from_db()
    return user


def test_viewer_reads_every_api_endpoint(
    viewer_user: Any, incidents: dict[str, str], connection: Connection
) -> None:
    client = client_for(viewer_user)
    number = incidents["vm"]
    ci = ConfigurationItem.objects.first().pk
    reads = [
        "/api/incidents/",
        f"/api/incidents/{number}/",
        f"/api/incidents/{number}/journal/",
        "/api/configuration-items/",
        f"/api/configuration-items/{ci}/",
        f"/api/configuration-items/{ci}/incidents/",
        "/api/alerts/",
        f"/api/alerts/{Alert.objects.first().pk}/",
        "/api/connections/",
        f"/api/connections/{connection.slug}/",
        "/api/deliveries/",
        f"/api/deliveries/{Delivery.objects.first().pk}/",
    ]
    for url in reads:
        assert client.get(url).status_code == 200, url
    assert "body" in client.get(f"/api/deliveries/{Delivery.objects.first().pk}/").json()


def test_viewer_changes_nothing_through_the_api(
    viewer_user: Any, incidents: dict[str, str]
) -> None:
    client = client_for(viewer_user)
    number = incidents["vm"]
    delivery = Delivery.objects.first().pk
    writes = [
        ("post", "/api/incidents/", {"title": "By hand"}),
        ("patch", f"/api/incidents/{number}/", {"title": "Renamed"}),
        ("post", f"/api/incidents/{number}/start/", None),
        ("post", f"/api/incidents/{number}/journal/", {"message": "Note"}),
        ("post", "/api/configuration-items/", {"name": "sw", "ci_class": "net/sw"}),
        ("patch", "/api/connections/contoso/", {"enabled": False}),
        ("post", f"/api/deliveries/{delivery}/replay/", None),
    ]
    for method, url, body in writes:
        assert getattr(client, method)(url, body, format="json").status_code == 403, url


def test_viewer_reads_every_console_list(viewer_user: Any) -> None:
    client = Client()
    client.force_login(viewer_user)
    for url in [
        "/admin/incidents/incident/",
        "/admin/incidents/assignmentgroup/",
        "/admin/cmdb/configurationitem/",
        "/admin/integrations/alert/",
        "/admin/integrations/connection/",
        "/admin/integrations/delivery/",
    ]:
        assert client.get(url).status_code == 200, url
    assert client.get("/admin/auth/user/").status_code == 403
