"""Connections (staff only): CRUD validated like `seed_connections`, the webhook URL."""

import io
import json
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from integrations.models import Connection
from integrations.validators import ConnectionSpecSerializer
from tests.helpers import STATIC, TENANT_ID, assert_constant_queries, fire, results

pytestmark = pytest.mark.django_db

FIELDS = {
    "slug", "name", "tenant_id", "audiences", "allowed_app_ids", "required_role", "jwks_uri",
    "allowed_subscriptions", "enabled", "auto_resolve_after_minutes", "flap_threshold",
    "flap_interval_minutes", "webhook_url",
    "last_delivery_at", "created_at",
    "updated_at",
}  # fmt: skip
SPEC = {"slug": "fabrikam", "tenant_id": TENANT_ID.upper(), "audiences": ["api://itsm-fab"]}


def test_connection_list_shows_webhook_url_and_last_delivery(
    staff: APIClient, connection: Connection, post_alert: Any
) -> None:
    Connection.objects.create(slug="quiet", name="q", tenant_id=TENANT_ID, audiences=["a"])
    fire(post_alert, STATIC, "/c/1")
    body = results(staff.get("/api/connections/"))
    assert [c["slug"] for c in body] == ["contoso", "quiet"]
    contoso, quiet = body
    assert set(contoso) == FIELDS
    assert contoso["webhook_url"] == "http://testserver/api/integrations/azure-monitor/contoso/"
    assert contoso["last_delivery_at"] is not None
    assert quiet["last_delivery_at"] is None
    assert staff.get("/api/connections/contoso/").json() == contoso
    assert staff.get("/api/connections/nope/").status_code == 404


def test_connection_list_ordering_and_query_count(staff: APIClient, post_alert: Any) -> None:
    Connection.objects.create(slug="b", name="z", tenant_id=TENANT_ID, audiences=["a"])

    def more() -> None:
        Connection.objects.create(slug="a", name="y", tenant_id=TENANT_ID, audiences=["a"])
        Connection.objects.create(slug="c", name="x", tenant_id=TENANT_ID, audiences=["a"])

    assert_constant_queries(staff, "/api/connections/", more)
    assert [c["slug"] for c in results(staff.get("/api/connections/?ordering=name"))] == [
        "c",
        "a",
        "b",
    ]
    page = staff.get("/api/connections/?page_size=2").json()
    assert (page["count"], len(page["results"])) == (3, 2)


def test_connection_create_applies_the_seed_defaults(superuser: APIClient) -> None:
    response = superuser.post("/api/connections/", SPEC, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body == {
        **body,
        "slug": "fabrikam",
        "name": "fabrikam",
        "tenant_id": TENANT_ID.lower(),
        "allowed_app_ids": ["461e8683-5575-4561-ac7f-899cc907d62a"],
        "required_role": "ActionGroupsSecureWebhook",
        "jwks_uri": None,
        "allowed_subscriptions": [],
        "enabled": True,
        "webhook_url": "http://testserver/api/integrations/azure-monitor/fabrikam/",
        "last_delivery_at": None,
    }
    again = superuser.post("/api/connections/", SPEC, format="json")
    assert again.status_code == 400
    assert "slug" in again.json()["errors"]


BAD_SPECS = [
    {**SPEC, "tenant_id": "not-a-guid"},
    {**SPEC, "audiences": []},
    {**SPEC, "enabled": "yes"},
    {**SPEC, "jwks_uri": "http://keys.example.com/"},
    {**SPEC, "allowed_subscriptions": ["x"]},
    {**SPEC, "colour": "blue"},
    {"tenant_id": TENANT_ID, "audiences": ["a"]},
    {**SPEC, "slug": "not a slug"},
]


@pytest.mark.parametrize("spec", BAD_SPECS)
def test_connection_create_validates_like_seed_connections(
    superuser: APIClient, spec: dict, tmp_path: Any
) -> None:
    """One validator: the API refuses what seed_connections refuses, with the same messages."""
    response = superuser.post("/api/connections/", spec, format="json")
    assert response.status_code == 400
    errors = response.json()["errors"]
    shared = ConnectionSpecSerializer(data=spec)
    assert not shared.is_valid()
    assert errors == json.loads(json.dumps(shared.errors))
    path = tmp_path / "connections.json"
    path.write_text(json.dumps([spec]))
    with pytest.raises(CommandError, match="Nothing was saved"):
        call_command("seed_connections", str(path), stdout=io.StringIO())
    assert not Connection.objects.filter(slug="fabrikam").exists()


def test_connection_create_refuses_a_body_that_is_not_an_object(superuser: APIClient) -> None:
    response = superuser.post("/api/connections/", [SPEC], format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == {"non_field_errors": ["must be a JSON object"]}


def test_connection_patch_merges_then_validates_the_whole(
    superuser: APIClient, connection: Connection
) -> None:
    url = "/api/connections/contoso/"
    body = superuser.patch(url, {"enabled": False, "required_role": None}, format="json").json()
    assert (body["enabled"], body["required_role"], body["audiences"]) == (
        False,
        None,
        connection.audiences,
    )
    assert body["jwks_uri"] == connection.jwks_uri  # kept
    response = superuser.patch(url, {"audiences": []}, format="json")
    assert response.status_code == 400
    assert "audiences" in response.json()["errors"]
    response = superuser.patch(url, {"slug": "renamed"}, format="json")
    assert response.status_code == 400
    assert "cannot be changed" in response.json()["errors"]["slug"][0]
    assert superuser.patch(url, {"slug": "contoso"}, format="json").status_code == 200
    response = superuser.patch(url, "nope", format="json")
    assert response.status_code == 400


def test_connection_put_replaces_with_defaults(
    superuser: APIClient, connection: Connection
) -> None:
    response = superuser.put(
        "/api/connections/contoso/",
        {"tenant_id": TENANT_ID, "audiences": ["api://new"], "name": "Contoso"},
        format="json",
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["audiences"], body["jwks_uri"], body["name"]) == (["api://new"], None, "Contoso")
    response = superuser.put("/api/connections/contoso/", {"tenant_id": TENANT_ID}, format="json")
    assert response.status_code == 400
    assert "audiences" in response.json()["errors"]


def test_connection_delete_only_when_unused(
    superuser: APIClient, connection: Connection, post_alert: Any
) -> None:
    Connection.objects.create(slug="spare", name="s", tenant_id=TENANT_ID, audiences=["a"])
    response = superuser.delete("/api/connections/spare/")
    assert response.status_code == 204
    assert not Connection.objects.filter(slug="spare").exists()
    fire(post_alert, STATIC, "/c/1")
    response = superuser.delete("/api/connections/contoso/")
    assert response.status_code == 409
    assert response.json()["code"] == "connection_in_use"
    assert "disable it instead" in response.json()["detail"]


def test_connection_writes_need_the_connection_permissions(
    staff: APIClient, connection: Connection
) -> None:
    """Staff operators read connections; changing them takes the model permissions."""
    assert staff.get("/api/connections/").status_code == 200
    assert staff.post("/api/connections/", SPEC, format="json").status_code == 403
    assert staff.patch("/api/connections/contoso/", {"enabled": False}).status_code == 403
    assert staff.delete("/api/connections/contoso/").status_code == 403
    assert Connection.objects.get(slug="contoso").enabled
