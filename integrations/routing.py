"""Assignment rules: which team a new incident from Azure goes to (contract: Routing).

When Azure opens an incident (integrations.opening, `incident_open_for_alert`: the
webhook's, also for the first alert of a correlation group, and a maintenance window's
release), `route_new` finds the first enabled rule,
by position, whose connection and `match` fit the alert and its configuration items, and
gives the incident that rule's group before it is written, the opening journal line
naming the rule: no statement more. Nothing here ever changes an existing incident, so
an assignment a person made is never overwritten.

`match` is as correlation rules' (integrations.correlation, `alert_facets`) plus
`ci_classes`, the classes of the alert's configuration items. The enabled rules are
cached per process, re-read after CONNECTION_CACHE_SECONDS and cleared at once in this
process when a rule (or a group's name) is saved or deleted (integrations.apps): a
delivery costs no query for them, however many rules there are.
"""

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from cmdb.models import ConfigurationItem
from cmdb.resource_ids import normalise_resource_id, parse_resource_id
from incidents.models import Incident, JournalEntry

from .correlation import MATCH_KEYS as CORRELATION_MATCH_KEYS
from .correlation import alert_facets, lowered, match_compile
from .models import AssignmentRule, Delivery
from .parsing import AlertParseError, ParsedAlert, parse_alert

MATCH_KEYS = (*CORRELATION_MATCH_KEYS, "ci_classes")


@dataclass(frozen=True, slots=True)
class Rule:
    """An enabled assignment rule as the ingest uses it: non-empty lists, lower-cased."""

    pk: int
    name: str
    connection_id: int | None
    match: Mapping[str, frozenset[str]]
    group_id: int
    group_name: str


def rule_compile(rule: AssignmentRule) -> Rule:
    """The ingest's form of a stored rule (its group must be loaded)."""
    return Rule(
        pk=rule.pk or 0,
        name=rule.name,
        connection_id=rule.connection_id,
        match=match_compile(rule.match, MATCH_KEYS),
        group_id=rule.assignment_group_id or 0,  # 0: an unsaved rule without one (a test)
        group_name=rule.assignment_group.name if rule.assignment_group_id else "",
    )


def facets(
    alert: ParsedAlert, configuration_items: Iterable[ConfigurationItem]
) -> dict[str, frozenset[str]]:
    """What each match key compares against: the alert's facets and its CIs' classes."""
    return {
        **alert_facets(alert),
        "ci_classes": lowered([ci.ci_class for ci in configuration_items]),
    }


def rule_explain(
    rule: Rule,
    *,
    connection_id: int,
    alert: ParsedAlert,
    configuration_items: Iterable[ConfigurationItem],
) -> list[str]:
    """Why the rule does not take the alert, one line per failing condition ([] = it does)."""
    reasons = []
    if rule.connection_id is not None and rule.connection_id != connection_id:
        reasons.append("the alert came through another connection")
    found = facets(alert, configuration_items) if rule.match else {}
    for key, values in rule.match.items():
        if not values & found[key]:
            have = ", ".join(sorted(found[key])) or "nothing"
            reasons.append(
                f"{key.replace('_', ' ')}: the alert has {have}, the rule wants "
                + ", ".join(sorted(values))
            )
    return reasons


def rule_matches(
    rule: Rule,
    *,
    connection_id: int,
    alert: ParsedAlert,
    configuration_items: Iterable[ConfigurationItem],
) -> bool:
    """Whether the rule takes the alert: its connection (or every one), and every list."""
    return _takes(rule, connection_id, lambda: facets(alert, configuration_items))


def _takes(rule: Rule, connection_id: int, found: Callable[[], dict[str, frozenset[str]]]) -> bool:
    """`rule_matches`, with the alert's facets computed when first needed."""
    if rule.connection_id is not None and rule.connection_id != connection_id:
        return False
    if not rule.match:
        return True
    values = found()
    return all(wanted & values[key] for key, wanted in rule.match.items())


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
        for r in AssignmentRule.objects.filter(enabled=True)
        .select_related("assignment_group")
        .order_by("position", "pk")
    )
    with _rules_lock:
        _rules = (rules, now)
    return rules


def rules_cache_clear(**kwargs: Any) -> None:
    """Forget the cached rules (a rule or group changed here, a test starts); a receiver too."""
    global _rules
    with _rules_lock:
        _rules = None


def rule_for(
    *,
    connection_id: int,
    alert: ParsedAlert,
    configuration_items: Iterable[ConfigurationItem],
) -> Rule | None:
    """The first enabled rule that takes the alert (no query while the cache is fresh)."""
    rules = rules_cached()
    if not rules:
        return None
    cis = list(configuration_items)
    computed: list[dict[str, frozenset[str]]] = []

    def found() -> dict[str, frozenset[str]]:
        # The alert's facets once per alert, not once per rule: they parse its targets.
        if not computed:
            computed.append(facets(alert, cis))
        return computed[0]

    for rule in rules:
        if _takes(rule, connection_id, found):
            return rule
    return None


def route_new(
    *,
    incident: Incident,
    journal: JournalEntry,
    connection_id: int,
    alert: ParsedAlert,
    configuration_items: Iterable[ConfigurationItem],
) -> Rule | None:
    """Give a new (unsaved) incident from Azure the group of the first matching rule, and
    name the rule in its (unsaved) opening journal line; return the rule, or None."""
    rule = rule_for(
        connection_id=connection_id, alert=alert, configuration_items=configuration_items
    )
    if rule is not None:
        incident.assignment_group_id = rule.group_id
        journal.message = (
            f"{journal.message} Assigned to {rule.group_name} by assignment rule {rule.name!r}."
        )
    return rule


@dataclass(frozen=True, slots=True)
class RuleTest:
    """What a rule would do with a stored delivery's alert (the console's "Test")."""

    matches: bool
    reasons: list[str]
    alert: ParsedAlert | None = None
    error: str = ""


def rule_test(*, rule: AssignmentRule, delivery: Delivery) -> RuleTest:
    """Try an (unsaved) rule on the alert of a stored delivery; nothing is written.

    The alert's CIs are the ones the CMDB holds for its targets (read, not created).
    """
    try:
        alert = parse_alert(bytes(delivery.body))
    except AlertParseError as exc:
        return RuleTest(matches=False, reasons=[], error=exc.message)
    ids = [parse_resource_id(t).resource_id for t in alert.target_ids]
    cis = list(
        ConfigurationItem.objects.filter(
            azure_resource_id__in=[normalise_resource_id(i) for i in ids]
        )
    )
    names = {ci.name.lower() for ci in cis}
    extra = [n for n in alert.configuration_items if n.strip().lower() not in names]
    if extra:
        cis += list(ConfigurationItem.objects.filter(name__in=extra))
    compiled = rule_compile(rule)
    reasons = rule_explain(
        compiled,
        connection_id=delivery.connection_id,
        alert=alert,
        configuration_items=cis,
    )
    return RuleTest(matches=not reasons, reasons=reasons, alert=alert)
