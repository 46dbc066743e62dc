"""The operators' console (first cut): pages render, actions go through the services."""

import pytest
from django.contrib.auth import get_user_model
from django.db import connection as db_connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from incidents.models import Incident
from integrations.models import Connection, Delivery
from tests.conftest import with_essentials
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(client: Client) -> Client:
    client.force_login(get_user_model().objects.create_superuser("op", "", "pw"))
    return client


@pytest.fixture
def incident(post_alert, connection) -> Incident:  # noqa: ANN001
    assert post_alert("azure/platform-metric-static-threshold-fired.json").status_code == 201
    return Incident.objects.get()


def test_admin_pages_render(operator: Client, incident: Incident, connection: Connection) -> None:
    delivery = Delivery.objects.get()
    for url in [
        "/admin/",
        "/admin/incidents/incident/",
        f"/admin/incidents/incident/{incident.pk}/change/",
        f"/admin/incidents/incident/?q={incident.number}",
        "/admin/cmdb/configurationitem/",
        "/admin/integrations/connection/",
        f"/admin/integrations/connection/{connection.pk}/change/",
        "/admin/integrations/delivery/",
        f"/admin/integrations/delivery/{delivery.pk}/change/",
        "/admin/integrations/alert/",
    ]:
        assert operator.get(url).status_code == 200, url


def test_admin_connection_page_shows_absolute_webhook_url(
    operator: Client, connection: Connection
) -> None:
    page = operator.get(f"/admin/integrations/connection/{connection.pk}/change/")
    assert b"http://testserver/api/integrations/azure-monitor/contoso/" in page.content


def test_admin_delivery_page_escapes_the_raw_body(operator: Client, post_alert, connection) -> None:  # noqa: ANN001
    payload = with_essentials(
        "azure/platform-metric-static-threshold-fired.json",
        alertRule="<script>alert(1)</script>",
    )
    assert post_alert(payload).status_code == 201
    delivery = Delivery.objects.get()
    page = operator.get(f"/admin/integrations/delivery/{delivery.pk}/change/").content
    assert b"<script>alert(1)</script>" not in page
    assert b"&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_admin_resolve_action_uses_the_service(operator: Client, incident: Incident) -> None:
    response = operator.post(
        "/admin/incidents/incident/",
        {"action": "resolve_selected", "_selected_action": [incident.pk]},
    )
    assert response.status_code == 302
    incident.refresh_from_db()
    assert (incident.state, incident.resolution_code) == ("resolved", "solved")
    entry = incident.journal.get(to_state="resolved")
    assert entry.actor.username == "op"


def test_admin_refused_transition_is_reported(operator: Client, incident: Incident) -> None:
    response = operator.post(
        "/admin/incidents/incident/",
        {"action": "close_selected", "_selected_action": [incident.pk]},
        follow=True,
    )
    assert b"cannot be moved to closed" in response.content
    incident.refresh_from_db()
    assert incident.state == "new"


def test_admin_assign_to_me_journals(operator: Client, incident: Incident) -> None:
    operator.post(
        "/admin/incidents/incident/",
        {"action": "assign_to_me", "_selected_action": [incident.pk]},
    )
    incident.refresh_from_db()
    assert incident.assigned_to.username == "op"
    assert incident.journal.filter(kind="assigned").exists()


def test_admin_change_form_assigns_through_the_service(
    operator: Client, incident: Incident
) -> None:
    user = UserFactory(username="alice")
    response = operator.post(
        f"/admin/incidents/incident/{incident.pk}/change/",
        {
            "assigned_to": user.pk,
            "assignment_group": "",
            "incidentconfigurationitem_set-TOTAL_FORMS": "1",
            "incidentconfigurationitem_set-INITIAL_FORMS": "1",
            "incidentconfigurationitem_set-0-id": incident.incidentconfigurationitem_set.get().pk,
            "incidentconfigurationitem_set-0-incident": incident.pk,
            "journal-TOTAL_FORMS": "1",
            "journal-INITIAL_FORMS": "1",
            "journal-0-id": incident.journal.get().pk,
            "journal-0-incident": incident.pk,
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    incident.refresh_from_db()
    assert incident.assigned_to == user
    assert "alice" in incident.journal.get(kind="assigned").message


def test_admin_incident_list_query_count_is_constant(
    operator: Client, post_alert, connection
) -> None:  # noqa: ANN001
    def count() -> int:
        with CaptureQueriesContext(db_connection) as ctx:
            assert operator.get("/admin/incidents/incident/").status_code == 200
        return len(ctx.captured_queries)

    post_alert(with_essentials("azure/resource-health-fired.json", alertId="/x/0"))
    few = count()
    for n in range(1, 6):
        post_alert(with_essentials("azure/resource-health-fired.json", alertId=f"/x/{n}"))
    assert count() == few


def test_admin_cannot_add_or_delete_incidents(operator: Client, incident: Incident) -> None:
    assert operator.get("/admin/incidents/incident/add/").status_code == 403
    assert operator.get(f"/admin/incidents/incident/{incident.pk}/delete/").status_code == 403
