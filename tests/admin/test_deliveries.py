"""The raw delivery log: read-only, escaped, constant queries, and replay by permission."""

from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.db import connection as db_connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from incidents.models import Incident
from integrations.models import Alert, Connection, Delivery
from tests.factories import UserFactory
from tests.helpers import (
    DELIVERIES,
    STATIC,
    Fire,
    count_queries,
    errors_of,
    messages_of,
    signed_in,
    with_essentials,
)

pytestmark = pytest.mark.django_db


def page_url(delivery: Delivery) -> str:
    return reverse("admin:integrations_delivery_change", args=[delivery.pk])


def replay(client: Client, *deliveries: Delivery) -> Any:
    return client.post(
        DELIVERIES,
        {"action": "replay_selected", "_selected_action": [d.pk for d in deliveries], "index": 0},
        follow=True,
    )


def test_delivery_list_shows_time_connection_caller_outcome_error_and_alert(
    operator_client: Client, incident: Incident, post_alert: Any
) -> None:
    post_alert(b"{nope")
    html = operator_client.get(DELIVERIES).content.decode()
    assert "contoso" in html
    assert "461e8683-5575-4561-ac7f-899cc907d62a" in html
    assert '<span class="badge outcome-accepted">Opened an incident</span>' in html
    assert '<span class="badge outcome-refused">Refused</span>' in html
    assert "not valid JSON" in html or "JSON" in html
    alert = incident.alerts.get()
    assert reverse("admin:integrations_alert_change", args=[alert.pk]) in html
    assert reverse("admin:incidents_incident_change", args=[incident.pk]) in html


def test_delivery_list_runs_a_constant_number_of_queries_without_bodies(
    operator_client: Client, fire: Fire, post_alert: Any
) -> None:
    fire("vm-1")
    few = count_queries(operator_client, DELIVERIES)
    for n in range(8):
        fire(f"vm-{n}")
        post_alert(b"{nope")
    with CaptureQueriesContext(db_connection) as ctx:
        operator_client.get(DELIVERIES)
    assert len(ctx.captured_queries) == few
    body = f'"{Delivery._meta.db_table}"."body"'
    assert not any(body in q["sql"] for q in ctx.captured_queries)


def test_delivery_page_is_read_only_and_escaped(
    operator_client: Client, post_alert: Any, connection: Connection
) -> None:
    payload = with_essentials(STATIC, alertRule="<script>alert(1)</script>")
    assert post_alert(payload).status_code == 201
    delivery = Delivery.objects.get()
    page = operator_client.get(page_url(delivery))
    html = page.content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&quot;alertRule&quot;: &quot;&lt;script&gt;alert(1)&lt;/script&gt;&quot;" in html
    assert '\n  "data": {' in html.replace("&quot;", '"')  # pretty-printed
    assert 'name="_save"' not in html
    assert operator_client.post(page_url(delivery), {}).status_code == 403
    assert operator_client.get(DELIVERIES + "add/").status_code == 403
    assert operator_client.get(page_url(delivery) + "../delete/").status_code == 403


def test_delivery_page_shows_a_body_that_is_not_json_as_received(
    operator_client: Client, post_alert: Any, connection: Connection
) -> None:
    post_alert(b"<b>not json</b>")
    html = operator_client.get(page_url(Delivery.objects.get())).content.decode()
    assert "&lt;b&gt;not json&lt;/b&gt;" in html


def test_operator_replays_a_delivery_from_the_list(
    operator_client: Client, operator: Any, incident: Incident
) -> None:
    original = Delivery.objects.get()
    response = replay(operator_client, original)
    assert f"Delivery {original.pk} replayed: duplicate, incident {incident.number}." in (
        messages_of(response)
    )
    copy = Delivery.objects.exclude(pk=original.pk).get()
    assert copy.replay_of == original
    assert Alert.objects.count() == Incident.objects.count() == 1
    entry = incident.journal.get(kind="source_update")
    assert entry.actor == operator
    html = operator_client.get(page_url(original)).content.decode()
    assert page_url(copy) in html  # "Replayed as"


def test_replay_applies_a_lost_resolution_once(
    operator_client: Client, incident: Incident, post_alert: Any
) -> None:
    alert = incident.alerts.get()
    resolved = with_essentials(
        STATIC, alertId=alert.alert_id, monitorCondition="Resolved", alertTargetIDs=alert.target_ids
    )
    post_alert(resolved)
    resolution = Delivery.objects.get(outcome="resolved")
    Incident.objects.update(state="new", resolved_at=None, resolution_code="")
    Alert.objects.update(monitor_condition="Fired", resolved_at=None)
    resolutions = incident.journal.filter(to_state="resolved").count()

    url = reverse("admin:integrations_delivery_replay", args=[resolution.pk])
    first = operator_client.post(url, follow=True)
    second = operator_client.post(url, follow=True)

    assert any("replayed: resolved" in m for m in messages_of(first))
    assert any("replayed: duplicate" in m for m in messages_of(second))
    incident.refresh_from_db()
    assert incident.state == "resolved"
    assert incident.journal.filter(to_state="resolved").count() == resolutions + 1


def test_replay_reports_a_body_that_cannot_be_processed(
    operator_client: Client, post_alert: Any, connection: Connection
) -> None:
    post_alert(b"{nope")
    refused = Delivery.objects.get()
    response = operator_client.post(
        reverse("admin:integrations_delivery_replay", args=[refused.pk]), follow=True
    )
    assert errors_of(response)[0].startswith(f"Delivery {refused.pk} cannot be replayed:")
    assert Delivery.objects.count() == 1


def test_replay_does_not_let_in_what_the_connection_refused(
    operator_client: Client, post_alert: Any, connection: Connection
) -> None:
    connection.allowed_subscriptions = ["11111111-2222-3333-4444-555555555555"]
    connection.save()
    assert post_alert(STATIC).status_code == 403
    refused = Delivery.objects.get()
    response = replay(operator_client, refused)
    assert errors_of(response) == [
        f"Delivery {refused.pk} was refused by the connection's policy (403) and is not replayed."
    ]
    assert not Incident.objects.exists()


def test_replay_button_only_for_those_allowed(
    operator_client: Client, viewer_client: Client, incident: Incident
) -> None:
    delivery = Delivery.objects.get()
    url = reverse("admin:integrations_delivery_replay", args=[delivery.pk])
    assert url in operator_client.get(page_url(delivery)).content.decode()
    assert operator_client.get(url).status_code == 405

    viewer_page = viewer_client.get(page_url(delivery)).content.decode()
    assert url not in viewer_page
    assert "replay_selected" not in viewer_client.get(DELIVERIES).content.decode()
    assert viewer_client.post(url).status_code == 403
    replay(viewer_client, delivery)
    assert Delivery.objects.count() == 1


def test_replay_needs_the_replay_permission_not_a_role(incident: Incident) -> None:
    delivery = Delivery.objects.get()
    user = UserFactory(username="auditor", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_delivery"))
    client = signed_in(user)
    url = reverse("admin:integrations_delivery_replay", args=[delivery.pk])
    assert client.post(url).status_code == 403
    user.user_permissions.add(Permission.objects.get(codename="replay_delivery"))
    client = signed_in(user)
    assert client.post(url).status_code == 302
    assert Delivery.objects.count() == 2


def test_alert_page_lists_its_deliveries(operator_client: Client, incident: Incident) -> None:
    alert = incident.alerts.get()
    html = operator_client.get(
        reverse("admin:integrations_alert_change", args=[alert.pk])
    ).content.decode()
    assert page_url(Delivery.objects.get()) in html
    assert "Open the alert" in html


def test_replay_of_an_unknown_delivery_is_not_found(operator_client: Client) -> None:
    url = reverse("admin:integrations_delivery_replay", args=[999999])
    assert operator_client.post(url).status_code == 404


def test_alert_without_a_portal_link(operator_client: Client, fire: Fire) -> None:
    incident = fire("vm-1", alertId="not-an-azure-alert-resource-id")
    alert = incident.alerts.get()
    html = operator_client.get(
        reverse("admin:integrations_alert_change", args=[alert.pk])
    ).content.decode()
    assert "Open the alert" not in html
