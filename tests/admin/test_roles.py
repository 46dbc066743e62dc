"""Roles in the console: operators work incidents, viewers only look, other staff get nothing."""

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from cmdb.models import ConfigurationItem
from incidents.models import Incident
from integrations.models import Alert, Connection, Delivery

pytestmark = pytest.mark.django_db


@pytest.fixture
def pages(incident: Incident, connection: Connection) -> list[str]:
    """Every page of the console, with one object of each kind."""
    delivery, alert = Delivery.objects.get(), Alert.objects.get()
    ci = ConfigurationItem.objects.get()
    return [
        "/admin/",
        "/admin/incidents/incident/",
        reverse("admin:incidents_incident_change", args=[incident.pk]),
        "/admin/incidents/assignmentgroup/",
        "/admin/cmdb/configurationitem/",
        reverse("admin:cmdb_configurationitem_change", args=[ci.pk]),
        "/admin/integrations/connection/",
        reverse("admin:integrations_connection_change", args=[connection.pk]),
        "/admin/integrations/delivery/",
        reverse("admin:integrations_delivery_change", args=[delivery.pk]),
        "/admin/integrations/alert/",
        reverse("admin:integrations_alert_change", args=[alert.pk]),
    ]


@pytest.mark.parametrize("role", ["operator", "viewer", "superuser"])
def test_every_page_renders_for_every_role(request: Any, role: str, pages: list[str]) -> None:
    client = request.getfixturevalue(f"{role}_client")
    for url in pages:
        assert client.get(url).status_code == 200, url


def test_staff_without_a_role_gets_nothing(staff_client: Client, pages: list[str]) -> None:
    index = staff_client.get("/admin/")
    assert index.status_code == 200
    assert "You don’t have permission to view or edit anything." in index.content.decode()
    for url in pages[1:]:
        assert staff_client.get(url).status_code == 403, url


def test_viewer_gets_no_actions_and_no_save_buttons(
    viewer_client: Client, pages: list[str]
) -> None:
    for url in pages[1:]:
        html = viewer_client.get(url).content.decode()
        assert 'name="_save"' not in html, url
        assert 'name="action"' not in html, url
        assert "/add/" not in html.split('id="content"')[1], url


def test_operator_can_act_on_incidents_but_not_administer(
    operator_client: Client, incident: Incident, connection: Connection
) -> None:
    lists = operator_client.get("/admin/incidents/incident/").content.decode()
    assert 'value="resolve_selected"' in lists
    assert (
        'value="replay_selected"'
        in operator_client.get("/admin/integrations/delivery/").content.decode()
    )
    assert operator_client.get("/admin/auth/user/").status_code == 403
    assert operator_client.get("/admin/incidents/assignmentgroup/add/").status_code == 403
    assert operator_client.get("/admin/integrations/connection/add/").status_code == 403


def test_nobody_adds_or_deletes_incidents(superuser_client: Client, incident: Incident) -> None:
    assert superuser_client.get("/admin/incidents/incident/add/").status_code == 403
    url = reverse("admin:incidents_incident_delete", args=[incident.pk])
    assert superuser_client.get(url).status_code == 403
    assert (
        'value="delete_selected"'
        not in superuser_client.get("/admin/incidents/incident/").content.decode()
    )


def test_signed_out_users_are_sent_to_the_login_page(client: Client, incident: Incident) -> None:
    for url in (
        "/admin/incidents/incident/",
        reverse("admin:incidents_incident_lifecycle", args=[incident.pk, "start"]),
        reverse("admin:incidents_incident_note", args=[incident.pk]),
    ):
        response = client.post(url)
        assert response.status_code == 302
        assert response.url.startswith("/admin/login/")
    incident.refresh_from_db()
    assert incident.state == "new"
