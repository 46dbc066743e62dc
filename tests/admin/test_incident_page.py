"""The incident page: read-only Azure fields, edits through services, CIs, alerts, journal."""

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from incidents.models import Incident
from incidents.services import incident_add_work_note, incident_assign, incident_resolve
from integrations.models import Delivery
from tests.factories import AssignmentGroupFactory, IncidentFactory, UserFactory
from tests.helpers import STATIC, Fire, alert_id, with_essentials

pytestmark = pytest.mark.django_db


def change_url(incident: Incident) -> str:
    return reverse("admin:incidents_incident_change", args=[incident.pk])


def form_data(incident: Incident, **changes: Any) -> dict[str, Any]:
    """What the incident page posts when saved unchanged, with `changes`."""
    data = {
        "impact": incident.impact,
        "urgency": incident.urgency,
        "assignment_group": incident.assignment_group_id or "",
        "assigned_to": incident.assigned_to_id or "",
    }
    if not incident.alerts.exists():
        data |= {"title": incident.title, "description": incident.description}
    data.update(changes)
    return data


def test_incident_page_keeps_azure_fields_read_only(
    operator_client: Client, incident: Incident
) -> None:
    form = operator_client.get(change_url(incident)).context["adminform"].form
    assert set(form.fields) == {"impact", "urgency", "assignment_group", "assigned_to"}


def test_incident_page_lets_a_manual_incident_be_retitled(operator_client: Client) -> None:
    incident = IncidentFactory(title="Printer on fire")
    form = operator_client.get(change_url(incident)).context["adminform"].form
    assert {"title", "description"} <= set(form.fields)


def test_incident_page_of_a_closed_incident_is_a_record(
    operator_client: Client, incident: Incident
) -> None:
    from incidents.services import incident_close

    incident_resolve(incident=incident, actor="test", resolution_code="solved")
    incident_close(incident=incident, actor="test")
    page = operator_client.get(change_url(incident))
    assert set(page.context["adminform"].form.fields) == set()
    assert page.context["lifecycle_buttons"] == []
    assert page.context["note_form"] is not None  # notes may still be added


def test_incident_page_edit_goes_through_the_service(
    operator_client: Client, operator: Any, incident: Incident
) -> None:
    response = operator_client.post(change_url(incident), form_data(incident, impact=1))
    assert response.status_code == 302, response.content.decode()[:3000]
    incident.refresh_from_db()
    assert (incident.impact, incident.priority) == (1, 3)
    entry = incident.journal.get(kind="updated")
    assert entry.actor == operator
    assert entry.message == "Changed impact. Priority 5 → 3."


def test_incident_page_assignment_goes_through_the_service(
    operator_client: Client, operator: Any, incident: Incident
) -> None:
    alice = UserFactory(username="alice", is_staff=True)
    team = AssignmentGroupFactory(name="Storage")
    response = operator_client.post(
        change_url(incident), form_data(incident, assigned_to=alice.pk, assignment_group=team.pk)
    )
    assert response.status_code == 302
    incident.refresh_from_db()
    assert (incident.assigned_to, incident.assignment_group) == (alice, team)
    entry = incident.journal.get(kind="assigned")
    assert (entry.actor, entry.message) == (operator, "Assigned to alice (Storage).")
    assert not incident.journal.filter(kind="updated").exists()


def test_incident_page_keeps_an_assignee_who_is_not_staff(
    operator_client: Client, incident: Incident
) -> None:
    api_user = UserFactory(username="script", is_staff=False)
    incident_assign(incident=incident, actor="test", assigned_to=api_user, assignment_group=None)
    response = operator_client.post(change_url(incident), form_data(incident, urgency=1))
    assert response.status_code == 302
    incident.refresh_from_db()
    assert incident.assigned_to == api_user
    assert incident.urgency == 1


def test_incident_page_shows_cis_alerts_and_raw_deliveries(
    operator_client: Client, fire: Fire, post_alert: Any
) -> None:
    incident = fire("vm-web-1", "vm-web-2")
    alert = incident.alerts.get()
    resolved = with_essentials(
        STATIC,
        alertId=alert.alert_id,
        monitorCondition="Resolved",
        alertTargetIDs=alert.target_ids,
        resolvedDateTime=timezone.now().isoformat().replace("+00:00", "Z"),
    )
    assert post_alert(resolved).status_code == 200

    page = operator_client.get(change_url(incident)).content.decode()

    for ci in incident.configuration_items.all():
        assert reverse("admin:cmdb_configurationitem_change", args=[ci.pk]) in page
        assert ci.azure_resource_id in page
    assert '<span class="badge condition-resolved">Resolved</span>' in page
    for delivery in Delivery.objects.all():
        assert reverse("admin:integrations_delivery_change", args=[delivery.pk]) in page
    assert "Opened an incident" in page
    assert "Resolved the alert" in page
    assert 'href="https://portal.azure.com/#blade/Microsoft_Azure_Monitoring/' in page
    assert "Azure Monitor" in page  # the journal entry of the resolution
    assert "Resolved by source (Azure Monitor)" in page


def test_incident_page_has_no_portal_link_without_one(operator_client: Client, fire: Fire) -> None:
    incident = fire("vm-1", alertId="not-an-azure-alert-resource-id")
    page = operator_client.get(change_url(incident)).content.decode()
    assert "Open in the Azure portal" not in page


def test_incident_page_journal_is_newest_first(
    operator_client: Client, operator: Any, incident: Incident
) -> None:
    incident_add_work_note(incident=incident, actor=operator, message="first note")
    incident_add_work_note(incident=incident, actor=operator, message="second note")
    page = operator_client.get(change_url(incident))
    messages = [entry.message for entry in page.context["journal"]]
    assert messages[:2] == ["second note", "first note"]
    assert messages[-1].startswith("Opened from Azure Monitor alert")
    html = page.content.decode()
    assert html.index("second note") < html.index("first note")
    assert 'id="work-note-form"' in html


def test_incident_page_escapes_alert_text(operator_client: Client, fire: Fire) -> None:
    incident = fire(
        "vm-1",
        alertRule='<img src=x onerror="alert(1)">',
        description="<script>alert(2)</script>",
    )
    page = operator_client.get(change_url(incident)).content.decode()
    assert "<img src=x" not in page
    assert "<script>alert(2)" not in page
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in page
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in page


def test_incident_page_for_a_viewer_is_read_only(viewer_client: Client, incident: Incident) -> None:
    page = viewer_client.get(change_url(incident))
    html = page.content.decode()
    assert page.status_code == 200
    assert page.context["lifecycle_buttons"] == []
    assert page.context["note_form"] is None
    assert 'id="work-note-form"' not in html
    assert 'name="_save"' not in html
    assert "Delivery " in html  # still sees the raw deliveries
    refused = viewer_client.post(change_url(incident), form_data(incident, impact=1))
    assert refused.status_code == 403


def test_incident_page_query_count_is_bounded(
    operator_client: Client, fire: Fire, post_alert: Any, django_assert_max_num_queries: Any
) -> None:
    incident = fire("vm-1", "vm-2", "vm-3")
    for _ in range(3):
        post_alert(with_essentials(STATIC, alertId=incident.alerts.get().alert_id))
    with django_assert_max_num_queries(20):
        assert operator_client.get(change_url(incident)).status_code == 200


def test_first_alert_id_helper_is_unique() -> None:
    assert alert_id() != alert_id()
