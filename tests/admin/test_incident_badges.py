"""Badges in the incident list and on the incident page: what kind of event an incident is.

The ingest that groups, holds back or marks flapping is tested with it (tests/integrations);
here the rows are set as the ingest leaves them, and the console must say so at a glance.
"""

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from incidents.models import Incident
from integrations.badges import minutes_display
from integrations.models import Alert, Connection, CorrelationRule, MaintenanceWindow
from tests.helpers import ADMIN, ALERTS, INCIDENTS, Fire, count_queries, load_fixture

pytestmark = pytest.mark.django_db


def group(incident: Incident, *others: Incident, rule: CorrelationRule | None = None) -> None:
    """Move the alerts of `others` into `incident`, as a correlation rule does."""
    Alert.objects.filter(incident__in=others).update(incident=incident)
    Alert.objects.filter(incident=incident).update(correlation_rule=rule)
    Incident.objects.filter(pk__in=[o.pk for o in others]).update(state="canceled", alert_count=0)
    Incident.objects.filter(pk=incident.pk).update(alert_count=1 + len(others))


def rule_named(name: str, **fields: Any) -> CorrelationRule:
    """A rule as it was when it grouped the alerts; disabled, so the ingest leaves these alone."""
    return CorrelationRule.objects.create(name=name, enabled=False, **fields)


def window(name: str = "patch Tuesday", **fields: Any) -> MaintenanceWindow:
    now = timezone.now()
    fields.setdefault("starts_at", now - timedelta(hours=1))
    fields.setdefault("ends_at", now + timedelta(hours=2))
    return MaintenanceWindow.objects.create(name=name, **fields)


def test_incident_list_shows_the_group_and_the_rule_that_made_it(
    operator_client: Client, fire: Fire
) -> None:
    first = fire("vm-1", alertRule="cpu-high")
    group(
        first,
        fire("vm-2", alertRule="cpu-high"),
        fire("vm-3", alertRule="cpu-high"),
        rule=rule_named("cpu storms", group_by=["alert_rule"]),
    )

    page = operator_client.get(INCIDENTS).content.decode()

    assert (
        '<span class="badge event-group" title="Grouped by the correlation rule cpu storms">'
        "3 alerts · cpu storms</span>" in page
    )


def test_incident_list_counts_alerts_grouped_without_a_rule(
    operator_client: Client, fire: Fire
) -> None:
    first = fire("vm-1")
    group(first, fire("vm-2"))  # merged by an operator, say: no rule

    page = operator_client.get(INCIDENTS).content.decode()

    assert ">2 alerts</span>" in page


def test_incident_list_shows_no_badge_for_a_single_alert_azure_resolves(
    operator_client: Client, fire: Fire
) -> None:
    fire("vm-1")
    page = operator_client.get(INCIDENTS).content.decode()
    assert "event-badges" not in page


def test_incident_list_says_azure_never_resolves_an_activity_log_alert(
    operator_client: Client, fire: Fire, connection: Connection
) -> None:
    fire(fixture=ADMIN)
    page = operator_client.get(INCIDENTS).content.decode()
    assert 'class="badge event-never-resolves"' in page
    assert ">Azure never resolves</span>" in page

    Connection.objects.filter(pk=connection.pk).update(auto_resolve_after_minutes=240)
    page = operator_client.get(INCIDENTS).content.decode()
    assert ">Azure never resolves · auto-resolve 4 h</span>" in page
    assert "after 4 h without a new message (connection contoso)" in page


@pytest.mark.parametrize(
    ("minutes", "shown"), [(45, "45 min"), (60, "1 h"), (90, "90 min"), (2880, "2 d")]
)
def test_minutes_display_says_how_long_as_an_operator_does(minutes: int, shown: str) -> None:
    assert minutes_display(minutes) == shown


def test_incident_list_shows_the_service_health_tracking_id(
    operator_client: Client, post_alert: Any, connection: Connection
) -> None:
    post_alert(load_fixture("azure/service-health-active.json"))
    post_alert(load_fixture("azure/service-health-update.json"))

    page = operator_client.get(INCIDENTS).content.decode()

    assert '<span class="badge event-tracking" title="Service Health tracking ID">TEST-TTT' in page
    # Azure's stages resolve it: not "never resolves", though each message is stateless.
    assert "event-never-resolves" not in page


def test_incident_list_shows_an_incident_opened_when_its_window_ended(
    operator_client: Client, fire: Fire
) -> None:
    incident = fire("vm-1")
    ended = window(
        starts_at=incident.opened_at - timedelta(hours=3),
        ends_at=incident.opened_at,
        released_at=incident.opened_at,
    )
    Alert.objects.filter(incident=incident).update(maintenance_window=ended)

    page = operator_client.get(INCIDENTS).content.decode()

    assert ">After maintenance patch Tuesday</span>" in page
    assert "opened when it ended, still firing" in page


def test_incident_list_shows_the_window_holding_an_alert_of_the_incident(
    operator_client: Client, fire: Fire
) -> None:
    incident = fire("vm-1")
    Alert.objects.filter(incident=incident).update(maintenance_window=window(name="rg-web patch"))

    page = operator_client.get(INCIDENTS).content.decode()

    assert ">Held by rg-web patch</span>" in page


def test_incident_list_shows_flapping(operator_client: Client, fire: Fire) -> None:
    incident = fire("vm-1")
    Incident.objects.filter(pk=incident.pk).update(is_flapping=True)

    page = operator_client.get(INCIDENTS).content.decode()

    assert 'class="badge event-flapping"' in page
    assert ">Flapping</span>" in page


def test_incident_page_shows_the_badges_in_its_summary(operator_client: Client, fire: Fire) -> None:
    first = fire("vm-1", alertRule="cpu-high")
    group(first, fire("vm-2"), rule=rule_named("cpu storms"))
    Incident.objects.filter(pk=first.pk).update(is_flapping=True)

    page = operator_client.get(reverse("admin:incidents_incident_change", args=[first.pk]))

    summary = page.content.decode().split('id="incident-summary"')[1].split("console-actions")[0]
    assert ">2 alerts · cpu storms</span>" in summary
    assert ">Flapping</span>" in summary


def test_incident_badges_escape_names(operator_client: Client, fire: Fire) -> None:
    first = fire("vm-1")
    group(first, fire("vm-2"), rule=rule_named("<b>storm</b>"))
    page = operator_client.get(INCIDENTS).content.decode()
    assert "<b>storm</b>" not in page
    assert "&lt;b&gt;storm&lt;/b&gt;" in page


def _every_badge(fire: Fire, count: int, start: int) -> None:
    """`count` incidents of two alerts each, grouped by a rule, after a window, flapping."""
    rule = rule_named(f"rule {start}")
    now = timezone.now()
    ended = window(
        name=f"window {start}",
        starts_at=now - timedelta(hours=3),
        ends_at=now - timedelta(hours=1),
        released_at=now - timedelta(hours=1),
    )
    for n in range(start, start + count):
        first = fire(f"vm-{n}", fixture=ADMIN if n % 2 else "azure/log-alerts-v2-fired.json")
        group(first, fire(f"db-{n}"), rule=rule)
        Alert.objects.filter(incident=first).update(maintenance_window=ended)
        Incident.objects.filter(pk=first.pk).update(is_flapping=n % 3 == 0)


def test_incident_list_with_badges_runs_a_constant_number_of_queries(
    operator_client: Client, fire: Fire
) -> None:
    _every_badge(fire, 2, start=0)
    few = count_queries(operator_client, INCIDENTS)
    _every_badge(fire, 10, start=10)
    many = count_queries(operator_client, INCIDENTS)
    page = operator_client.get(INCIDENTS).content.decode()
    assert page.count(">2 alerts · rule 10</span>") == 10
    assert many == few


# --- the alerts list ----------------------------------------------------------------------


def test_alert_list_shows_an_alert_a_window_holds(operator_client: Client, fire: Fire) -> None:
    incident = fire("vm-1", alertRule="disk-full")
    held = window(name="rg-web patch")
    Alert.objects.filter(incident=incident).update(incident=None, maintenance_window=held)

    page = operator_client.get(ALERTS).content.decode()

    assert "held by" in page
    assert "rg-web patch" in page
    assert operator_client.get(ALERTS + "?held=yes").context["cl"].result_count == 1
    assert operator_client.get(ALERTS + "?held=no").context["cl"].result_count == 0
    assert operator_client.get(f"{ALERTS}?held={held.pk}").context["cl"].result_count == 1
    # The delivery log names the window too, instead of an incident.
    deliveries = operator_client.get("/admin/integrations/delivery/").content.decode()
    assert "rg-web patch" in deliveries
