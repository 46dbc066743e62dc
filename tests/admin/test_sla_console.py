"""SLA in the console: time left on the list, both clocks on the page, the dashboard's figures."""

from datetime import timedelta
from typing import Any, cast

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from incidents import sla
from incidents.choices import SlaStage
from incidents.models import Incident
from incidents.services import incident_assign, incident_resolve, incident_start
from tests.factories import UserFactory
from tests.helpers import INCIDENTS, Fire, count_queries

pytestmark = pytest.mark.django_db


def _user(**fields: Any) -> User:
    """A user (the factory, typed)."""
    return cast(User, UserFactory(**fields))


def _listed(client: Client, url: str) -> int:
    response = client.get(url)
    assert response.status_code == 200, url
    return response.context["cl"].result_count


def test_incident_list_shows_the_time_left_of_the_clock_that_runs(
    operator_client: Client, fire: Fire
) -> None:
    fire("vm-1", severity="Sev0", fired_at=timezone.now() - timedelta(minutes=5))
    late = fire("vm-2", severity="Sev0", fired_at=timezone.now() - timedelta(minutes=20))
    html = operator_client.get(INCIDENTS).content.decode()
    assert "Response: 9 min left" in html or "Response: 10 min left" in html
    assert 'class="sla sla-breached"' in html  # vm-2's response is 5 minutes overdue
    incident_start(incident=late, actor="test")
    html = operator_client.get(INCIDENTS).content.decode()
    assert "Resolution: 3 h" in html  # once it responded, the resolution clock shows


def test_incident_list_sla_column_costs_no_query_per_row(
    operator_client: Client, fire: Fire
) -> None:
    fire("vm-1")
    few = count_queries(operator_client, INCIDENTS)
    for n in range(5):
        fire(f"vm-x{n}")
    assert count_queries(operator_client, INCIDENTS) == few


def test_incident_page_shows_both_clocks(operator_client: Client, fire: Fire) -> None:
    incident = fire("vm-1", severity="Sev1", fired_at=timezone.now())
    html = operator_client.get(f"{INCIDENTS}{incident.pk}/change/").content.decode()
    assert "SLA clocks" in html
    assert "Response: 29 min left" in html or "Response: 30 min left" in html
    assert "Resolution: 7 h" in html


def test_incident_list_sla_filter_finds_breached_incidents(
    operator_client: Client, fire: Fire
) -> None:
    fire("vm-1", severity="Sev0", fired_at=timezone.now())
    late = fire("vm-2", severity="Sev0", fired_at=timezone.now() - timedelta(minutes=20))
    sla.sla_check()
    assert Incident.objects.get(pk=late.pk).sla_respond_stage == SlaStage.BREACHED
    assert _listed(operator_client, f"{INCIDENTS}?sla=breached") == 1


@pytest.fixture
def service(fire: Fire) -> dict[str, Any]:
    now = timezone.now()
    acked = fire("vm-1", severity="Sev1", fired_at=now - timedelta(hours=2))
    incident_assign(incident=acked, actor="test", assigned_to=_user(), assignment_group=None)
    Incident.objects.filter(pk=acked.pk).update(sla_responded_at=now - timedelta(minutes=100))
    resolved = fire("vm-2", severity="Sev2", fired_at=now - timedelta(hours=3))
    incident_resolve(incident=resolved, actor="test", resolution_code="solved")
    Incident.objects.filter(pk=resolved.pk).update(resolved_at=now - timedelta(hours=1))
    waiting = fire("vm-3", severity="Sev0", fired_at=now - timedelta(hours=1))
    fire("vm-4", severity="Sev3", fired_at=now - timedelta(minutes=10))
    sla.sla_check()
    return {"waiting": waiting}


def test_dashboard_shows_mtta_mttr_breaches_unassigned_and_the_longest_waiting(
    operator_client: Client, service: dict[str, Any]
) -> None:
    dashboard = operator_client.get("/admin/").context["dashboard"]
    assert dashboard.mtta == {"7 days": "20 min", "30 days": "20 min"}
    assert dashboard.mttr == {"7 days": "2 h 00 min", "30 days": "2 h 00 min"}
    # vm-1 (respond 30 min, acknowledged after 20: resolution still running) is not
    # breached; vm-3 (P1, an hour without response) is.
    assert [f.value for f in dashboard.sla_breaches] == [1, 1]
    assert dashboard.unassigned.value == 2  # vm-3 and vm-4 (vm-2 is resolved)
    assert dashboard.longest_waiting.number == service["waiting"].number
    assert dashboard.longest_waiting.waited == "1 h 00 min"
    for figure in [*dashboard.sla_breaches, dashboard.unassigned]:
        assert _listed(operator_client, figure.url) == figure.value, figure
    html = operator_client.get("/admin/").content.decode()
    assert "Mean time to acknowledge" in html
    assert "Longest waiting for a response" in html


def test_dashboard_service_figures_cost_constant_queries(
    operator_client: Client, fire: Fire
) -> None:
    fire("vm-1")
    few = count_queries(operator_client, "/admin/")
    for n in range(5):
        fire(f"vm-x{n}", fired_at=timezone.now() - timedelta(hours=n))
    assert count_queries(operator_client, "/admin/") == few
