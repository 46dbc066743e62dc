"""Correlation rules in the ingest: matching, group keys, joining, priority, resolve_on."""

import itertools
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection as db
from django.test.utils import CaptureQueriesContext

from incidents.choices import Impact, IncidentState, JournalKind, Urgency
from incidents.models import Incident, IncidentConfigurationItem, JournalEntry
from incidents.services import (
    incident_cancel,
    incident_close,
    incident_create,
    incident_resolve,
    incident_update,
)
from integrations import correlation, fastpath
from integrations.choices import AZURE_MONITOR_ACTOR, GroupBy, ResolveOn
from integrations.models import Alert, Connection, CorrelationRule, Delivery
from integrations.parsing import parse_alert
from tests.helpers import (
    STATIC,
    SUBSCRIPTION,
    TENANT_ID,
    alert_id,
    is_postgres,
    load_fixture,
    vm_id,
    with_essentials,
)
from tests.integrations.test_ingest import data_queries

T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
_names = itertools.count(1)


def at(minutes: float) -> str:
    """An Azure timestamp `minutes` after T0."""
    return (T0 + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def storm_alert(
    vm: str,
    *,
    minutes: float = 0,
    severity: str = "Sev3",
    rule: str = "cpu-high",
    resource_group: str = "rg-web",
    **essentials: Any,
) -> dict[str, Any]:
    """A metric alert of `rule` on the VM `vm`, fired `minutes` after T0, its own alertId."""
    return with_essentials(
        STATIC,
        alertId=essentials.pop("alertId", None) or alert_id(),
        alertRule=rule,
        severity=severity,
        alertTargetIDs=[vm_id(vm, resource_group)],
        configurationItems=[vm],
        firedDateTime=at(minutes),
        **essentials,
    )


def resolved(payload: dict[str, Any], minutes: float) -> dict[str, Any]:
    """The Resolved message of an alert."""
    payload = json.loads(json.dumps(payload))
    payload["data"]["essentials"].update(monitorCondition="Resolved", resolvedDateTime=at(minutes))
    return payload


def make_rule(**fields: Any) -> CorrelationRule:
    values: dict[str, Any] = {
        "name": f"rule {next(_names)}",
        "position": 10,
        "match": {"alert_rules": ["cpu-high"]},
        "group_by": [GroupBy.ALERT_RULE, GroupBy.RESOURCE_GROUP],
        "window_minutes": 10,
        "max_age_minutes": 120,
    }
    return CorrelationRule.objects.create(**{**values, **fields})


def compiled(**fields: Any) -> correlation.Rule:
    values: dict[str, Any] = {
        "pk": 7,
        "name": "r",
        "match": {},
        "group_by": [GroupBy.ALERT_RULE],
        "window_minutes": 10,
        "max_age_minutes": 120,
    }
    values.update(fields)
    pk = values.pop("pk")
    rule = CorrelationRule(**values)
    rule.pk = pk
    return correlation.rule_compile(rule)


def parsed(payload: dict[str, Any]) -> Any:
    return parse_alert(json.dumps(payload).encode())


def post(post_alert: Any, payload: dict[str, Any]) -> dict[str, Any]:
    response = post_alert(payload)
    assert response.status_code in (200, 201), response.json()
    return {"code": response.status_code, **response.json()}


# --- matching (pure) ----------------------------------------------------------------------

ALERT = storm_alert("vm-web-01", severity="Sev1")


@pytest.mark.parametrize(
    ("key", "hit", "miss"),
    [
        ("monitoring_services", "Platform", "Log Alerts V2"),
        ("severities", "Sev1", "Sev0"),
        ("alert_rules", "cpu-high", "disk-full"),
        ("subscriptions", SUBSCRIPTION, TENANT_ID),
        ("resource_groups", "rg-web", "rg-db"),
        ("resource_types", "microsoft.compute/virtualmachines", "microsoft.sql/servers"),
    ],
)
def test_rule_matches_each_match_key(key: str, hit: str, miss: str) -> None:
    alert = parsed(ALERT)

    assert correlation.rule_matches(compiled(match={key: [hit]}), connection_id=1, alert=alert)
    assert correlation.rule_matches(
        compiled(match={key: [miss, hit]}), connection_id=1, alert=alert
    )
    assert not correlation.rule_matches(compiled(match={key: [miss]}), connection_id=1, alert=alert)


def test_rule_matches_case_insensitively() -> None:
    rule = compiled(
        match={
            "monitoring_services": ["PLATFORM"],
            "severities": ["sev1"],
            "alert_rules": ["CPU-High"],
            "resource_groups": ["RG-WEB"],
            "resource_types": ["Microsoft.Compute/virtualMachines"],
            "subscriptions": [SUBSCRIPTION.upper()],
        }
    )

    assert correlation.rule_matches(rule, connection_id=1, alert=parsed(ALERT))


def test_rule_matches_empty_or_absent_lists_match_anything() -> None:
    rule = compiled(match={"severities": [], "alert_rules": []})

    assert correlation.rule_matches(rule, connection_id=1, alert=parsed(ALERT))
    assert correlation.rule_matches(compiled(match={}), connection_id=1, alert=parsed(ALERT))


def test_rule_matches_every_key_must_match() -> None:
    rule = compiled(match={"alert_rules": ["cpu-high"], "severities": ["Sev0"]})

    assert not correlation.rule_matches(rule, connection_id=1, alert=parsed(ALERT))


def test_rule_matches_only_its_connection_or_every_one() -> None:
    alert = parsed(ALERT)

    assert correlation.rule_matches(compiled(connection_id=None), connection_id=5, alert=alert)
    assert correlation.rule_matches(compiled(connection_id=5), connection_id=5, alert=alert)
    assert not correlation.rule_matches(compiled(connection_id=6), connection_id=5, alert=alert)


def test_rule_first_matching_takes_the_first_in_order() -> None:
    first, second = compiled(pk=1), compiled(pk=2)

    assert correlation.rule_first_matching((first, second), connection_id=1, alert=parsed(ALERT))
    found = correlation.rule_first_matching(
        (compiled(pk=3, match={"severities": ["Sev0"]}), second, first),
        connection_id=1,
        alert=parsed(ALERT),
    )
    assert found is not None
    assert found.pk == 2


# --- group keys (pure) --------------------------------------------------------------------


def test_group_key_holds_connection_rule_and_grouped_values() -> None:
    rule = compiled(group_by=[GroupBy.ALERT_RULE, GroupBy.RESOURCE_GROUP, GroupBy.SEVERITY])

    key = correlation.group_key(rule, connection_id=3, alert=parsed(ALERT))

    assert key == '3:7:["cpu-high","rg-web","sev1"]'


def test_group_key_same_for_same_values_whatever_the_case() -> None:
    rule = compiled(group_by=[GroupBy.ALERT_RULE, GroupBy.RESOURCE_GROUP])
    one = parsed(storm_alert("vm-1", rule="CPU-High", resource_group="RG-Web"))
    two = parsed(storm_alert("vm-2"))
    other = parsed(storm_alert("vm-3", resource_group="rg-db"))

    key = correlation.group_key(rule, connection_id=1, alert=one)

    assert key == correlation.group_key(rule, connection_id=1, alert=two)
    assert key != correlation.group_key(rule, connection_id=1, alert=other)
    assert key != correlation.group_key(rule, connection_id=2, alert=two)


@pytest.mark.parametrize("group_by", list(GroupBy))
def test_group_key_reads_each_group_by(group_by: GroupBy) -> None:
    rule = compiled(group_by=[group_by])
    values = correlation.group_values(rule, parsed(ALERT))

    assert values == [
        {
            GroupBy.ALERT_RULE: "cpu-high",
            GroupBy.MONITORING_SERVICE: "platform",
            GroupBy.SEVERITY: "sev1",
            GroupBy.SUBSCRIPTION: SUBSCRIPTION,
            GroupBy.RESOURCE_GROUP: "rg-web",
            GroupBy.RESOURCE_TYPE: "microsoft.compute/virtualmachines",
            GroupBy.TARGET: vm_id("vm-web-01").lower(),
        }[group_by]
    ]


def test_group_key_of_long_values_is_hashed_within_the_column() -> None:
    rule = compiled(group_by=[GroupBy.TARGET, GroupBy.ALERT_RULE])
    long_rule = "é" * 500  # two bytes each in UTF-8
    alert = parsed(storm_alert("vm-" + "x" * 200, rule=long_rule))

    key = correlation.group_key(rule, connection_id=1, alert=alert)

    assert key.startswith("1:7:sha256:")
    assert len(key.encode()) <= correlation.MAX_GROUP_KEY_LENGTH
    assert key == correlation.group_key(rule, connection_id=1, alert=alert)


def test_group_takes_within_window_and_max_age_only() -> None:
    rule = compiled(window_minutes=10, max_age_minutes=60)

    def takes(last: float, opened: float, fired: float) -> bool:
        return correlation.group_takes(
            rule,
            last_alert_at=T0 + timedelta(minutes=last),
            opened_at=T0 + timedelta(minutes=opened),
            fired_at=T0 + timedelta(minutes=fired),
        )

    assert takes(0, 0, 10)
    assert not takes(0, 0, 10.1)  # past the window
    assert takes(50, 0, 59)
    assert not takes(55, 0, 61)  # within the window, past the maximum age
    assert takes(5, 0, 1)  # a late alert


# --- the ingest ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_correlation_storm_opens_one_incident_with_every_alert(
    connection: Connection, post_alert: Any
) -> None:
    rule = make_rule()

    answers = [post(post_alert, storm_alert(f"vm-{i}", minutes=i)) for i in range(5)]

    assert [(a["code"], a["status"]) for a in answers] == [(201, "created")] + [
        (200, "grouped")
    ] * 4
    incident = Incident.objects.get()
    assert {a["incident"] for a in answers} == {incident.number}
    assert incident.alert_count == 5
    assert incident.last_alert_at == T0 + timedelta(minutes=4)
    assert incident.group_key.startswith(f"{connection.pk}:{rule.pk}:")
    assert sorted(incident.configuration_items.values_list("name", flat=True)) == [
        f"vm-{i}" for i in range(5)
    ]
    assert set(Alert.objects.values_list("correlation_rule", flat=True)) == {rule.pk}
    grouped = incident.journal.filter(kind=JournalKind.GROUPED)
    assert grouped.count() == 4
    assert all(e.actor_name == AZURE_MONITOR_ACTOR and rule.name in e.message for e in grouped)
    assert incident.title.endswith("on vm-0")  # from its first alert


@pytest.mark.django_db
def test_correlation_groups_separately_by_group_by(connection: Connection, post_alert: Any) -> None:
    make_rule()

    web = post(post_alert, storm_alert("vm-1"))
    db_ = post(post_alert, storm_alert("vm-2", resource_group="rg-db"))
    web_again = post(post_alert, storm_alert("vm-3", minutes=1))

    assert (web["status"], db_["status"], web_again["status"]) == ("created", "created", "grouped")
    assert web_again["incident"] == web["incident"] != db_["incident"]


@pytest.mark.django_db
def test_correlation_no_rule_matching_opens_an_incident_each(
    connection: Connection, post_alert: Any
) -> None:
    make_rule(match={"alert_rules": ["disk-full"]})

    answers = [post(post_alert, storm_alert(f"vm-{i}"))["status"] for i in range(3)]

    assert answers == ["created"] * 3
    assert Incident.objects.filter(group_key="").count() == 3
    assert not Alert.objects.filter(correlation_rule__isnull=False).exists()


@pytest.mark.django_db
def test_correlation_no_join_after_the_window(connection: Connection, post_alert: Any) -> None:
    make_rule(window_minutes=10)
    first = post(post_alert, storm_alert("vm-1"))

    late = post(post_alert, storm_alert("vm-2", minutes=11))

    assert late["status"] == "created"
    assert late["incident"] != first["incident"]
    old = Incident.objects.get(number=first["incident"])
    assert (old.group_key, old.alert_count) == ("", 1)  # it keeps what it holds
    assert Incident.objects.get(number=late["incident"]).group_key != ""
    assert post(post_alert, storm_alert("vm-3", minutes=12))["incident"] == late["incident"]


@pytest.mark.django_db
def test_correlation_no_join_after_max_age(connection: Connection, post_alert: Any) -> None:
    make_rule(window_minutes=10, max_age_minutes=30)
    first = post(post_alert, storm_alert("vm-0"))
    for minute in range(5, 30, 5):
        assert post(post_alert, storm_alert(f"vm-{minute}", minutes=minute))["status"] == "grouped"

    after = post(post_alert, storm_alert("vm-late", minutes=31))

    assert after["status"] == "created"
    assert Incident.objects.get(number=first["incident"]).alert_count == 6


@pytest.mark.django_db
@pytest.mark.parametrize("end", ["resolved", "closed", "canceled"])
def test_correlation_never_joins_a_resolved_closed_or_canceled_incident(
    connection: Connection, post_alert: Any, django_user_model: Any, end: str
) -> None:
    make_rule()
    first = Incident.objects.get(number=post(post_alert, storm_alert("vm-1"))["incident"])
    person = django_user_model.objects.create_user(username="op", password="x")
    if end == "canceled":
        incident_cancel(incident=first, actor=person, reason="false alarm")
    else:
        incident_resolve(incident=first, actor=person, resolution_code="solved")
        if end == "closed":
            incident_close(incident=first, actor=person)

    after = post(post_alert, storm_alert("vm-2", minutes=1))

    assert after["status"] == "created"
    assert after["incident"] != first.number
    first.refresh_from_db()
    assert (first.state, first.alert_count) == (end, 1)


@pytest.mark.django_db
def test_correlation_priority_rises_with_the_most_severe_member(
    connection: Connection, post_alert: Any
) -> None:
    rule = make_rule()
    number = post(post_alert, storm_alert("vm-1", severity="Sev3"))["incident"]
    assert Incident.objects.get(number=number).priority == 4

    post(post_alert, storm_alert("vm-2", minutes=1, severity="Sev1"))
    post(post_alert, storm_alert("vm-3", minutes=2, severity="Sev4"))

    incident = Incident.objects.get(number=number)
    assert (incident.priority, incident.severity) == (2, "Sev1")
    assert (incident.impact, incident.urgency) == (Impact.HIGH, Urgency.MEDIUM)
    messages = incident.journal.filter(kind=JournalKind.GROUPED).values_list("message", flat=True)
    assert [m for m in messages if "Priority" in m] == [
        f"Alert cpu-high on vm-2 (Sev1, Fired) grouped by correlation rule {rule.name!r}. "
        "Priority 4 → 2."
    ]


@pytest.mark.django_db
def test_correlation_priority_stays_when_a_person_set_it(
    connection: Connection, post_alert: Any, django_user_model: Any
) -> None:
    make_rule()
    number = post(post_alert, storm_alert("vm-1", severity="Sev3"))["incident"]
    incident = Incident.objects.get(number=number)
    person = django_user_model.objects.create_user(username="op", password="x")
    incident_update(incident=incident, actor=person, impact=Impact.LOW)

    post(post_alert, storm_alert("vm-2", minutes=1, severity="Sev0"))

    incident.refresh_from_db()
    assert incident.priority_set_by_person
    assert (incident.priority, incident.alert_count) == (5, 2)


@pytest.mark.django_db
def test_incident_update_by_a_person_marks_priority_set_by_person(
    django_user_model: Any,
) -> None:
    person = django_user_model.objects.create_user(username="op", password="x")
    incident = incident_create(actor=AZURE_MONITOR_ACTOR, title="t", impact=2, urgency=2)
    assert not incident.priority_set_by_person

    incident_update(incident=incident, actor=AZURE_MONITOR_ACTOR, urgency=Urgency.HIGH)
    incident.refresh_from_db()
    assert not incident.priority_set_by_person  # a system actor's change is no choice
    incident_update(incident=incident, actor=person, title="renamed")
    incident.refresh_from_db()
    assert not incident.priority_set_by_person  # impact and urgency untouched
    incident_update(incident=incident, actor=person, impact=Impact.HIGH)
    incident.refresh_from_db()
    assert incident.priority_set_by_person


@pytest.mark.django_db
def test_incident_create_by_a_person_marks_priority_set_by_person(
    django_user_model: Any,
) -> None:
    person = django_user_model.objects.create_user(username="op", password="x")

    incident = incident_create(actor=person, title="by hand", impact=2, urgency=2)

    incident.refresh_from_db()
    assert incident.priority_set_by_person


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("resolve_on", "after_first", "after_all"),
    [
        (ResolveOn.ALL, IncidentState.NEW, IncidentState.RESOLVED),
        (ResolveOn.FIRST, IncidentState.RESOLVED, IncidentState.RESOLVED),
        (ResolveOn.NEVER, IncidentState.NEW, IncidentState.NEW),
    ],
)
def test_correlation_resolve_on(
    connection: Connection,
    post_alert: Any,
    resolve_on: str,
    after_first: str,
    after_all: str,
) -> None:
    make_rule(resolve_on=resolve_on)
    alerts = [storm_alert(f"vm-{i}", minutes=i) for i in range(3)]
    number = {post(post_alert, a)["incident"] for a in alerts}.pop()

    assert post(post_alert, resolved(alerts[1], 5))["status"] == "resolved"
    assert Incident.objects.get(number=number).state == after_first
    for payload in (alerts[0], alerts[2]):
        post(post_alert, resolved(payload, 6))

    assert Incident.objects.get(number=number).state == after_all
    # Each member keeps its own state.
    assert set(Alert.objects.values_list("monitor_condition", flat=True)) == {"Resolved"}


@pytest.mark.django_db
def test_correlation_resolve_on_all_when_the_rule_was_deleted(
    connection: Connection, post_alert: Any
) -> None:
    rule = make_rule(resolve_on=ResolveOn.FIRST)
    alerts = [storm_alert(f"vm-{i}", minutes=i) for i in range(2)]
    number = {post(post_alert, a)["incident"] for a in alerts}.pop()
    rule.delete()

    post(post_alert, resolved(alerts[0], 5))
    assert Incident.objects.get(number=number).state == IncidentState.NEW
    post(post_alert, resolved(alerts[1], 5))

    assert Incident.objects.get(number=number).state == IncidentState.RESOLVED


@pytest.mark.django_db
def test_correlation_resolve_on_of_a_disabled_rule_still_applies(
    connection: Connection, post_alert: Any
) -> None:
    rule = make_rule(resolve_on=ResolveOn.NEVER)
    alert = storm_alert("vm-1")
    number = post(post_alert, alert)["incident"]
    CorrelationRule.objects.filter(pk=rule.pk).update(enabled=False)
    correlation.rules_cache_clear()

    post(post_alert, resolved(alert, 5))

    assert Incident.objects.get(number=number).state == IncidentState.NEW


@pytest.mark.django_db
def test_correlation_rule_order_first_match_wins(connection: Connection, post_alert: Any) -> None:
    later = make_rule(position=20, group_by=[GroupBy.ALERT_RULE])
    first = make_rule(position=10, group_by=[GroupBy.TARGET])
    make_rule(position=5, enabled=False, group_by=[GroupBy.ALERT_RULE])

    one = post(post_alert, storm_alert("vm-1"))
    two = post(post_alert, storm_alert("vm-2", minutes=1))

    assert (one["status"], two["status"]) == ("created", "created")  # by target: two groups
    assert set(Alert.objects.values_list("correlation_rule", flat=True)) == {first.pk}
    assert not Alert.objects.filter(correlation_rule=later).exists()


@pytest.mark.django_db
def test_correlation_rule_of_another_connection_does_not_group(
    connection: Connection, post_alert: Any
) -> None:
    other = Connection.objects.create(
        slug="other", name="Other", tenant_id=TENANT_ID, audiences=["api://other"]
    )
    make_rule(connection=other)

    answers = [post(post_alert, storm_alert(f"vm-{i}"))["status"] for i in range(2)]

    assert answers == ["created", "created"]


@pytest.mark.django_db
def test_correlation_rule_of_this_connection_groups(
    connection: Connection, post_alert: Any
) -> None:
    make_rule(connection=connection)

    answers = [post(post_alert, storm_alert(f"vm-{i}"))["status"] for i in range(2)]

    assert answers == ["created", "grouped"]


@pytest.mark.django_db
def test_correlation_rules_cache_refreshes_when_a_rule_is_saved(
    connection: Connection, post_alert: Any
) -> None:
    rule = make_rule(enabled=False)
    assert post(post_alert, storm_alert("vm-1"))["status"] == "created"  # cached: none
    assert correlation.rules_cached() == ()

    rule.enabled = True
    rule.save()
    grouped = post(post_alert, storm_alert("vm-2", minutes=1))
    joined = post(post_alert, storm_alert("vm-3", minutes=2))

    assert (grouped["status"], joined["status"]) == ("created", "grouped")
    rule.delete()
    assert correlation.rules_cached() == ()


@pytest.mark.django_db
def test_correlation_rules_cache_is_read_once_per_ttl(
    connection: Connection, settings: Any
) -> None:
    settings.CONNECTION_CACHE_SECONDS = 60
    make_rule()
    correlation.rules_cached()
    CorrelationRule.objects.update(enabled=False)  # no signal: another process, say

    with CaptureQueriesContext(db) as cached:
        assert len(correlation.rules_cached()) == 1
    settings.CONNECTION_CACHE_SECONDS = 0

    assert not cached.captured_queries
    assert correlation.rules_cached() == ()


@pytest.mark.django_db
def test_correlation_non_matching_rules_cost_no_query(
    connection: Connection, post_alert: Any
) -> None:
    post(post_alert, storm_alert("warm-up"))  # key set, caches
    with CaptureQueriesContext(db) as without_rules:
        post(post_alert, storm_alert("vm-1"))
    for n in range(20):
        make_rule(match={"alert_rules": [f"other-{n}"]})
    post(post_alert, storm_alert("warm-up-2"))  # the rules are read once

    with CaptureQueriesContext(db) as with_rules:
        post(post_alert, storm_alert("vm-2"))

    assert len(data_queries(with_rules)) == len(data_queries(without_rules))


@pytest.mark.django_db
def test_correlation_joining_costs_what_a_groups_first_alert_does(
    connection: Connection, post_alert: Any
) -> None:
    make_rule()
    post(post_alert, storm_alert("warm-up", resource_group="rg-warm"))  # key set, caches
    with CaptureQueriesContext(db) as first:
        assert post(post_alert, storm_alert("vm-1"))["status"] == "created"

    with CaptureQueriesContext(db) as join:
        assert post(post_alert, storm_alert("vm-2", minutes=1))["status"] == "grouped"

    # The counters' UPDATE in place of the incident's INSERT; on PostgreSQL with the links
    # and the journal line in the same statement (fastpath), as the INSERT has them.
    assert len(data_queries(join)) == len(data_queries(first))


def _group_rows() -> dict[str, list[dict[str, Any]]]:
    """The group's incident, links and journal, without ids (which differ between runs)."""
    ids = {"id", "incident_id", "configuration_item_id", "number"}
    rows = {}
    for model in (Incident, IncidentConfigurationItem, JournalEntry):
        values = model.objects.order_by("pk").values()
        rows[model.__name__] = [{k: v for k, v in r.items() if k not in ids} for r in values]
    return rows


@pytest.mark.django_db
@pytest.mark.skipif(not is_postgres(), reason="the combined statement runs on PostgreSQL only")
def test_correlation_join_fastpath_gives_the_rows_of_the_orm_path(
    connection: Connection, post_alert: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_rule()
    post(post_alert, storm_alert("warm-up", resource_group="rg-warm"))  # key set, caches
    monkeypatch.setattr("django.utils.timezone.now", lambda: T0 + timedelta(hours=1))
    rows = []
    for fast in (False, True):
        Delivery.objects.all().delete()
        Alert.objects.all().delete()
        Incident.objects.all().delete()
        monkeypatch.setattr(fastpath, "supported", lambda fast=fast: fast)
        post(post_alert, storm_alert("vm-1", severity="Sev3", alertId="one"))
        answer = post(post_alert, storm_alert("vm-2", minutes=1, severity="Sev1", alertId="two"))
        assert answer["status"] == "grouped"
        rows.append(_group_rows())

    assert rows[0] == rows[1]
    (incident,) = rows[0]["Incident"]
    assert (incident["alert_count"], incident["priority"]) == (2, 2)
    assert len(rows[0]["IncidentConfigurationItem"]) == 2


@pytest.mark.django_db
def test_new_incident_holds_one_alert_fired_at_its_time(
    connection: Connection, post_alert: Any
) -> None:
    number = post(post_alert, storm_alert("vm-1", minutes=3))["incident"]

    incident = Incident.objects.get(number=number)
    assert (incident.alert_count, incident.last_alert_at) == (1, T0 + timedelta(minutes=3))
    assert incident.group_key == ""


@pytest.mark.django_db
def test_event_follow_up_counts_the_alert_on_its_incident(
    connection: Connection, post_alert: Any
) -> None:
    first = post(post_alert, load_fixture("azure/service-health-active.json"))
    update = post(post_alert, load_fixture("azure/service-health-update.json"))

    assert (update["status"], update["incident"]) == ("updated", first["incident"])
    incident = Incident.objects.get(number=first["incident"])
    assert incident.alert_count == 2
    fired = [
        at for at in Alert.objects.filter(incident=incident).values_list("fired_at", flat=True)
    ]
    assert incident.last_alert_at == max(at for at in fired if at is not None)


@pytest.mark.django_db
def test_correlation_grouped_resolved_first_alert_follows_resolve_on(
    connection: Connection, post_alert: Any
) -> None:
    make_rule(resolve_on=ResolveOn.ALL)
    number = post(post_alert, storm_alert("vm-1"))["incident"]

    late = post(post_alert, resolved(storm_alert("vm-2", minutes=1), 2))

    assert (late["status"], late["incident"]) == ("grouped", number)
    assert Incident.objects.get(number=number).state == IncidentState.NEW  # vm-1 still fires
