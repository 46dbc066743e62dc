"""Configuration items in the console: browse, a CI's incidents, edits through services."""

from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cmdb.models import ConfigurationItem
from incidents.services import incident_resolve
from tests.factories import ConfigurationItemFactory
from tests.helpers import CIS, Fire, count_queries, is_postgres, vm_id

pytestmark = pytest.mark.django_db


def names(response: Any) -> set[str]:
    return {ci.name for ci in response.context["cl"].result_list}


def test_ci_list_by_class_subscription_and_resource_group(operator_client: Client) -> None:
    ConfigurationItemFactory(name="vm-a", resource_group="rg-web")
    ConfigurationItemFactory(
        name="db-a", ci_class="microsoft.sql/servers/databases", resource_group="rg-data"
    )
    ConfigurationItemFactory(
        name="vm-b", subscription_id="bbbb0a0a-bb1b-cc2c-dd3d-eeeeee4e4e4e", resource_group="rg"
    )

    assert names(operator_client.get(CIS + "?ci_class=microsoft.sql/servers/databases")) == {"db-a"}
    assert names(operator_client.get(CIS + "?resource_group=rg-web")) == {"vm-a"}
    assert names(
        operator_client.get(CIS + "?subscription_id=bbbb0a0a-bb1b-cc2c-dd3d-eeeeee4e4e4e")
    ) == {"vm-b"}
    assert names(operator_client.get(CIS, {"q": "DB-A"})) == {"db-a"}


def test_ci_list_counts_open_incidents_and_links_to_them(
    operator_client: Client, fire: Fire
) -> None:
    first = fire("vm-web-1")
    fire("vm-web-1")
    resolved = fire("vm-web-1")
    incident_resolve(incident=resolved, actor="test", resolution_code="solved")
    ci = ConfigurationItem.objects.get(name="vm-web-1")

    page = operator_client.get(CIS).content.decode()
    assert f'<a href="/admin/incidents/incident/?ci={ci.pk}">2</a>' in page

    linked = operator_client.get(f"/admin/incidents/incident/?ci={ci.pk}")
    assert linked.context["cl"].result_count == 2
    assert first in linked.context["cl"].result_list


def test_ci_list_runs_a_constant_number_of_queries(operator_client: Client, fire: Fire) -> None:
    fire("vm-1", "vm-2")
    few = count_queries(operator_client, CIS)
    for n in range(10):
        fire(f"vm-x{n}", f"db-x{n}")
    assert count_queries(operator_client, CIS) == few


def test_ci_page_shows_its_open_and_past_incidents(operator_client: Client, fire: Fire) -> None:
    open_one = fire("vm-web-1")
    past = fire("vm-web-1")
    incident_resolve(incident=past, actor="test", resolution_code="solved")
    ci = ConfigurationItem.objects.get(name="vm-web-1")

    page = operator_client.get(reverse("admin:cmdb_configurationitem_change", args=[ci.pk]))

    assert page.context["open_incidents"] == [open_one]
    assert page.context["past_incidents"] == [past]
    html = page.content.decode()
    for incident in (open_one, past):
        assert reverse("admin:incidents_incident_change", args=[incident.pk]) in html
    assert f"?ci={ci.pk}&amp;state=all" in html
    assert "https://portal.azure.com/#@/resource/subscriptions/" in html


def test_operator_adds_a_ci_from_a_resource_id(operator_client: Client) -> None:
    response = operator_client.post(
        CIS + "add/",
        {
            "name": "",
            "ci_class": "",
            "azure_resource_id": vm_id("VM-Payments", "RG-Pay"),
            "subscription_id": "",
            "resource_group": "",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    ci = ConfigurationItem.objects.get()
    assert (ci.name, ci.ci_class, ci.resource_group) == (
        "VM-Payments",
        "microsoft.compute/virtualmachines",
        "rg-pay",
    )
    assert ci.azure_resource_id == vm_id("VM-Payments", "RG-Pay").lower()

    again = operator_client.post(
        CIS + "add/",
        {"name": "x", "ci_class": "y", "azure_resource_id": vm_id("vm-payments", "rg-pay")},
    )
    assert again.status_code == 200
    assert "already exists" in again.content.decode()
    assert ConfigurationItem.objects.count() == 1


def test_operator_adds_a_ci_that_is_not_an_azure_resource(operator_client: Client) -> None:
    missing = operator_client.post(CIS + "add/", {"name": "", "ci_class": ""})
    assert missing.status_code == 200
    assert "Required (or give an Azure resource ID" in missing.content.decode()
    bad = operator_client.post(CIS + "add/", {"name": "x", "azure_resource_id": "vm1"})
    assert "An Azure resource ID starts with /subscriptions/." in bad.content.decode()

    response = operator_client.post(CIS + "add/", {"name": "Core switch", "ci_class": "network"})
    assert response.status_code == 302
    ci = ConfigurationItem.objects.get()
    assert (ci.name, ci.azure_resource_id) == ("Core switch", None)


def test_operator_edits_a_ci_but_not_its_resource_id(operator_client: Client) -> None:
    ci = ConfigurationItemFactory(name="vm-1")
    url = reverse("admin:cmdb_configurationitem_change", args=[ci.pk])
    form = operator_client.get(url).context["adminform"].form
    assert set(form.fields) == {"name", "ci_class"}

    response = operator_client.post(url, {"name": "vm-one", "ci_class": ci.ci_class})
    assert response.status_code == 302
    ci.refresh_from_db()
    assert ci.name == "vm-one"
    assert operator_client.get(url.replace("change", "delete")).status_code == 403


def test_viewer_sees_cis_read_only(viewer_client: Client) -> None:
    ci = ConfigurationItemFactory(name="vm-1")
    assert viewer_client.get(CIS).status_code == 200
    url = reverse("admin:cmdb_configurationitem_change", args=[ci.pk])
    assert viewer_client.get(url).status_code == 200
    assert viewer_client.post(url, {"name": "x", "ci_class": "y"}).status_code == 403
    assert viewer_client.get(CIS + "add/").status_code == 403


def test_ci_page_of_a_ci_that_is_not_an_azure_resource(operator_client: Client) -> None:
    ci = ConfigurationItemFactory(name="Core switch", azure_resource_id=None)
    page = operator_client.get(reverse("admin:cmdb_configurationitem_change", args=[ci.pk]))
    assert page.status_code == 200
    assert "portal.azure.com" not in page.content.decode()
    assert {"subscription_id", "resource_group"} <= set(page.context["adminform"].form.fields)


def test_a_refused_ci_edit_is_shown(operator_client: Client, monkeypatch: Any) -> None:
    from cmdb import admin as cmdb_admin
    from core.exceptions import ApplicationError

    def refuse(**kwargs: Any) -> None:
        raise ApplicationError("Refused for the test.")

    monkeypatch.setattr(cmdb_admin, "ci_update", refuse)
    ci = ConfigurationItemFactory(name="vm-1")
    url = reverse("admin:cmdb_configurationitem_change", args=[ci.pk])
    response = operator_client.post(url, {"name": "vm-one", "ci_class": ci.ci_class}, follow=True)
    assert "Refused for the test." in [str(m) for m in response.context["messages"]]
    ci.refresh_from_db()
    assert ci.name == "vm-1"


def test_ci_list_filters_offer_each_value_once(operator_client: Client) -> None:
    ConfigurationItemFactory(name="vm-a", resource_group="rg-web")
    ConfigurationItemFactory(name="vm-b", resource_group="rg-web")
    ConfigurationItemFactory(name="db-a", ci_class="microsoft.sql/servers/databases")

    response = operator_client.get(CIS)

    offered = {
        spec.title: [choice["display"] for choice in spec.choices(response.context["cl"])]
        for spec in response.context["cl"].filter_specs
    }
    assert offered["CI class"] == [
        "All",
        "microsoft.compute/virtualmachines",
        "microsoft.sql/servers/databases",
    ]
    assert offered["resource group"] == ["All", "rg", "rg-web"]


@pytest.mark.postgres
def test_ci_list_filters_read_no_distinct_over_the_cis(operator_client: Client) -> None:
    if not is_postgres():
        pytest.skip("the loose index scans are PostgreSQL's; SQLite keeps the ORM's DISTINCT")
    ConfigurationItemFactory(name="vm-a")
    with CaptureQueriesContext(connection) as ctx:
        assert operator_client.get(CIS).status_code == 200
    # Django's filters each read every CI (SELECT DISTINCT); the loose index scans do not.
    distinct = 'SELECT DISTINCT "cmdb_configurationitem"'
    assert not [q["sql"] for q in ctx.captured_queries if distinct in q["sql"]]
    assert sum("WITH RECURSIVE" in q["sql"] for q in ctx.captured_queries) == 3
