"""Correlation rules in the console: the list, the form (the API's check), the cache."""

from typing import Any

import pytest
from django.test import Client

from integrations import correlation
from integrations.models import Connection, CorrelationRule
from tests.helpers import count_queries

pytestmark = pytest.mark.django_db

RULES = "/admin/integrations/correlationrule/"


def _form(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "cpu storms",
        "position": "10",
        "enabled": "on",
        "connection": "",
        "match_monitoring_services": "Platform",
        "match_severities": ["Sev0", "Sev1"],
        "match_alert_rules": "cpu-high\ncpu, very high",
        "match_subscriptions": "",
        "match_resource_groups": "",
        "match_resource_types": "microsoft.compute/virtualmachines",
        "group_by": ["alert_rule", "resource_group"],
        "window_minutes": "10",
        "max_age_minutes": "120",
        "resolve_on": "all",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def _rule(**changes: Any) -> CorrelationRule:
    values: dict[str, Any] = {"name": "by rule", "group_by": ["alert_rule"], **changes}
    return CorrelationRule.objects.create(**values)


def test_correlation_rule_admin_creates_a_rule_from_the_form(superuser_client: Client) -> None:
    response = superuser_client.post(f"{RULES}add/", _form())

    assert response.status_code == 302, response.content
    rule = CorrelationRule.objects.get()
    assert rule.match == {
        "monitoring_services": ["Platform"],
        "severities": ["Sev0", "Sev1"],
        "alert_rules": ["cpu-high", "cpu, very high"],
        "subscriptions": [],
        "resource_groups": [],
        "resource_types": ["microsoft.compute/virtualmachines"],
    }
    assert rule.group_by == ["alert_rule", "resource_group"]
    assert (rule.position, rule.window_minutes, rule.max_age_minutes) == (10, 10, 120)
    assert rule.connection is None


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({"group_by": None}, "This field is required"),
        ({"window_minutes": "30", "max_age_minutes": "20"}, "at least the window (30 minutes)"),
        ({"window_minutes": "0"}, "at least 1"),
    ],
)
def test_correlation_rule_admin_refuses_what_the_api_refuses(
    superuser_client: Client, changes: dict, says: str
) -> None:
    response = superuser_client.post(f"{RULES}add/", _form(**changes))

    assert response.status_code == 200
    assert says in response.content.decode()
    assert not CorrelationRule.objects.exists()


def test_correlation_rule_admin_edits_a_rule_keeping_its_match(
    superuser_client: Client, connection: Connection
) -> None:
    rule = _rule(match={"alert_rules": ["cpu-high"]})

    page = superuser_client.get(f"{RULES}{rule.pk}/change/")
    response = superuser_client.post(
        f"{RULES}{rule.pk}/change/",
        _form(name="by rule", match_alert_rules="cpu-high", connection=str(connection.pk)),
    )

    assert "cpu-high" in page.content.decode()
    assert response.status_code == 302, response.content
    rule.refresh_from_db()
    assert rule.match["alert_rules"] == ["cpu-high"]
    assert rule.connection == connection


def test_correlation_rule_admin_list_shows_what_a_rule_does(
    superuser_client: Client, connection: Connection
) -> None:
    _rule(
        name="storms",
        position=7,
        connection=connection,
        match={"severities": ["Sev1"], "alert_rules": []},
        group_by=["alert_rule", "target"],
        window_minutes=15,
        max_age_minutes=90,
    )
    _rule(name="catch-all", position=99)

    page = superuser_client.get(RULES).content.decode()

    for text in ("storms", "contoso", "Severities</span>: Sev1", "Alert rule, Target resource"):
        assert text in page
    assert "15 min" in page
    assert "max. age 90 min" in page
    assert "every alert" in page  # catch-all matches everything
    assert page.index("storms") < page.index("catch-all")  # by position


def test_correlation_rule_admin_list_queries_do_not_grow(
    superuser_client: Client, connection: Connection
) -> None:
    _rule(name="one", connection=connection)
    before = count_queries(superuser_client, RULES)
    for n in range(3):
        _rule(name=f"more {n}", connection=connection)

    assert count_queries(superuser_client, RULES) == before


def test_correlation_rule_admin_is_read_only_for_the_roles(
    operator_client: Client, viewer_client: Client
) -> None:
    rule = _rule(match={"alert_rules": ["cpu-high"]})

    for client in (operator_client, viewer_client):
        assert client.get(RULES).status_code == 200
        page = client.get(f"{RULES}{rule.pk}/change/")
        assert page.status_code == 200
        assert "cpu-high" in page.content.decode()
        assert client.post(f"{RULES}add/", _form()).status_code == 403


def test_correlation_rule_admin_writes_clear_the_ingest_rule_cache(
    superuser_client: Client,
) -> None:
    assert correlation.rules_cached() == ()

    superuser_client.post(f"{RULES}add/", _form())
    assert [r.name for r in correlation.rules_cached()] == ["cpu storms"]

    rule = CorrelationRule.objects.get()
    superuser_client.post(f"{RULES}{rule.pk}/delete/", {"post": "yes"})
    assert correlation.rules_cached() == ()


def test_correlation_rule_admin_bulk_delete_clears_the_cache(superuser_client: Client) -> None:
    rule = _rule(name="doomed")
    assert len(correlation.rules_cached()) == 1

    superuser_client.post(
        RULES, {"action": "delete_selected", "_selected_action": [rule.pk], "post": "yes"}
    )

    assert not CorrelationRule.objects.exists()
    assert correlation.rules_cached() == ()
