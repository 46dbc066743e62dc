"""core.admin_filters.DefaultedFilter: the incident state and maintenance status filters."""

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db

PAGES = [
    ("/admin/incidents/incident/", "state", "Open (new, in progress, on hold)"),
    ("/admin/integrations/maintenancewindow/", "status", "Active and coming"),
]


@pytest.mark.parametrize(("url", "parameter", "default"), PAGES)
def test_defaulted_filter_selects_its_default_without_a_value(
    superuser_client: Client, url: str, parameter: str, default: str
) -> None:
    page = superuser_client.get(url)
    assert page.status_code == 200
    changelist = page.context["cl"]
    (spec,) = [f for f in changelist.filter_specs if getattr(f, "parameter_name", "") == parameter]
    choices = list(spec.choices(changelist))
    assert [c["display"] for c in choices if c["selected"]] == [default]


@pytest.mark.parametrize(("url", "parameter", "default"), PAGES)
def test_defaulted_filter_refuses_a_value_it_does_not_know(
    superuser_client: Client, url: str, parameter: str, default: str
) -> None:
    response = superuser_client.get(url, {parameter: "bogus"})
    # The admin's answer to IncorrectLookupParameters: the unfiltered list, flagged ?e=1.
    assert response.status_code == 302
    assert response["Location"].endswith("?e=1")
    assert superuser_client.get(url, {parameter: "all"}).status_code == 200
