"""A NUL character in a URL (path, query key or value) is a 400, never a 500.

PostgreSQL refuses NUL in text, so a NUL that reaches a filter or a search raises
DataError (a 500) there, while SQLite just finds nothing. One middleware answers every
such request 400 before any view runs; these tests hold each changelist of the console,
each list filter and search, and the API's list filters to it.
"""

from typing import Any

import pytest
from django.contrib import admin
from django.test import Client
from django.urls import reverse

from tests.factories import IncidentFactory, UserFactory
from tests.helpers import signed_in

pytestmark = pytest.mark.django_db

CHANGELISTS = [
    f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist"
    for model in admin.site._registry
]


@pytest.fixture
def root_client(db: None) -> Client:
    IncidentFactory()  # a row for the filters to meet
    return signed_in(UserFactory(username="root", is_staff=True, is_superuser=True))


def query_parameters(client: Client, url: str) -> list[str]:
    """Every parameter the changelist's filters, search and paging read."""
    response = client.get(url)
    assert response.status_code == 200, url
    changelist = response.context["cl"]
    names = {"q", "o", "p", "e"}
    for spec in changelist.filter_specs:
        names.update(spec.expected_parameters())
    hierarchy = changelist.model_admin.date_hierarchy
    if hierarchy:
        names.update(f"{hierarchy}__{part}" for part in ("year", "month", "day"))
    return sorted(names)


def test_every_admin_changelist_is_covered() -> None:
    # The app's own changelists are among them (and so are auth's, axes', tokens').
    assert {"admin:incidents_incident_changelist", "admin:cmdb_configurationitem_changelist"} <= (
        set(CHANGELISTS)
    )
    assert "admin:integrations_delivery_changelist" in CHANGELISTS


@pytest.mark.parametrize("name", CHANGELISTS)
def test_admin_changelist_answers_400_to_a_nul_in_any_parameter(
    root_client: Client, name: str
) -> None:
    url = reverse(name)
    for parameter in query_parameters(root_client, url):
        for value in ("%00", "vm%00web"):
            response = root_client.get(f"{url}?{parameter}={value}")
            assert response.status_code == 400, (parameter, value, response.status_code)
    assert root_client.get(f"{url}?x%00=1").status_code == 400  # in a name, too


def test_admin_nul_in_the_path_is_a_400(root_client: Client) -> None:
    assert root_client.get("/admin/incidents/incident/1%00/change/").status_code == 400


def test_admin_search_without_nul_still_searches(root_client: Client) -> None:
    response = root_client.get(reverse("admin:incidents_incident_changelist") + "?q=vm&state=all")
    assert response.status_code == 200


@pytest.mark.parametrize(
    "query",
    [
        "/api/incidents/?search=%00",
        "/api/incidents/?state=%00",
        "/api/incidents/?ordering=%00",
        "/api/incidents/?configuration_item=%00",
        "/api/configuration-items/?azure_resource_id=a%00b",
        "/api/deliveries/?alert_id=%00",
        "/api/incidents/?%00=1",
    ],
)
def test_api_answers_400_in_its_error_format_to_a_nul(query: str, root_client: Any) -> None:
    response = root_client.get(query)
    assert response.status_code == 400
    assert response.json() == {
        "detail": "The URL holds a NUL character (%00).",
        "code": "invalid",
    }
