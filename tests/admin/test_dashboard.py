"""The console's home page: figures that link to the lists they count, in constant queries."""

from datetime import timedelta
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from console import dashboard as dashboard_module
from console.dashboard import Dashboard, dashboard_for
from incidents.services import incident_resolve
from integrations.models import Delivery
from tests.helpers import Fire, count_queries

pytestmark = pytest.mark.django_db


def listed(client: Client, url: str) -> int:
    """How many rows the list at `url` holds."""
    response = client.get(url)
    assert response.status_code == 200, url
    return response.context["cl"].result_count


@pytest.fixture
def activity(fire: Fire, post_alert: Any) -> None:
    now = timezone.now()
    fire("vm-1", severity="Sev1", alertRule="CPU high", fired_at=now - timedelta(hours=1))
    fire("vm-2", severity="Sev1", alertRule="CPU high", fired_at=now - timedelta(hours=3))
    fire("vm-3", severity="Sev3", alertRule="Disk full", fired_at=now - timedelta(days=2))
    fire("vm-4", severity="Sev0", alertRule="CPU high", fired_at=now - timedelta(days=10))
    done = fire("vm-5", severity="Sev2", alertRule="Disk full", fired_at=now - timedelta(hours=5))
    incident_resolve(incident=done, actor="test", resolution_code="solved")
    post_alert(b"{nope")
    old = Delivery.objects.order_by("pk").first()
    Delivery.objects.filter(pk=old.pk).update(received_at=now - timedelta(days=3))


def test_dashboard_figures(operator_client: Client, activity: None) -> None:
    dashboard = operator_client.get("/admin/").context["dashboard"]

    assert [f.value for f in dashboard.open_by_priority] == [1, 2, 0, 1, 0]
    assert dashboard.open_total.value == 4
    assert {f.label: f.value for f in dashboard.incidents_24h} == {"Opened": 3, "Resolved": 1}
    assert {f.label: f.value for f in dashboard.deliveries_24h} == {"Accepted": 4, "Refused": 1}
    assert [(f.label, f.value) for f in dashboard.noisiest_rules] == [
        ("CPU high", 2),
        ("Disk full", 2),
    ]


def test_dashboard_numbers_link_to_lists_with_the_same_count(
    operator_client: Client, activity: None
) -> None:
    dashboard = operator_client.get("/admin/").context["dashboard"]
    figures = [
        *dashboard.open_by_priority,
        dashboard.open_total,
        *dashboard.incidents_24h,
        *dashboard.deliveries_24h,
        *dashboard.noisiest_rules,
    ]
    for figure in figures:
        assert listed(operator_client, figure.url) == figure.value, figure


def test_dashboard_is_on_the_home_page(operator_client: Client, activity: None) -> None:
    html = operator_client.get("/admin/").content.decode()
    assert 'id="dashboard"' in html
    assert "Noisiest alert rules, last 7 days" in html
    assert "/admin/incidents/incident/?state=all&amp;opened=7d&amp;alert_rule=CPU+high" in html
    assert "/admin/integrations/delivery/?received=24h&amp;result=refused" in html


def test_dashboard_runs_a_constant_number_of_queries(
    operator_client: Client, fire: Fire, post_alert: Any
) -> None:
    fire("vm-1", fired_at=timezone.now())
    few = count_queries(operator_client, "/admin/")
    for n in range(8):
        fire(f"vm-x{n}", alertRule=f"rule {n}", fired_at=timezone.now())
        post_alert(b"{nope")
    assert count_queries(operator_client, "/admin/") == few


def test_dashboard_shows_only_what_a_user_may_see(
    viewer_client: Client, staff_client: Client, activity: None
) -> None:
    assert viewer_client.get("/admin/").context["dashboard"].open_total.value == 4
    response = staff_client.get("/admin/")
    assert response.context["dashboard"].is_empty
    assert 'id="dashboard"' not in response.content.decode()


def test_dashboard_for_a_user_with_only_the_delivery_log() -> None:
    class DeliveriesOnly:
        def has_perm(self, perm: str) -> bool:
            return perm == "integrations.view_delivery"

    dashboard = dashboard_for(user=DeliveriesOnly())
    assert isinstance(dashboard, Dashboard)
    assert dashboard.open_total is None
    assert [f.value for f in dashboard.deliveries_24h] == [0, 0]
    assert not dashboard.is_empty


def test_dashboard_tag_without_a_request() -> None:
    from django.template import Context, Template

    html = Template("{% load itsm_console %}{% console_dashboard %}").render(Context({}))
    assert html.strip() == ""


def test_dashboard_trends_are_a_minute_old_at_most_and_live_figures_are_live(
    operator_client: Client, fire: Fire
) -> None:
    first = fire("vm-1", alertRule="CPU high", fired_at=timezone.now())
    dashboard = operator_client.get("/admin/").context["dashboard"]
    assert [(f.label, f.value) for f in dashboard.noisiest_rules] == [("CPU high", 1)]
    assert dashboard.mttr["7 days"] == "–"

    fire("vm-2", alertRule="Disk full", fired_at=timezone.now())
    incident_resolve(incident=first, actor="test", resolution_code="solved")
    dashboard = operator_client.get("/admin/").context["dashboard"]

    # Counts of what is open now are live ...
    assert dashboard.open_total.value == 1
    assert dashboard.unassigned.value == 1
    # ... the 7- and 30-day trends are this process's, read less than a minute ago.
    assert [(f.label, f.value) for f in dashboard.noisiest_rules] == [("CPU high", 1)]
    assert dashboard.mttr["7 days"] == "–"
    assert dashboard_module.TRENDS_FRESH_SECONDS == 60
    cache.clear()  # the minute is over
    dashboard = operator_client.get("/admin/").context["dashboard"]
    assert [(f.label, f.value) for f in dashboard.noisiest_rules] == [
        ("CPU high", 1),
        ("Disk full", 1),
    ]
    assert dashboard.mttr["7 days"] != "–"
