"""A connection's flapping settings: seed_connections, the API and the console check them."""

import io
import json
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from rest_framework.test import APIClient

from integrations.models import Connection
from integrations.validators import ConnectionSpecSerializer
from tests.helpers import CONNECTIONS, TENANT_ID, client_as, make_staff, signed_in

pytestmark = pytest.mark.django_db

SPEC = {"slug": "fabrikam", "tenant_id": TENANT_ID, "audiences": ["api://itsm-fab"]}
BAD = [
    ("flap_threshold", 1),
    ("flap_threshold", 0),
    ("flap_threshold", 1001),
    ("flap_threshold", True),
    ("flap_threshold", None),
    ("flap_interval_minutes", 0),
    ("flap_interval_minutes", 10_081),
    ("flap_interval_minutes", "soon"),
]


@pytest.fixture
def superuser(db: None) -> APIClient:
    return client_as("superuser")


@pytest.fixture
def superuser_client(db: None) -> Client:
    return signed_in(make_staff("root", is_superuser=True))


def _seed(tmp_path: Any, *specs: dict[str, Any]) -> str:
    path = tmp_path / "connections.json"
    path.write_text(json.dumps(list(specs)))
    out = io.StringIO()
    call_command("seed_connections", str(path), stdout=out)
    return out.getvalue()


def test_connection_spec_flapping_defaults_are_3_and_60() -> None:
    spec = ConnectionSpecSerializer(data=SPEC)
    assert spec.is_valid(), spec.errors
    assert (
        spec.validated_data["flap_threshold"],
        spec.validated_data["flap_interval_minutes"],
    ) == (
        3,
        60,
    )


@pytest.mark.parametrize(("field", "value"), BAD)
def test_connection_spec_refuses_bad_flapping_settings(field: str, value: Any) -> None:
    spec = ConnectionSpecSerializer(data={**SPEC, field: value})
    assert not spec.is_valid()
    assert set(spec.errors) == {field}


def test_seed_connections_saves_the_flapping_settings(tmp_path: Any) -> None:
    _seed(tmp_path, {**SPEC, "flap_threshold": 5, "flap_interval_minutes": 30})
    saved = Connection.objects.get(slug="fabrikam")
    assert (saved.flap_threshold, saved.flap_interval_minutes) == (5, 30)

    assert "unchanged" in _seed(
        tmp_path, {**SPEC, "flap_threshold": 5, "flap_interval_minutes": 30}
    )
    _seed(tmp_path, {**SPEC, "flap_threshold": 4, "flap_interval_minutes": 30})
    assert Connection.objects.get(slug="fabrikam").flap_threshold == 4


def test_seed_connections_refuses_a_bad_flapping_setting(tmp_path: Any) -> None:
    with pytest.raises(CommandError, match="Nothing was saved"):
        _seed(tmp_path, {**SPEC, "flap_threshold": 1})
    assert not Connection.objects.exists()


def test_connection_api_shows_and_changes_the_flapping_settings(
    superuser: APIClient, connection: Connection
) -> None:
    url = "/api/connections/contoso/"
    body = superuser.get(url).json()
    assert (body["flap_threshold"], body["flap_interval_minutes"]) == (3, 60)

    body = superuser.patch(url, {"flap_threshold": 2, "flap_interval_minutes": 15}, format="json")
    assert body.status_code == 200, body.json()
    assert (body.json()["flap_threshold"], body.json()["flap_interval_minutes"]) == (2, 15)
    connection.refresh_from_db()
    assert (connection.flap_threshold, connection.flap_interval_minutes) == (2, 15)


@pytest.mark.parametrize(("field", "value"), BAD)
def test_connection_api_refuses_bad_flapping_settings(
    superuser: APIClient, connection: Connection, field: str, value: Any
) -> None:
    response = superuser.patch("/api/connections/contoso/", {field: value}, format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"]
    connection.refresh_from_db()
    assert (connection.flap_threshold, connection.flap_interval_minutes) == (3, 60)


def _console_data(**changes: Any) -> dict[str, Any]:
    return {
        "slug": "contoso-prod",
        "name": "",
        "enabled": "on",
        "tenant_id": TENANT_ID,
        "audiences": "api://itsm-contoso",
        "allowed_app_ids": "461e8683-5575-4561-ac7f-899cc907d62a",
        "required_role": "ActionGroupsSecureWebhook",
        "jwks_uri": "",
        "allowed_subscriptions": "",
        **changes,
    }


def test_console_connection_form_offers_and_saves_the_flapping_settings(
    superuser_client: Client,
) -> None:
    html = superuser_client.get(CONNECTIONS + "add/").content.decode()
    assert 'name="flap_threshold"' in html
    assert 'name="flap_interval_minutes"' in html

    data = _console_data(flap_threshold="4", flap_interval_minutes="20")
    response = superuser_client.post(CONNECTIONS + "add/", data)
    assert response.status_code == 302, response.content.decode()[:3000]
    saved = Connection.objects.get()
    assert (saved.flap_threshold, saved.flap_interval_minutes) == (4, 20)


def test_console_connection_form_defaults_left_out_flapping_settings(
    superuser_client: Client,
) -> None:
    response = superuser_client.post(CONNECTIONS + "add/", _console_data())
    assert response.status_code == 302, response.content.decode()[:3000]
    saved = Connection.objects.get()
    assert (saved.flap_threshold, saved.flap_interval_minutes) == (3, 60)


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("flap_threshold", "1", "greater than or equal to 2"),
        ("flap_interval_minutes", "0", "greater than or equal to 1"),
        ("flap_threshold", "many", "Enter a whole number."),
    ],
)
def test_console_connection_form_refuses_bad_flapping_settings(
    superuser_client: Client, field: str, value: str, error: str
) -> None:
    response = superuser_client.post(CONNECTIONS + "add/", _console_data(**{field: value}))
    assert response.status_code == 200
    assert error in response.content.decode()
    assert not Connection.objects.exists()
