"""The OpenAPI document: valid, without warnings, and describing what the server does."""

import io
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.core.management import call_command
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def schema(django_db_blocker: Any) -> dict[str, Any]:
    with django_db_blocker.unblock():
        out = io.StringIO()
        call_command("spectacular", "--format", "openapi-json", stdout=out)
    return json.loads(out.getvalue())


def test_spectacular_validates_without_warnings(tmp_path: Path) -> None:
    """What CI runs: `manage.py spectacular --validate --fail-on-warn`."""
    target = tmp_path / "schema.yml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    assert yaml.safe_load(target.read_text())["openapi"].startswith("3.")


def test_schema_is_served_to_signed_in_users(viewer: APIClient) -> None:
    response = viewer.get("/api/schema/")
    assert response.status_code == 200
    assert b"/api/integrations/azure-monitor/{slug}/" in response.content
    as_json = viewer.get("/api/schema/?format=json")
    assert as_json.json()["info"]["title"] == "ITSM for Azure Monitor"


def test_every_api_operation_documents_its_errors(schema: dict) -> None:
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            codes = set(operation["responses"])
            if "azure-monitor" in path:
                assert codes >= {"200", "201", "202", "400", "401", "403", "404", "413", "415"}
                assert codes >= {"429", "503"}
                continue
            assert {"401", "403", "429"} <= codes, (method, path)
            if "{" in path:
                assert "404" in codes, (method, path)
            if "requestBody" in operation:
                assert {"400", "415"} <= codes, (method, path)
            for code in codes - {"200", "201", "204"}:
                ref = operation["responses"][code]["content"]["application/json"]["schema"]
                assert ref["$ref"].rsplit("/", 1)[1] in ("Error", "ValidationError")


def test_transitions_and_edits_document_409(schema: dict) -> None:
    paths = schema["paths"]
    for verb in ("assign", "start", "hold", "resolve", "close", "cancel", "reopen"):
        assert "409" in paths[f"/api/incidents/{{number}}/{verb}/"]["post"]["responses"]
    assert "409" in paths["/api/incidents/{number}/"]["patch"]["responses"]
    assert "409" in paths["/api/connections/{slug}/"]["delete"]["responses"]


def test_incident_list_documents_the_contract_filters(schema: dict) -> None:
    params = {p["name"] for p in schema["paths"]["/api/incidents/"]["get"]["parameters"]}
    assert params == {
        "state", "priority", "severity", "alert_id", "configuration_item", "connection",
        "alert_rule", "monitoring_service",
        "opened_after", "opened_before", "search", "ordering", "page", "page_size",
    }  # fmt: skip


def test_error_components_describe_the_error_body(schema: dict) -> None:
    components = schema["components"]["schemas"]
    assert components["Error"]["required"] == ["code", "detail"]
    assert "errors" in components["ValidationError"]["properties"]


def test_operation_ids_are_unique_and_readable(schema: dict) -> None:
    ids = [op["operationId"] for item in schema["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids))
    assert "incidents_resolve" in ids
    assert "deliveries_replay" in ids
