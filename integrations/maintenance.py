"""Maintenance windows: which alerts a window holds back, and what it opens when it ends.

Pure decisions (`scope_clean`, `covers`) plus small store functions:

* the ingest asks `window_holding` for each new alert: a per-process cache of the windows
  not yet ended answers without a query when none covers it; a covering one is read
  again under a row lock (so a stale cache or a concurrent release cannot hold an alert
  that nothing will release);
* `maintenance_window_create`/`_update`/`_delete`/`_end` are the writes of the API and
  the console; creating a window or moving its end enqueues the release job at `ends_at`;
* `maintenance_window_release` (the job) opens an incident for every alert the window
  held that still fires, journaled as held back by the window, once.

Service Health and Resource Health messages a window held are followed per event: the
latest decisive message of the event says whether it still needs an incident (an outage
that Azure declared resolved, or a resource back to Available, before the window ended
opens nothing); otherwise one incident is opened for the event, holding all its messages.
"""

import functools
import logging
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Count, DateTimeField, F, Q, QuerySet, Value
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from cmdb.models import ConfigurationItem
from cmdb.resource_ids import (
    ResourceRef,
    normalise_resource_id,
    parse_resource_id,
    subscription_of,
)
from core import jobs
from core.display import datetime_display
from core.exceptions import ApplicationError
from incidents.choices import OPEN_STATES, JournalKind
from incidents.models import Incident
from incidents.services import (
    incident_alert_added,
    incident_group_release,
    incident_link_configuration_items,
    journal_add,
)

from . import correlation
from .choices import AZURE_MONITOR_ACTOR, MonitorCondition
from .lifecycles import HealthMove, Kind, Lifecycle, lifecycle_of
from .models import Alert, Connection, MaintenanceWindow
from .opening import alert_configuration_items, incident_open_for_alert
from .parsing import AlertParseError, ParsedAlert, parse_alert

logger = logging.getLogger(__name__)

RELEASE_JOB = "integrations.maintenance_release"
# The scope's lists (contract); an empty or absent list matches anything.
SCOPE_KEYS = (
    "subscriptions",
    "resource_groups",
    "resource_ids",
    "configuration_items",
    "alert_rules",
)
MAX_SCOPE_ITEMS = 500
MAX_SCOPE_ITEM_LENGTH = 1024
# Still held back: no incident yet, and Azure has not said it is resolved.
HOLDING = Q(alerts__incident__isnull=True, alerts__monitor_condition=MonitorCondition.FIRED)


# --- scope: validation and matching (pure) --------------------------------------------------


def scope_clean(value: Any) -> dict[str, list[str]]:
    """A window's scope as stored: every key of SCOPE_KEYS, each a list of strings.

    Raises ValueError naming what is wrong: not an object, an unknown key, a value that
    is not a list of non-empty strings.
    """
    if value is None:
        value = {}
    if not isinstance(value, Mapping):
        raise ValueError("The scope must be an object with the keys " + ", ".join(SCOPE_KEYS))
    unknown = sorted(str(k) for k in value if k not in SCOPE_KEYS)
    if unknown:
        raise ValueError(
            f"Unknown scope key {unknown[0][:60]!r}; the keys are " + ", ".join(SCOPE_KEYS) + "."
        )
    cleaned: dict[str, list[str]] = {}
    for key in SCOPE_KEYS:
        items = value.get(key) or []
        if not isinstance(items, list | tuple) or not all(isinstance(i, str) for i in items):
            raise ValueError(f"scope.{key} must be a list of strings.")
        stripped = [i.strip() for i in items]
        if any(not i for i in stripped):
            raise ValueError(f"scope.{key} holds an empty string.")
        if len(stripped) > MAX_SCOPE_ITEMS or any(len(i) > MAX_SCOPE_ITEM_LENGTH for i in stripped):
            raise ValueError(
                f"scope.{key}: at most {MAX_SCOPE_ITEMS} items of at most "
                f"{MAX_SCOPE_ITEM_LENGTH} characters."
            )
        cleaned[key] = list(dict.fromkeys(stripped))
    return cleaned


@dataclass(frozen=True, slots=True)
class WindowSpec:
    """What matching needs of a window, its scope lower-cased (what the cache holds)."""

    pk: int
    name: str
    connection_id: int | None
    starts_at: datetime
    ends_at: datetime
    subscriptions: frozenset[str]
    resource_groups: frozenset[str]
    resource_ids: tuple[str, ...]
    configuration_items: frozenset[str]
    alert_rules: frozenset[str]

    @property
    def has_resource_scope(self) -> bool:
        return bool(self.subscriptions or self.resource_groups or self.resource_ids)


def window_spec(window: MaintenanceWindow) -> WindowSpec:
    """The matching view of a window (a stored scope that is not valid matches as empty)."""
    scope = window.scope if isinstance(window.scope, dict) else {}

    def lower(key: str) -> frozenset[str]:
        items = scope.get(key)
        items = items if isinstance(items, list) else []
        return frozenset(str(i).strip().lower() for i in items if str(i).strip())

    return WindowSpec(
        pk=window.pk,
        name=window.name,
        connection_id=window.connection_id,
        starts_at=window.starts_at,
        ends_at=window.ends_at,
        subscriptions=lower("subscriptions"),
        resource_groups=lower("resource_groups"),
        resource_ids=tuple(sorted(normalise_resource_id(r) for r in lower("resource_ids"))),
        configuration_items=lower("configuration_items"),
        alert_rules=lower("alert_rules"),
    )


@functools.lru_cache(maxsize=4096)
def _target(target: str) -> tuple[str, ResourceRef]:
    """A target's normalised ID and parts, parsed once per process for every window."""
    resource_id = normalise_resource_id(target)
    return resource_id, parse_resource_id(resource_id)


def _target_matches(spec: WindowSpec, target: str, names: frozenset[str]) -> bool:
    resource_id, ref = _target(target)
    if spec.subscriptions and subscription_of(resource_id) not in spec.subscriptions:
        return False
    if spec.resource_groups and ref.resource_group not in spec.resource_groups:
        return False
    if spec.resource_ids and not any(
        # The resource itself or anything under it, at a '/' boundary.
        resource_id == scope or resource_id.startswith(scope + "/")
        for scope in spec.resource_ids
    ):
        return False
    return not spec.configuration_items or bool(
        spec.configuration_items & (names | {ref.name.lower()})
    )


def covers(
    spec: WindowSpec,
    *,
    connection_id: int,
    fired_at: datetime,
    alert_rule: str | None,
    target_ids: Sequence[str],
    configuration_items: Iterable[str] = (),
) -> bool:
    """Whether the window holds back an alert of `connection_id` that fired at `fired_at`.

    It fired inside [starts_at, ends_at), its rule is in `alert_rules` (if any), and one
    of its targets is in every non-empty resource list (subscriptions, resource groups,
    resource IDs: the resource or anything under it) and, if `configuration_items` is
    given, names one of them (the target's name or Azure's configurationItems). An alert
    without a target is covered only by a window without a resource scope.
    """
    if spec.connection_id is not None and spec.connection_id != connection_id:
        return False
    if not spec.starts_at <= fired_at < spec.ends_at:
        return False
    if spec.alert_rules and (alert_rule or "").strip().lower() not in spec.alert_rules:
        return False
    names = frozenset(n.strip().lower() for n in configuration_items)
    if not target_ids:
        return not spec.has_resource_scope and (
            not spec.configuration_items or bool(spec.configuration_items & names)
        )
    return any(_target_matches(spec, target, names) for target in target_ids)


# --- the per-process cache ------------------------------------------------------------------

_cache: tuple[float, tuple[WindowSpec, ...]] | None = None
_cache_lock = threading.Lock()


def windows_cache_clear() -> None:
    """Forget the cached windows (a window was saved or deleted in this process)."""
    global _cache
    with _cache_lock:
        _cache = None


def windows_cached() -> tuple[WindowSpec, ...]:
    """The windows not yet ended, read at most every CONNECTION_CACHE_SECONDS.

    Other processes see a change within that time; this one at once (signals).
    """
    global _cache
    now = time.monotonic()
    cached = _cache
    if cached is not None and now - cached[0] < settings.CONNECTION_CACHE_SECONDS:
        return cached[1]
    windows = MaintenanceWindow.objects.filter(
        ends_at__gt=timezone.now(), released_at__isnull=True
    ).order_by("-ends_at", "pk")
    specs = tuple(window_spec(w) for w in windows)
    with _cache_lock:
        _cache = (now, specs)
    return specs


def window_holding(
    *, connection: Connection, alert: ParsedAlert, received_at: datetime
) -> MaintenanceWindow | None:
    """The window that holds back this new alert, locked until the transaction ends; or None.

    No query unless a cached window covers it. A covering window is read again under a
    row lock and checked as it stands: a window changed or ended elsewhere holds
    nothing, and the release job (which takes the same lock) never misses an alert held
    while it runs. The window ending last wins when several cover the alert.
    """
    fired_at = alert.fired_at or received_at
    facts: dict[str, Any] = {
        "connection_id": connection.pk,
        "fired_at": fired_at,
        "alert_rule": alert.alert_rule,
        "target_ids": alert.target_ids,
        "configuration_items": alert.configuration_items,
    }
    candidates = [s for s in windows_cached() if received_at < s.ends_at and covers(s, **facts)]
    for spec in candidates:  # ending last first (the cache's order)
        window = (
            MaintenanceWindow.objects.select_for_update()
            .filter(pk=spec.pk, released_at__isnull=True, ends_at__gt=received_at)
            .first()
        )
        if window is not None and covers(window_spec(window), **facts):
            return window
    return None


# --- writes: create, change, end, delete ----------------------------------------------------


class WindowConflict(ApplicationError):
    """The window's state refuses the change (it held alerts, it has ended, not started)."""

    status_code = 409


def release_schedule(*, window: MaintenanceWindow) -> None:
    """Enqueue the release at the window's end (in the caller's transaction).

    Keyed by window and end time: moving the end enqueues another job; the job for an
    end that moved finds it moved and does nothing but make sure the new one waits.
    """
    jobs.enqueue(
        RELEASE_JOB,
        key=f"maintenance-release:{window.pk}:{int(window.ends_at.timestamp())}",
        run_after=window.ends_at,
        window_id=window.pk,
    )


WINDOW_FIELDS = ("name", "reason", "starts_at", "ends_at", "connection", "scope")


def _validated(window: MaintenanceWindow) -> None:
    if window.ends_at <= window.starts_at:
        raise ApplicationError(
            "The window must end after it starts.", code="invalid_window", fields=["ends_at"]
        )
    try:
        window.scope = scope_clean(window.scope)
    except ValueError as exc:
        raise ApplicationError(str(exc), code="invalid_scope", fields=["scope"]) from None
    window.full_clean()


@transaction.atomic
def maintenance_window_create(
    *,
    name: str,
    starts_at: datetime,
    ends_at: datetime,
    reason: str = "",
    connection: Connection | None = None,
    scope: Mapping[str, Any] | None = None,
    created_by: User | None = None,
) -> MaintenanceWindow:
    """Plan a maintenance window and enqueue its release at `ends_at`.

    Raises ApplicationError (invalid_window, invalid_scope) for a window that ends
    before it starts or a scope that is not lists of strings under known keys.
    """
    window = MaintenanceWindow(
        name=name,
        reason=reason,
        starts_at=starts_at,
        ends_at=ends_at,
        connection=connection,
        scope=dict(scope or {}),
        created_by=created_by,
    )
    _validated(window)
    window.save(force_insert=True)
    release_schedule(window=window)
    logger.info("maintenance.window_created id=%s ends_at=%s", window.pk, ends_at.isoformat())
    return window


@transaction.atomic
def maintenance_window_update(*, window: MaintenanceWindow, **changes: Any) -> MaintenanceWindow:
    """Change a window (WINDOW_FIELDS); a new end enqueues the release at that time.

    A window that has ended and released what it held keeps its times, scope and
    connection (ApplicationError window_released); its name and reason may change.
    """
    unknown = set(changes) - set(WINDOW_FIELDS)
    if unknown:
        raise TypeError(f"Not a window field: {sorted(unknown)}")
    locked = MaintenanceWindow.objects.select_for_update().get(pk=window.pk)
    before_end = locked.ends_at
    if locked.released_at is not None and any(
        f not in ("name", "reason") and getattr(locked, f) != v for f, v in changes.items()
    ):
        raise WindowConflict(
            f"The maintenance window {locked.name!r} has ended and released what it held; "
            "only its name and reason can change. Plan a new window instead.",
            code="window_released",
        )
    for field, value in changes.items():
        setattr(locked, field, value)
    _validated(locked)
    locked.save()
    if locked.ends_at != before_end:
        release_schedule(window=locked)
    return locked


@transaction.atomic
def maintenance_window_end(
    *, window: MaintenanceWindow, now: datetime | None = None
) -> MaintenanceWindow:
    """End a window now: what it holds is released at once (by the job).

    A window that has not started yet cannot end (ApplicationError window_not_started:
    delete it); one that has ended already is left as it is.
    """
    now = now or timezone.now()
    locked = MaintenanceWindow.objects.select_for_update().get(pk=window.pk)
    if locked.ends_at <= now or locked.released_at is not None:
        return locked
    if locked.starts_at >= now:
        raise WindowConflict(
            f"The maintenance window {locked.name!r} has not started; delete it instead.",
            code="window_not_started",
        )
    return maintenance_window_update(window=locked, ends_at=now)


@transaction.atomic
def maintenance_window_delete(*, window: MaintenanceWindow) -> None:
    """Delete a window that never held an alert; one that did is ended instead.

    Raises ApplicationError window_holds_alerts: the alerts it held keep naming it.
    """
    if Alert.objects.filter(maintenance_window=window).exists():
        raise WindowConflict(
            f"The maintenance window {window.name!r} held alerts back; it stays on record. "
            "End it instead (its end releases what it still holds).",
            code="window_holds_alerts",
        )
    window.delete()


# --- reads ------------------------------------------------------------------------------------

WINDOW_STATUSES = ("coming", "active", "ended")


def window_status(window: MaintenanceWindow, now: datetime | None = None) -> str:
    """`coming` (not started), `active` (holding back what it covers) or `ended`."""
    now = now or timezone.now()
    if window.ends_at <= now or window.released_at is not None:
        return "ended"
    return "active" if window.starts_at <= now else "coming"


def window_status_q(statuses: Iterable[str], now: datetime | None = None) -> Q:
    """A filter for windows in any of `statuses` (WINDOW_STATUSES) at `now`."""
    now = now or timezone.now()
    ended = Q(ends_at__lte=now) | Q(released_at__isnull=False)
    parts = {
        "coming": Q(starts_at__gt=now) & ~ended,
        "active": Q(starts_at__lte=now) & ~ended,
        "ended": ended,
    }
    wanted = Q(pk__in=[])
    for status in statuses:
        wanted |= parts[status]
    return wanted


def maintenance_window_list() -> QuerySet[MaintenanceWindow]:
    """Windows, latest start first, with `alert_count` (all it held back) and `held_count`
    (still held: no incident, still firing), and connection and author loaded."""
    return (
        MaintenanceWindow.objects.select_related("connection", "created_by")
        .annotate(alert_count=Count("alerts"), held_count=Count("alerts", filter=HOLDING))
        .order_by("-starts_at", "-pk")
    )


def maintenance_window_alerts(*, window: MaintenanceWindow) -> QuerySet[Alert]:
    """The alerts a window held back, newest first, with their connection and incident."""
    return (
        Alert.objects.filter(maintenance_window=window)
        .select_related("connection", "incident")
        .order_by("-created_at", "-pk")
    )


# --- the release at the window's end ----------------------------------------------------------

ReleaseOutcome = Literal["released", "rescheduled", "unchanged"]


@dataclass(frozen=True, slots=True)
class ReleaseResult:
    """What the end of a window did: the incidents it opened (or joined)."""

    outcome: ReleaseOutcome
    incidents: tuple[Incident, ...] = ()


@dataclass(slots=True)
class _Held:
    row: Alert
    parsed: ParsedAlert
    lifecycle: Lifecycle


def _parsed(row: Alert) -> ParsedAlert:
    """The alert as Azure sent it (its first delivery), or as stored if that is gone."""
    first = row.deliveries.order_by("received_at", "pk").first()
    if first is not None:
        try:
            return parse_alert(bytes(first.body))
        except AlertParseError:
            pass  # accepted once, so it parses; a purged body falls back below
    return ParsedAlert(
        alert_id=row.alert_id,
        monitor_condition=row.monitor_condition,
        alert_rule=row.alert_rule or None,
        alert_rule_id=row.alert_rule_id or None,
        severity=row.severity,
        signal_type=row.signal_type or None,
        monitoring_service=row.monitoring_service or None,
        target_ids=tuple(row.target_ids),
        configuration_items=tuple(row.configuration_items),
        origin_alert_id=None,
        fired_at=row.fired_at,
        resolved_at=row.resolved_at,
        description=None,
        alert_context=None,
        custom_properties=None,
    )


def _still_firing(members: list[_Held], *, ends_at: datetime) -> bool:
    """Whether what the window held was still wrong when it ended.

    One alert: still Fired, or resolved only after the end. An event (Service Health,
    Resource Health): its latest decisive message does not resolve it.
    """
    first = members[0]
    if not first.lifecycle.key:
        row = first.row
        if row.monitor_condition == MonitorCondition.FIRED:
            return True
        return row.resolved_at is not None and row.resolved_at >= ends_at
    decisive = [
        m
        for m in members
        if m.lifecycle.kind == Kind.SERVICE_HEALTH
        or m.lifecycle.health in (HealthMove.OPENS, HealthMove.RESOLVES)
    ]
    return bool(decisive) and not decisive[-1].lifecycle.resolves


def _members_configuration_items(members: list[_Held], *, now: datetime) -> list[ConfigurationItem]:
    """The CIs of what the window held, found as the ingest finds them."""
    cis: list[ConfigurationItem] = []
    for member in members:
        cis += alert_configuration_items(alert=member.parsed, received_at=now)
    return cis


def _group_join(
    *,
    member: _Held,
    rule: correlation.Rule,
    group_key: str,
    configuration_items: list[ConfigurationItem],
) -> Incident | None:
    """Add a released alert to its correlation group's open incident, as the ingest would.

    None when the group has no open incident, or it no longer takes the alert (past the
    rule's window or maximum age: it stops taking alerts, its key cleared).
    """
    group = correlation.group_incident(key=group_key)
    if group is None:
        return None
    row, parsed = member.row, member.parsed
    fired_at = row.fired_at or timezone.now()
    if not correlation.group_takes(
        rule, last_alert_at=group.last_alert_at, opened_at=group.opened_at, fired_at=fired_at
    ):
        incident_group_release(incident=group)
        return None
    where = configuration_items[0].name if configuration_items else "-"
    return incident_alert_added(
        incident=group,
        fired_at=fired_at,
        actor=AZURE_MONITOR_ACTOR,
        kind=JournalKind.GROUPED,
        message=f"Alert {parsed.alert_rule or parsed.alert_id} on {where} "
        f"({parsed.severity or 'no severity'}, {row.monitor_condition}) grouped by "
        f"correlation rule {rule.name!r}.",
        configuration_items=configuration_items,
        raise_priority=True,
        raise_priority_to=parsed.severity,
    )


def _open_for(
    *, members: list[_Held], event_key: str, window: MaintenanceWindow, now: datetime
) -> tuple[Incident, bool]:
    """Open (or join) the incident of what the window held; return it and whether it opened.

    The incident the webhook would have opened (`opening.incident_open_for_alert`: title,
    priority, CIs, assignment rule, SLA clocks, `incident_opened`), opened at the end;
    a single alert a correlation rule takes joins its group's open incident instead (or
    opens it with the group's key), and an event opened since by a later message is
    joined.
    """
    first = members[0]
    rows = [m.row for m in members]
    cis = _members_configuration_items(members, now=now)
    incident = None
    rule = None
    group_key = ""
    if event_key:
        # A message of the event that arrived after the end may have opened it already.
        incident = (
            Incident.objects.filter(event_key=event_key, state__in=OPEN_STATES)
            .order_by("-id")
            .first()
        )
        if incident is not None:
            incident_link_configuration_items(incident=incident, configuration_items=cis)
            at = Value(
                max((r.fired_at for r in rows if r.fired_at), default=now),
                output_field=DateTimeField(),
            )
            Incident.objects.filter(pk=incident.pk).update(
                # F(): the ingest may add an alert of the event to it meanwhile.
                alert_count=F("alert_count") + len(rows),
                last_alert_at=Greatest(Coalesce(F("last_alert_at"), at), at),
            )
    else:
        # Events follow their own lifecycle instead (an incident has one event key).
        rule = correlation.rule_for(connection_id=first.row.connection_id, alert=first.parsed)
        if rule is not None:
            group_key = correlation.group_key(
                rule, connection_id=first.row.connection_id, alert=first.parsed
            )
            incident = _group_join(
                member=first, rule=rule, group_key=group_key, configuration_items=cis
            )
    opened = incident is None
    if incident is None:
        fired = [r.fired_at for r in rows if r.fired_at]
        incident = incident_open_for_alert(
            connection_id=first.row.connection_id,
            alert=first.parsed,
            received_at=now,
            configuration_items=cis,
            event_key=event_key,
            group_key=group_key,
            # The SLA clocks start when the window ends: the maintenance time is not owed.
            opened_at=now,
            alert_count=len(rows),
            last_alert_at=max(fired, default=now),
            note=f"Held back until maintenance window {window.name!r} ended.",
        )
    rule_id = rule.pk if rule is not None else None
    Alert.objects.filter(pk__in=[r.pk for r in rows], incident__isnull=True).update(
        incident=incident, correlation_rule_id=rule_id, updated_at=now
    )
    for row in rows:
        row.incident, row.correlation_rule_id = incident, rule_id
    journal_add(
        incident=incident,
        actor=AZURE_MONITOR_ACTOR,
        kind=JournalKind.MAINTENANCE,
        message=f"Held back by maintenance window {window.name!r} "
        f"({datetime_display(window.starts_at)} to {datetime_display(window.ends_at)}): "
        f"{len(rows)} alert{'s' if len(rows) != 1 else ''}, still firing when it ended.",
    )
    return incident, opened


@transaction.atomic
def maintenance_window_release(*, window_id: int, now: datetime | None = None) -> ReleaseResult:
    """At a window's end, open an incident for every alert it held that still fires.

    Once per window: `released_at` is set by a compare-and-set before anything opens
    (the window row locked, as the ingest locks it to hold an alert), so a second run
    opens nothing. An end moved later makes sure the release waits for it
    ("rescheduled"). Alerts Azure resolved during the window stay without incident.
    """
    now = now or timezone.now()
    window = MaintenanceWindow.objects.select_for_update().filter(pk=window_id).first()
    if window is None or window.released_at is not None:
        return ReleaseResult("unchanged")
    if window.ends_at > now:
        release_schedule(window=window)  # its own key: a no-op if that job waits already
        return ReleaseResult("rescheduled")
    released = MaintenanceWindow.objects.filter(pk=window.pk, released_at__isnull=True).update(
        released_at=now
    )
    if released == 0:
        return ReleaseResult("unchanged")  # released by another run meanwhile
    held = (
        Alert.objects.filter(maintenance_window=window, incident__isnull=True)
        .select_related("connection")
        .order_by("fired_at", "pk")
    )
    groups: dict[str, list[_Held]] = {}
    for row in held:
        parsed = _parsed(row)
        lifecycle = lifecycle_of(parsed)
        key = f"{row.connection_id}:{lifecycle.key}" if lifecycle.key else f"alert:{row.pk}"
        groups.setdefault(key, []).append(_Held(row, parsed, lifecycle))
    opened: list[Incident] = []
    for key, members in groups.items():
        if not _still_firing(members, ends_at=window.ends_at):
            continue
        event_key = "" if key.startswith("alert:") else key
        incident, new = _open_for(members=members, event_key=event_key, window=window, now=now)
        if all(o.pk != incident.pk for o in opened):  # a group takes several: listed once
            opened.append(incident)
        _after_opening(members=members, incident=incident, window=window, new=new)
    logger.info(
        "maintenance.window_released id=%s held=%s incidents=%s",
        window.pk,
        sum(len(m) for m in groups.values()),
        len(opened),
    )
    return ReleaseResult("released", tuple(opened))


def _after_opening(
    *, members: list[_Held], incident: Incident, window: MaintenanceWindow, new: bool
) -> None:
    """What the webhook does after opening: a late Resolved resolves (a group's by its
    rule's `resolve_on`), auto-resolve waits for a new incident of stateless alerts."""
    # services imports this module (the ingest's hold); this one needs it only here.
    from .services import (
        _incident_resolve_by_azure,
        _member_resolves_incident,
        auto_resolve_schedule,
    )

    first = members[0]
    row = first.row
    if not first.lifecycle.key and row.monitor_condition == MonitorCondition.RESOLVED:
        # Resolved after the window ended, before the release ran: record it as it came.
        if _member_resolves_incident(row=row, incident=incident):
            _incident_resolve_by_azure(
                incident=incident, resolved_at=row.resolved_at or window.ends_at
            )
        return
    minutes = row.connection.auto_resolve_after_minutes
    if new and first.lifecycle.kind == Kind.STATELESS and minutes:
        auto_resolve_schedule(incident=incident, after=timezone.now() + timedelta(minutes=minutes))
