"""Operators reshape what correlation made: merge an incident into another, split alerts out.

Both move Azure alerts between incidents, so they live here (integrations knows alerts;
incidents does not). Each runs in one transaction with both incidents' rows locked in
primary-key order (PostgreSQL; SQLite has one writer), and every state change is a
compare-and-set on the state read under that lock. A refusal changes nothing.
"""

import logging
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import Count, Max, Min, Q
from django.utils import timezone

from cmdb.models import ConfigurationItem
from cmdb.resource_ids import parse_resource_id
from cmdb.services import ci_unique_by_names, ci_upsert_for_resources
from core.display import datetime_display
from core.exceptions import ApplicationError, StateChanged, TransitionNotAllowed
from incidents.choices import OPEN_STATES, IncidentState, JournalKind, ResolutionCode
from incidents.models import Incident, IncidentConfigurationItem
from incidents.services import (
    FINAL_STATES,
    TRANSITIONS,
    Actor,
    incident_link_configuration_items,
    incident_new,
    incident_priority_rise,
    incident_resolve,
    incident_unlink_configuration_items,
    journal_add,
    priority_rise_note,
)
from incidents.sla import SLA_READ

from . import correlation
from .choices import AZURE_MONITOR_ACTOR, MonitorCondition, ResolveOn
from .models import Alert, Delivery
from .opening import incident_open_routed
from .parsing import AlertParseError, ParsedAlert, parse_alert
from .summaries import incident_description, incident_title

logger = logging.getLogger(__name__)

S = IncidentState
# Most severe first; an alert without a severity counts least.
SEVERITY_ORDER = ("Sev0", "Sev1", "Sev2", "Sev3", "Sev4")
# The incident fields the lock reads: what the refusals, the counters, a priority rise
# (with its SLA clocks) and a resolve need.
_LOCKED_FIELDS = tuple(
    dict.fromkeys(
        (
            "id",
            "number",
            "state",
            "alert_count",
            "last_alert_at",
            "group_key",
            "impact",
            "urgency",
            "priority",
            "severity",
            "priority_set_by_person",
            "assignment_group",
            *SLA_READ,
        )
    )
)


@dataclass(frozen=True, slots=True)
class MergeResult:
    """What a merge did: `source` (now canceled as a duplicate) went into `target`."""

    source: Incident
    target: Incident
    alerts_moved: int


@dataclass(frozen=True, slots=True)
class SplitResult:
    """What a split did: `alerts_moved` alerts of `source` now make up `incident`."""

    source: Incident
    incident: Incident
    alerts_moved: int


def _state_label(state: str) -> str:
    return S(state).label.lower()


def _lock(*pks: int) -> dict[int, Incident]:
    """The incidents' rows, locked in primary-key order (so two merges cannot deadlock)."""
    rows = Incident.objects.select_for_update().filter(pk__in=pks).order_by("pk")
    locked = {row.pk: row for row in rows.only(*_LOCKED_FIELDS)}
    missing = [pk for pk in pks if pk not in locked]
    if missing:
        raise StateChanged("The incident was deleted meanwhile; reload the page.")
    return locked


def _tally(incident: Incident) -> tuple[dict[str, object], str | None]:
    """`alert_count` and `last_alert_at` as the incident's alerts now say, and their most
    severe severity (one query: "Sev0" sorts first)."""
    found = Alert.objects.filter(incident=incident).aggregate(
        n=Count("pk"),
        last=Max("fired_at"),
        worst=Min("severity", filter=Q(severity__in=SEVERITY_ORDER)),
    )
    return {"alert_count": found["n"], "last_alert_at": found["last"]}, found["worst"]


def _counters(incident: Incident) -> dict[str, object]:
    """`alert_count` and `last_alert_at` as the incident's alerts now say (one query)."""
    return _tally(incident)[0]


def _update(incident: Incident, state: str, values: dict[str, object]) -> None:
    """Write `values` if the incident is still in `state` (compare-and-set), else refuse."""
    written = Incident.objects.filter(pk=incident.pk, state=state).update(**values)
    if not written:
        raise StateChanged(f"{incident.number} changed meanwhile; reload it.")
    for field, value in values.items():
        setattr(incident, field, value)


def _plural(n: int, word: str = "alert") -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


@transaction.atomic
def incident_merge(*, incident: Incident, into: Incident, actor: Actor) -> MergeResult:
    """Merge `incident` into `into`: its alerts and CI links move, it is canceled as a duplicate.

    The counters (`alert_count`, `last_alert_at`) of both follow, `into`'s priority rises
    to its most severe alert's (its SLA clocks re-targeted) unless a person set it, as a
    grouped alert raises it; the merged incident leaves its correlation group
    (`group_key` cleared, so the group's next alert joins `into` or opens a new one),
    and both journals say so (MERGED). Refused
    (TransitionNotAllowed, nothing changed): into itself, into a closed or canceled
    incident, or from one that cannot be canceled (resolved, closed or canceled).
    """
    if incident.pk == into.pk:
        raise TransitionNotAllowed(
            f"{incident.number} cannot be merged into itself.", code="merge_into_itself"
        )
    locked = _lock(incident.pk, into.pk)
    source, target = locked[incident.pk], locked[into.pk]
    if target.state in FINAL_STATES:
        raise TransitionNotAllowed(
            f"{target.number} is {_state_label(target.state)}; nothing can be merged into it.",
            code="merge_target_closed",
        )
    if S.CANCELED not in TRANSITIONS[source.state]:
        raise TransitionNotAllowed(
            f"{source.number} is {_state_label(source.state)}; only an open incident can be "
            "merged into another" + (" (reopen it first)." if source.state == S.RESOLVED else "."),
            code="merge_source_closed",
        )
    now = timezone.now()
    moved = Alert.objects.filter(incident=source).update(incident=target, updated_at=now)
    links = IncidentConfigurationItem.objects.filter(incident=source)
    cis = [ConfigurationItem(pk=pk) for pk in links.values_list("configuration_item_id", flat=True)]
    incident_link_configuration_items(incident=target, configuration_items=cis)
    links.delete()
    from_state = source.state
    _update(
        source,
        from_state,
        {
            "state": S.CANCELED,
            "resolution_code": ResolutionCode.DUPLICATE,
            "resolution_notes": f"Duplicate of {target.number}: merged into it.",
            "group_key": "",
            "alert_count": 0,
            "updated_at": now,
        },
    )
    counters, worst = _tally(target)
    raised = incident_priority_rise(incident=target, severity=worst)
    rise = priority_rise_note(incident=target, raised=raised)
    _update(target, target.state, {**counters, **raised, "updated_at": now})
    journal_add(
        incident=source,
        actor=actor,
        kind=JournalKind.MERGED,
        message=f"Merged into {target.number}: {_plural(moved)} and {_plural(len(cis), 'CI')} "
        "moved there; canceled as a duplicate.",
        from_state=from_state,
        to_state=S.CANCELED,
        at=now,
    )
    journal_add(
        incident=target,
        actor=actor,
        kind=JournalKind.MERGED,
        message=f"{source.number} merged in: {_plural(moved)}.{rise}",
        at=now,
    )
    logger.info(
        "incident.merged source=%s target=%s alerts=%s", source.number, target.number, moved
    )
    return MergeResult(source=source, target=target, alerts_moved=moved)


def _first_message(alert: Alert) -> ParsedAlert | None:
    """The alert as Azure first sent it (its oldest delivery kept), or None once purged."""
    delivery = (
        Delivery.objects.filter(alert=alert).order_by("received_at", "pk").only("body").first()
    )
    if delivery is None:
        return None
    try:
        return parse_alert(bytes(delivery.body))
    except AlertParseError:
        return None  # stored as received; it parsed then, but the parser may have changed


def _as_parsed(alert: Alert) -> ParsedAlert:
    """The alert as its row keeps it (its first message purged): what routing matches on."""
    return ParsedAlert(
        alert_id=alert.alert_id,
        monitor_condition=alert.monitor_condition,
        alert_rule=alert.alert_rule or None,
        alert_rule_id=alert.alert_rule_id or None,
        severity=alert.severity,
        signal_type=alert.signal_type or None,
        monitoring_service=alert.monitoring_service or None,
        target_ids=tuple(alert.target_ids),
        configuration_items=tuple(alert.configuration_items),
        origin_alert_id=None,
        fired_at=alert.fired_at,
        resolved_at=alert.resolved_at,
        description=None,
        alert_context=None,
        custom_properties=None,
    )


def _title_of(alert: Alert, parsed: ParsedAlert | None) -> tuple[str, str]:
    """The title and description the ingest gave an incident this alert opened.

    From the alert's first delivery (`parsed`); if the delivery log no longer holds it,
    from the fields the alert row keeps (the rule and its first target).
    """
    if parsed is not None:
        return incident_title(parsed), incident_description(parsed)
    head = alert.alert_rule or alert.monitoring_service or "Azure Monitor alert"
    if alert.target_ids:
        name = parse_resource_id(alert.target_ids[0]).name
        if name and name.lower() not in head.lower():
            head = f"{head} on {name}"
    return head[:255], f"Alert ID: {alert.alert_id}"


def _most_severe(alerts: Collection[Alert]) -> str | None:
    severities = [a.severity for a in alerts if a.severity in SEVERITY_ORDER]
    return min(severities, key=SEVERITY_ORDER.index) if severities else None


def _configuration_items(alerts: Collection[Alert], seen_at: datetime) -> list[ConfigurationItem]:
    """The CIs of these alerts, found as the ingest finds them (targets, then names)."""
    targets = [t for alert in alerts for t in alert.target_ids]
    cis = ci_upsert_for_resources(resource_ids=targets, seen_at=seen_at) if targets else []
    known = {ci.name.lower() for ci in cis}
    names = [
        n for alert in alerts for n in alert.configuration_items if n.strip().lower() not in known
    ]
    if names:
        cis += ci_unique_by_names(names=names)
    return cis


def _named_configuration_item_ids(alerts: Collection[Alert]) -> set[int]:
    """The CIs these alerts name, as the ingest finds them, read only (nothing upserted)."""
    targets = {parse_resource_id(t).resource_id for alert in alerts for t in alert.target_ids}
    found = ConfigurationItem.objects.filter(azure_resource_id__in=targets) if targets else []
    ids = {ci.pk for ci in found}
    known = {ci.name.lower() for ci in found}
    names = [
        n for alert in alerts for n in alert.configuration_items if n.strip().lower() not in known
    ]
    return ids | {ci.pk for ci in ci_unique_by_names(names=names)} if names else ids


def _cis_left_behind(
    *, source: Incident, moved: Collection[ConfigurationItem], staying: Collection[Alert]
) -> list[str]:
    """Unlink from `source` the CIs only the moved alerts named; return their names.

    A CI an alert left on it still names stays, and so does one no moved alert names
    (a person linked it). A person's link to a CI a moved alert also names cannot be
    told apart from the alert's (links do not say who made them): it moves with it.
    """
    gone = {ci.pk: ci.name for ci in moved}
    for pk in _named_configuration_item_ids(staying):
        gone.pop(pk, None)
    if not gone:
        return []
    linked = set(
        IncidentConfigurationItem.objects.filter(
            incident=source, configuration_item_id__in=gone
        ).values_list("configuration_item_id", flat=True)
    )
    incident_unlink_configuration_items(incident=source, configuration_item_ids=linked)
    return sorted(gone[pk] for pk in linked)


def _resolved_by_azure(alerts: Collection[Alert]) -> datetime | None:
    """When Azure resolved the last of these alerts, if an incident holding just them
    would be resolved by the ingest (`resolve_on` `all`): every alert Azure resolves is
    resolved, there is one, and no member's rule leaves it to a person (`never`)."""
    rules = {a.correlation_rule_id for a in alerts}
    if any(correlation.resolve_on_for(rule) == ResolveOn.NEVER for rule in rules):
        return None
    stateful = [a for a in alerts if a.azure_resolves]
    if not stateful or any(a.monitor_condition == MonitorCondition.FIRED for a in stateful):
        return None
    return max(a.resolved_at or a.updated_at for a in stateful)


def _resolve_if_all_resolved(*, incident: Incident, alerts: Collection[Alert]) -> bool:
    """Resolve an incident a split left holding only resolved alerts, as the ingest would."""
    resolved_at = _resolved_by_azure(alerts)
    if resolved_at is None or incident.state not in OPEN_STATES:
        return False
    incident_resolve(
        incident=incident,
        actor=AZURE_MONITOR_ACTOR,
        resolution_code=ResolutionCode.RESOLVED_BY_SOURCE,
        resolution_notes="Azure Monitor reported every alert it holds resolved (the last at "
        f"{datetime_display(resolved_at)}).",
        resolved_at=resolved_at,
    )
    return True


@transaction.atomic
def incident_split(*, incident: Incident, alert_pks: Collection[int], actor: Actor) -> SplitResult:
    """Move some of an open incident's alerts to a new incident; return it.

    The new incident opens as the webhook opens one (integrations.opening): its title
    from its first alert (the oldest firing), routed by the first assignment rule that
    takes that alert and the CIs of the moved alerts, its SLA clocks started from its
    priority (the most severe alert's severity) and `incident_opened` emitted. It holds
    the CIs of its alerts; both journals say so (SPLIT) and both counters follow. The CIs only the
    moved alerts named are unlinked from `incident`. Either incident left holding only
    alerts Azure has resolved is resolved, as the ingest would (`_resolved_by_azure`). Refused
    (ApplicationError, nothing changed): no alert, every alert (nothing would stay),
    an alert of another incident; TransitionNotAllowed if the incident is not open.
    """
    wanted = set(alert_pks)
    if not wanted:
        raise ApplicationError(
            "Choose at least one alert to split out.", code="split_nothing", fields=["alert_ids"]
        )
    source = _lock(incident.pk)[incident.pk]
    if source.state not in OPEN_STATES:
        raise TransitionNotAllowed(
            f"{source.number} is {_state_label(source.state)}; only an open incident's alerts "
            "can be split out.",
            code="split_not_open",
        )
    alerts = list(Alert.objects.filter(incident=source).order_by("fired_at", "created_at", "pk"))
    chosen = [a for a in alerts if a.pk in wanted]
    if len(chosen) != len(wanted):
        raise ApplicationError(
            f"Only alerts of {source.number} can be split out of it.",
            code="split_foreign_alert",
            fields=["alert_ids"],
        )
    if len(chosen) == len(alerts):
        raise ApplicationError(
            f"Every alert of {source.number} was chosen: at least one must stay.",
            code="split_all",
            fields=["alert_ids"],
        )
    now = timezone.now()
    first = min(chosen, key=lambda a: (a.fired_at or a.created_at, a.pk))
    parsed = _first_message(first)
    title, description = _title_of(first, parsed)
    cis = _configuration_items(chosen, now)
    built, journal = incident_new(
        title=title,
        description=description,
        actor=actor,
        severity=_most_severe(chosen),
        opened_at=first.fired_at or now,
        message=f"Opened by splitting {_plural(len(chosen))} out of {source.number}.",
    )
    # As if its first alert had opened it: routing takes the group of that alert's rule.
    new = incident_open_routed(
        incident=built,
        journal=journal,
        connection_id=first.connection_id,
        alert=parsed or _as_parsed(first),
        configuration_items=cis,
    )
    moved = Alert.objects.filter(pk__in=wanted, incident=source).update(
        incident=new, updated_at=now
    )
    if moved != len(chosen):  # cannot happen under the lock; SQLite has one writer
        raise StateChanged(f"{source.number}'s alerts changed meanwhile; reload it.")
    _update(new, new.state, _counters(new))
    _update(source, source.state, {**_counters(source), "updated_at": now})
    staying = [a for a in alerts if a.pk not in wanted]
    unlinked = _cis_left_behind(source=source, moved=cis, staying=staying)
    rules = ", ".join(sorted({a.alert_rule or a.alert_id for a in chosen}))[:1000]
    unlinked_note = (
        f" {'CI' if len(unlinked) == 1 else 'CIs'} {', '.join(unlinked)[:1000]} unlinked."
        if unlinked
        else ""
    )
    journal_add(
        incident=source,
        actor=actor,
        kind=JournalKind.SPLIT,
        message=f"{_plural(moved)} split out into {new.number}: {rules}.{unlinked_note}",
        at=now,
    )
    journal_add(
        incident=new,
        actor=actor,
        kind=JournalKind.SPLIT,
        message=f"Split out of {source.number}: {_plural(moved)}.",
        at=now,
    )
    _resolve_if_all_resolved(incident=source, alerts=staying)
    _resolve_if_all_resolved(incident=new, alerts=chosen)
    logger.info("incident.split source=%s new=%s alerts=%s", source.number, new.number, moved)
    return SplitResult(source=source, incident=new, alerts_moved=moved)
