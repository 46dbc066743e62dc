"""Correlation rules: which alerts a rule groups, and into which open incident.

The ingest (integrations.services, `_alert_create`) asks `rule_for` once per new alertId:
the first enabled rule, by position, whose connection and `match` fit the alert. Its
`group_key` names the group; the group's open incident takes the alert when
`group_takes` says so, otherwise a new incident opens with that key. The partial unique
constraint `incidents_incident_one_open_per_group` makes concurrent first alerts of a
group open one incident: the loser's transaction fails, retries and joins.

The decisions are pure; the enabled rules are cached per process (like connections,
integrations.selectors): a delivery that matches no rule costs no query. The cache is
re-read after CONNECTION_CACHE_SECONDS and cleared at once in this process when a rule
is saved or deleted (integrations.signals), so other processes see a change within
CONNECTION_CACHE_SECONDS.
"""

import hashlib
import json
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings

from cmdb.resource_ids import ResourceRef, parse_resource_id, subscription_of
from incidents.choices import OPEN_STATES
from incidents.models import Incident
from incidents.sla import SLA_READ

from .choices import GroupBy, ResolveOn
from .models import CorrelationRule
from .parsing import ParsedAlert

# Incident.group_key's length; a longer key keeps its prefix and hashes the values.
MAX_GROUP_KEY_LENGTH = 1100
# The match keys, each read from one facet of the alert (`alert_facets`).
MATCH_KEYS = (
    "monitoring_services",
    "severities",
    "alert_rules",
    "subscriptions",
    "resource_groups",
    "resource_types",
)


@dataclass(frozen=True, slots=True)
class Rule:
    """An enabled correlation rule as the ingest uses it: its lists lower-cased, as sets.

    `match` holds only the non-empty lists (an empty or absent list matches anything).
    """

    pk: int
    name: str
    connection_id: int | None
    match: Mapping[str, frozenset[str]]
    group_by: tuple[str, ...]
    window: timedelta
    max_age: timedelta
    resolve_on: str


def lowered(values: object) -> frozenset[str]:
    """A JSON list of strings as a set of lower-cased, stripped strings (other items ignored)."""
    if not isinstance(values, list):
        return frozenset()
    return frozenset(v.strip().lower() for v in values if isinstance(v, str) and v.strip())


def match_compile(match: object, keys: tuple[str, ...]) -> dict[str, frozenset[str]]:
    """A rule's stored `match` as the ingest compares it: the non-empty lists of `keys`,
    lowered (an empty or absent list matches anything, so it is left out).

    Correlation rules and assignment rules (`routing`) match alike.
    """
    given = match if isinstance(match, dict) else {}
    lists = {key: lowered(given.get(key)) for key in keys}
    return {key: values for key, values in lists.items() if values}


def rule_compile(rule: CorrelationRule) -> Rule:
    """The ingest's form of a stored rule."""
    group_by = rule.group_by if isinstance(rule.group_by, list) else []
    return Rule(
        pk=rule.pk,
        name=rule.name,
        connection_id=rule.connection_id,
        match=match_compile(rule.match, MATCH_KEYS),
        group_by=tuple(g for g in group_by if g in GroupBy.values),
        window=timedelta(minutes=rule.window_minutes),
        max_age=timedelta(minutes=rule.max_age_minutes),
        resolve_on=rule.resolve_on,
    )


def _targets(alert: ParsedAlert) -> list[ResourceRef]:
    return [parse_resource_id(t) for t in alert.target_ids]


def alert_facets(alert: ParsedAlert) -> dict[str, frozenset[str]]:
    """What each match key compares against, lower-cased.

    Subscriptions, resource groups and types come from the targets (a target-less alert,
    a budget say, takes the subscription of its alert ID). The alert rule matches by name
    or by its full rule ID.
    """
    refs = _targets(alert)
    subscriptions = {r.subscription_id for r in refs} or {subscription_of(alert.alert_id)}
    return {
        "monitoring_services": lowered([alert.monitoring_service or ""]),
        "severities": lowered([alert.severity or ""]),
        "alert_rules": lowered([alert.alert_rule or "", alert.alert_rule_id or ""]),
        "subscriptions": lowered(list(subscriptions)),
        "resource_groups": lowered([r.resource_group for r in refs]),
        "resource_types": lowered([r.ci_class for r in refs]),
    }


def rule_matches(
    rule: Rule,
    *,
    connection_id: int,
    alert: ParsedAlert,
    facets: Mapping[str, frozenset[str]] | None = None,
) -> bool:
    """Whether the rule takes the alert: its connection (or every one), and every list.

    `facets`: the alert's, when the caller computed them already (`alert_facets`).
    """
    if rule.connection_id is not None and rule.connection_id != connection_id:
        return False
    if not rule.match:
        return True
    facets = alert_facets(alert) if facets is None else facets
    return all(values & facets[key] for key, values in rule.match.items())


def rule_first_matching(
    rules: tuple[Rule, ...], *, connection_id: int, alert: ParsedAlert
) -> Rule | None:
    """The first of `rules` (in order) that takes the alert, or None.

    The alert's facets are worked out once, at the first rule that needs them: parsing
    its resource IDs costs more than comparing sets (20 rules: 240 → 40 µs per alert).
    """
    facets: Mapping[str, frozenset[str]] | None = None
    for rule in rules:
        if rule.match and facets is None and rule.connection_id in (None, connection_id):
            facets = alert_facets(alert)
        if rule_matches(rule, connection_id=connection_id, alert=alert, facets=facets):
            return rule
    return None


def group_values(rule: Rule, alert: ParsedAlert) -> list[str]:
    """The alert's value for each of the rule's `group_by`, lower-cased (first target's)."""
    first = parse_resource_id(alert.target_ids[0]) if alert.target_ids else None
    by_target = {
        GroupBy.SUBSCRIPTION: first.subscription_id if first else subscription_of(alert.alert_id),
        GroupBy.RESOURCE_GROUP: first.resource_group if first else "",
        GroupBy.RESOURCE_TYPE: first.ci_class if first else "",
        GroupBy.TARGET: first.resource_id if first else "",
    }
    by_alert = {
        GroupBy.ALERT_RULE: alert.alert_rule or alert.alert_rule_id or "",
        GroupBy.MONITORING_SERVICE: alert.monitoring_service or "",
        GroupBy.SEVERITY: alert.severity or "",
    }
    values = {**by_target, **by_alert}
    return [values[GroupBy(g)].strip().lower() for g in rule.group_by]


def group_key(rule: Rule, *, connection_id: int, alert: ParsedAlert) -> str:
    """The group's key: connection, rule and the grouped values; stable and bounded.

    Within MAX_GROUP_KEY_LENGTH UTF-8 bytes (the unique index holds it): a longer one
    keeps the connection and rule and hashes the values.
    """
    prefix = f"{connection_id}:{rule.pk}:"
    values = json.dumps(group_values(rule, alert), ensure_ascii=False, separators=(",", ":"))
    key = prefix + values
    if len(key.encode()) <= MAX_GROUP_KEY_LENGTH:
        return key
    return prefix + "sha256:" + hashlib.sha256(values.encode()).hexdigest()


def group_takes(
    rule: Rule, *, last_alert_at: datetime | None, opened_at: datetime, fired_at: datetime
) -> bool:
    """Whether the group's open incident takes an alert that fired at `fired_at`.

    Its newest alert fired within the rule's window of this one, and it opened within
    the rule's maximum age. A late alert (fired before the newest) is within the window.
    """
    newest = last_alert_at or opened_at
    return fired_at - newest <= rule.window and fired_at - opened_at <= rule.max_age


# Per process: (enabled rules by position, monotonic time read); None until first read.
_rules: tuple[tuple[Rule, ...], float] | None = None
_rules_lock = threading.Lock()


def rules_cached() -> tuple[Rule, ...]:
    """The enabled rules by position, read at most every CONNECTION_CACHE_SECONDS."""
    global _rules
    now = time.monotonic()
    cached = _rules
    if cached is not None and now - cached[1] < settings.CONNECTION_CACHE_SECONDS:
        return cached[0]
    rules = tuple(
        rule_compile(r)
        for r in CorrelationRule.objects.filter(enabled=True).order_by("position", "pk")
    )
    with _rules_lock:
        _rules = (rules, now)
    return rules


def rules_cache_clear() -> None:
    """Forget the cached rules (a rule changed in this process, or a test starts)."""
    global _rules
    with _rules_lock:
        _rules = None


def rule_for(*, connection_id: int, alert: ParsedAlert) -> Rule | None:
    """The first enabled rule that takes the alert (no query while the cache is fresh)."""
    rules = rules_cached()
    if not rules:
        return None
    return rule_first_matching(rules, connection_id=connection_id, alert=alert)


def resolve_on_for(rule_id: int | None) -> str:
    """The `resolve_on` of a member alert's rule; `all` when the rule is gone.

    A disabled rule is not cached: it is read (one query, only on a grouped Resolved).
    """
    if rule_id is None:
        return ResolveOn.ALL
    for rule in rules_cached():
        if rule.pk == rule_id:
            return rule.resolve_on
    stored = CorrelationRule.objects.filter(pk=rule_id).values_list("resolve_on", flat=True)
    return stored.first() or ResolveOn.ALL


# The group incident's fields the join reads and decides on.
GROUP_READ = (
    "id",
    "number",
    "state",
    "opened_at",
    "last_alert_at",
    "impact",
    "urgency",
    "priority",
    "severity",
    "priority_set_by_person",
    "group_key",
    *SLA_READ,  # a priority rise re-targets the SLA clocks
)


def group_incident(*, key: str) -> Incident | None:
    """The group's open incident, locked until the transaction ends (PostgreSQL), or None."""
    return (
        Incident.objects.select_for_update()
        .filter(group_key=key, state__in=OPEN_STATES)
        .only(*GROUP_READ)
        .first()
    )
