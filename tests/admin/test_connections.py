"""Connections in the console: validated forms, the webhook URL, and recent activity."""

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from integrations.models import Connection, Delivery
from tests.helpers import CONNECTIONS, TENANT_ID, Fire, count_queries, with_essentials

pytestmark = pytest.mark.django_db

ACTION_GROUP_APP = "461e8683-5575-4561-ac7f-899cc907d62a"


def valid(**changes: Any) -> dict[str, Any]:
    data = {
        "slug": "contoso-prod",
        "name": "",
        "enabled": "on",
        "tenant_id": TENANT_ID.upper(),
        "audiences": "api://itsm-contoso\n11111111-1111-1111-1111-111111111111",
        "allowed_app_ids": ACTION_GROUP_APP,
        "required_role": "ActionGroupsSecureWebhook",
        "jwks_uri": "",
        "allowed_subscriptions": "",
    }
    data.update(changes)
    return data


def test_superuser_creates_a_connection(superuser_client: Client) -> None:
    response = superuser_client.post(CONNECTIONS + "add/", valid())
    assert response.status_code == 302, response.content.decode()[:3000]
    connection = Connection.objects.get()
    assert connection.slug == connection.name == "contoso-prod"
    assert connection.tenant_id == TENANT_ID  # normalised to lower case
    assert connection.audiences == ["api://itsm-contoso", "11111111-1111-1111-1111-111111111111"]
    assert connection.allowed_app_ids == [ACTION_GROUP_APP]
    assert connection.required_role == "ActionGroupsSecureWebhook"
    assert connection.jwks_uri is None
    assert connection.allowed_subscriptions == []

    page = superuser_client.get(
        reverse("admin:integrations_connection_change", args=[connection.pk])
    )
    html = page.content.decode()
    url = "http://testserver/api/integrations/azure-monitor/contoso-prod/"
    assert f'value="{url}"' in html
    assert f'data-copy="{url}"' in html


def test_new_connection_form_offers_the_defaults(superuser_client: Client) -> None:
    html = superuser_client.get(CONNECTIONS + "add/").content.decode()
    assert ACTION_GROUP_APP in html
    assert 'value="ActionGroupsSecureWebhook"' in html
    assert "Shown once the connection is saved." in html


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("tenant_id", "not-a-guid", "&#x27;not-a-guid&#x27; is not a GUID"),
        ("allowed_app_ids", f"{ACTION_GROUP_APP}\nnope", "Line 2: &#x27;nope&#x27; is not a GUID."),
        ("allowed_subscriptions", "12345", "Line 1: &#x27;12345&#x27; is not a GUID."),
        ("jwks_uri", "http://keys.example.com/keys", "must be an https URL"),
        ("jwks_uri", "ftp://keys.example.com/keys", "Enter a valid URL."),
        ("audiences", "", "This field is required."),
        ("allowed_app_ids", "", "This field is required."),
        ("slug", "not a slug", "Enter a valid “slug”"),
    ],
)
def test_connection_form_checks_each_field(
    superuser_client: Client, field: str, value: str, error: str
) -> None:
    response = superuser_client.post(CONNECTIONS + "add/", valid(**{field: value}))
    assert response.status_code == 200
    assert error in response.content.decode()
    assert response.context["adminform"].form.errors.keys() == {field}
    assert not Connection.objects.exists()


def test_connection_form_accepts_loopback_keys_and_subscriptions(superuser_client: Client) -> None:
    sub = "AAAA0A0A-BB1B-CC2C-DD3D-EEEEEE4E4E4E"
    response = superuser_client.post(
        CONNECTIONS + "add/",
        valid(
            jwks_uri="http://127.0.0.1:8000/dev/jwks.json", allowed_subscriptions=f"{sub}, {sub}"
        ),
    )
    assert response.status_code == 302
    connection = Connection.objects.get()
    assert connection.jwks_uri == "http://127.0.0.1:8000/dev/jwks.json"
    assert connection.allowed_subscriptions == [sub.lower()]


def test_editing_keeps_the_slug_and_turns_the_role_check_off(
    superuser_client: Client, connection: Connection
) -> None:
    url = reverse("admin:integrations_connection_change", args=[connection.pk])
    assert "slug" not in superuser_client.get(url).context["adminform"].form.fields
    data = valid(required_role="", name="Contoso", enabled="")
    del data["slug"]
    data["jwks_uri"] = connection.jwks_uri
    response = superuser_client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:3000]
    connection.refresh_from_db()
    assert (connection.slug, connection.name, connection.enabled) == ("contoso", "Contoso", False)
    assert connection.required_role is None


def test_connection_list_shows_recent_activity(
    operator_client: Client, fire: Fire, post_alert: Any, connection: Connection
) -> None:
    fire("vm-1")
    fire("vm-2")
    post_alert(b"{not json")
    old = Delivery.objects.order_by("pk").first()
    Delivery.objects.filter(pk=old.pk).update(received_at=timezone.now() - timedelta(days=2))
    latest = Delivery.objects.order_by("-received_at").first()

    page = operator_client.get(CONNECTIONS)
    row = page.context["cl"].result_list[0]
    assert (row.accepted_count, row.refused_count) == (1, 1)
    assert row.last_delivery_at == latest.received_at
    html = page.content.decode()
    deliveries = f"/admin/integrations/delivery/?connection__id__exact={connection.pk}"
    accepted = f"{deliveries}&amp;result=accepted&amp;received=24h"
    refused = f"{deliveries}&amp;result=refused&amp;received=24h"
    assert f'<a href="{accepted}">1</a>' in html
    assert f'<a href="{refused}">1</a>' in html
    assert "http://testserver/api/integrations/azure-monitor/contoso/" in html

    listed = operator_client.get(accepted.replace("&amp;", "&"))
    assert listed.context["cl"].result_count == 1
    listed = operator_client.get(refused.replace("&amp;", "&"))
    assert [d.status_code for d in listed.context["cl"].result_list] == [400]


def test_connection_list_runs_a_constant_number_of_queries(
    operator_client: Client, fire: Fire, post_alert: Any
) -> None:
    fire("vm-1")
    few = count_queries(operator_client, CONNECTIONS)
    for n in range(4):
        Connection.objects.create(
            slug=f"c{n}", name=f"c{n}", tenant_id=TENANT_ID, audiences=["api://x"]
        )
        post_alert(
            with_essentials("azure/platform-metric-static-threshold-fired.json", alertId=f"a{n}")
        )
    assert count_queries(operator_client, CONNECTIONS) == few


def test_operators_and_viewers_only_view_connections(
    operator_client: Client, viewer_client: Client, connection: Connection
) -> None:
    url = reverse("admin:integrations_connection_change", args=[connection.pk])
    for client in (operator_client, viewer_client):
        assert client.get(CONNECTIONS).status_code == 200
        page = client.get(url)
        assert page.status_code == 200
        assert "http://testserver/api/integrations/azure-monitor/contoso/" in page.content.decode()
        assert client.post(url, valid()).status_code == 403
        assert client.get(CONNECTIONS + "add/").status_code == 403


def test_a_connection_with_deliveries_is_not_deleted(
    superuser_client: Client, fire: Fire, connection: Connection
) -> None:
    fire("vm-1")
    url = reverse("admin:integrations_connection_delete", args=[connection.pk])
    response = superuser_client.post(url, {"post": "yes"})
    assert response.status_code == 200
    assert "Cannot delete connection" in response.content.decode()  # alerts and deliveries
    assert Connection.objects.filter(pk=connection.pk).exists()


def test_an_unused_connection_is_deleted_through_the_service(superuser_client: Client) -> None:
    spare = Connection.objects.create(
        slug="spare", name="spare", tenant_id=TENANT_ID, audiences=["api://x"]
    )
    url = reverse("admin:integrations_connection_delete", args=[spare.pk])
    assert superuser_client.post(url, {"post": "yes"}).status_code == 302
    assert not Connection.objects.exists()


def test_bulk_delete_removes_only_unused_connections(
    superuser_client: Client, fire: Fire, connection: Connection
) -> None:
    fire("vm-1")
    spare = Connection.objects.create(
        slug="spare", name="spare", tenant_id=TENANT_ID, audiences=["api://x"]
    )
    response = superuser_client.post(
        CONNECTIONS,
        {"action": "delete_selected", "_selected_action": [spare.pk], "post": "yes"},
    )
    assert response.status_code == 302
    assert list(Connection.objects.values_list("slug", flat=True)) == ["contoso"]


def test_a_race_on_delete_is_reported(superuser_client: Client, monkeypatch: Any) -> None:
    from core.exceptions import ApplicationError
    from integrations import admin as integrations_admin

    def refuse(**kwargs: Any) -> None:
        raise ApplicationError("The connection 'spare' has deliveries and alerts on record.")

    monkeypatch.setattr(integrations_admin, "connection_delete", refuse)
    spare = Connection.objects.create(
        slug="spare", name="spare", tenant_id=TENANT_ID, audiences=["api://x"]
    )
    url = reverse("admin:integrations_connection_delete", args=[spare.pk])
    response = superuser_client.post(url, {"post": "yes"}, follow=True)
    shown = [str(m) for m in response.context["messages"]]
    assert "The connection 'spare' has deliveries and alerts on record." in shown
    assert Connection.objects.filter(pk=spare.pk).exists()
