"""The Secure Webhook's write path: refuse or ingest a delivery, in one transaction.

`delivery_receive` is the only entry point a view calls. Nothing is answered before the
transaction commits, so a 2xx means the alert and its incident are durably stored.
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from cmdb.models import ConfigurationItem
from core import jobs
from core.database import database_unavailable
from core.display import datetime_display
from core.exceptions import ApplicationError, StateChanged
from incidents.choices import OPEN_STATES, IncidentState, JournalKind, ResolutionCode
from incidents.models import Incident
from incidents.services import (
    incident_alert_added,
    incident_group_release,
    incident_priority_rise,
    incident_resolve,
    journal_add,
    journal_entry_new,
    priority_rise_note,
)

from . import correlation, fastpath, flapping, maintenance, opening, spool
from .choices import AZURE_MONITOR_ACTOR, DeliveryOutcome, MonitorCondition, ResolveOn
from .lifecycles import HealthMove, Kind, Lifecycle, azure_resolves, lifecycle_of
from .models import Alert, Connection, Delivery
from .outcomes import OUTCOME_STATUS, REFUSAL_STATUS, Outcome, RefusalKind
from .parsing import AlertParseError, ParsedAlert, parse_alert
from .summaries import condition_line, portal_url
from .tokens import AzurePrincipal

logger = logging.getLogger(__name__)

JSON_CONTENT_TYPES = ("application/json",)


class Unavailable(Exception):
    """Neither the database nor the spool can take the delivery: the sender should retry."""


@dataclass(frozen=True, slots=True)
class IngestResult:
    """What processing an accepted delivery did, to which alert and incident.

    A queued delivery (kept in the spool) has no alert or incident yet.
    """

    outcome: Outcome
    alert_id: str
    alert: Alert | None = None
    incident: Incident | None = None


class DeliveryRefused(Exception):
    """A delivery the webhook refuses (or cannot process): why, and a code for the sender."""

    def __init__(self, kind: RefusalKind, code: str, message: str, alert_id: str = "") -> None:
        super().__init__(message)
        self.kind = kind
        self.code = code
        self.message = message
        self.alert_id = alert_id


def _is_json(content_type: str) -> bool:
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type in JSON_CONTENT_TYPES or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


def _caller_fields(principal: AzurePrincipal) -> dict[str, str]:
    return {
        "caller_app_id": principal.app_id[:64],
        "caller_object_id": principal.object_id[:64],
        "caller_tenant_id": principal.tenant_id[:64],
    }


@transaction.atomic
def delivery_record_refused(
    *,
    connection: Connection,
    principal: AzurePrincipal,
    raw: bytes,
    content_type: str,
    received_at: datetime,
    status_code: int,
    error: str,
    alert_id: str = "",
) -> Delivery:
    """Keep a refused delivery as received, with why it was refused."""
    return Delivery.objects.create(
        connection=connection,
        received_at=received_at,
        body=raw,
        content_type=content_type[:200],
        outcome=DeliveryOutcome.REJECTED,
        status_code=status_code,
        error=error,
        reported_alert_id=alert_id[:1024],
        **_caller_fields(principal),
    )


def delivery_check(
    *, connection: Connection, raw: bytes, content_type: str, content_encoding: str = ""
) -> ParsedAlert:
    """Apply the webhook's refusals as they stand now; return the parsed alert.

    The one place that decides what is refused: the webhook, a replay and the spool drain
    all call it, so none accepts what another would refuse. Raises DeliveryRefused.
    """
    if not connection.enabled:
        # The webhook's authentication refuses it first; a replay or a spooled file may not.
        raise DeliveryRefused(
            RefusalKind.NOT_ALLOWED,
            "connection_disabled",
            f"The connection {connection.slug!r} is disabled.",
        )
    if content_encoding and content_encoding.strip().lower() != "identity":
        raise DeliveryRefused(
            RefusalKind.UNSUPPORTED,
            "unsupported_content_encoding",
            f"Compressed bodies (Content-Encoding {content_encoding[:40]!r}) are not accepted.",
        )
    if not _is_json(content_type):
        raise DeliveryRefused(
            RefusalKind.UNSUPPORTED,
            "unsupported_media_type",
            f"The content type must be application/json, not {content_type[:100]!r}.",
        )
    try:
        alert = parse_alert(raw)
    except AlertParseError as exc:
        raise DeliveryRefused(RefusalKind.INVALID, exc.code, exc.message) from None
    refusal = _subscription_refusal(connection=connection, alert=alert)
    if refusal:
        raise DeliveryRefused(
            RefusalKind.NOT_ALLOWED, "subscription_not_allowed", refusal, alert.alert_id
        )
    return alert


def _subscription_refusal(*, connection: Connection, alert: ParsedAlert) -> str | None:
    """Why the connection's subscription allow-list refuses the alert, if it does."""
    allowed = {s.lower() for s in connection.allowed_subscriptions}
    if not allowed:
        return None
    if not alert.subscriptions:
        # Fail closed: an alert that names no subscription cannot show it is allowed.
        return (
            "The alert names no subscription, and this connection only accepts alerts "
            "from its allowed subscriptions."
        )
    outside = sorted(alert.subscriptions - allowed)
    if outside:
        return f"The alert names subscription {outside[0]}, which this connection does not allow."
    return None


def _refusal_record(
    *,
    connection: Connection,
    principal: AzurePrincipal,
    raw: bytes,
    content_type: str,
    received_at: datetime,
    refusal: DeliveryRefused,
    must_record: bool,
) -> None:
    """Keep a refused delivery in the log (in its own transaction) and log the refusal.

    With `must_record` (the spool drain) an unavailable database is raised, so the file
    waits; the webhook answers the refusal whether or not it could be recorded.
    """
    try:
        delivery_record_refused(
            connection=connection,
            principal=principal,
            raw=raw,
            content_type=content_type,
            received_at=received_at,
            status_code=REFUSAL_STATUS[refusal.kind],
            error=refusal.message,
            alert_id=refusal.alert_id,
        )
    except Exception as exc:
        if must_record and database_unavailable(exc):
            raise
        # The answer is right whether or not the refusal could be recorded.
        logger.warning(
            "webhook.refusal_not_recorded connection=%s error=%s",
            connection.slug,
            type(exc).__name__,
        )
    logger.info(
        "webhook.refused connection=%s alert_id=%s status=%s code=%s caller=%s",
        connection.slug,
        refusal.alert_id or "-",
        REFUSAL_STATUS[refusal.kind],
        refusal.code,
        principal.app_id,
    )


def _ingest_or_refuse(
    *,
    connection: Connection,
    principal: AzurePrincipal,
    alert: ParsedAlert,
    raw: bytes,
    content_type: str,
    received_at: datetime,
    replay_of: Delivery | None = None,
) -> IngestResult:
    """Ingest a checked alert; a failure that is not an unavailable database is refused.

    Such a failure (bad data, a program limit, a bug) happens again on every try: it is
    raised as DeliveryRefused (invalid, "unprocessable") once the ingest transaction has rolled
    back. An unavailable database is raised as it is (the caller spools or waits).
    """
    try:
        return alert_ingest(
            connection=connection,
            principal=principal,
            alert=alert,
            raw=raw,
            content_type=content_type,
            received_at=received_at,
            replay_of=replay_of,
        )
    except Exception as exc:
        if database_unavailable(exc):
            raise
        logger.exception(
            "webhook.unprocessable connection=%s alert_id=%s", connection.slug, alert.alert_id
        )
        raise DeliveryRefused(
            RefusalKind.INVALID,
            "unprocessable",
            f"The alert could not be stored ({_error_text(exc)}); the delivery is kept in "
            "the delivery log for an operator.",
            alert.alert_id,
        ) from exc


def _error_text(exc: BaseException) -> str:
    """A short, log-safe description of a processing error (the database's first line)."""
    cause = exc.__cause__ or exc
    sqlstate = getattr(cause, "sqlstate", None)
    first_line = (str(exc).splitlines() or ["-"])[0][:300]
    return f"database error {sqlstate}: {first_line}" if sqlstate else f"{first_line}"


def delivery_receive(
    *,
    connection: Connection,
    principal: AzurePrincipal,
    raw: bytes,
    content_type: str,
    content_encoding: str = "",
) -> IngestResult:
    """Check, parse and ingest one authenticated delivery; refusals are recorded too.

    Only an unavailable database spools (outcome queued); a delivery that fails otherwise
    is refused (DeliveryRefused, recorded in the delivery log, then raised). Unavailable
    when the spool cannot take it either.
    """
    received_at = timezone.now()
    alert = None
    try:
        alert = delivery_check(
            connection=connection,
            raw=raw,
            content_type=content_type,
            content_encoding=content_encoding,
        )
        return _ingest_or_refuse(
            connection=connection,
            principal=principal,
            alert=alert,
            raw=raw,
            content_type=content_type,
            received_at=received_at,
        )
    except DeliveryRefused as refusal:
        _refusal_record(
            connection=connection,
            principal=principal,
            raw=raw,
            content_type=content_type,
            received_at=received_at,
            refusal=refusal,
            must_record=False,
        )
        raise
    except Exception as exc:
        if alert is None or not database_unavailable(exc):
            raise
        return _spool(
            connection=connection,
            principal=principal,
            alert=alert,
            raw=raw,
            content_type=content_type,
            received_at=received_at,
        )


def _stored_caller(delivery: "Delivery | spool.SpooledDelivery") -> AzurePrincipal:
    """Who sent a stored delivery (replay, spool), from the caller IDs kept with it."""
    return AzurePrincipal(
        app_id=delivery.caller_app_id,
        object_id=delivery.caller_object_id,
        tenant_id=delivery.caller_tenant_id,
        token_version="",
        roles=(),
    )


def _spool(
    *,
    connection: Connection,
    principal: AzurePrincipal,
    alert: ParsedAlert,
    raw: bytes,
    content_type: str,
    received_at: datetime,
) -> IngestResult:
    """Keep a valid delivery in the local spool while the database is down (queued)."""
    try:
        spool.spool_write(
            spool.SpooledDelivery(
                connection_slug=connection.slug,
                caller_app_id=principal.app_id,
                caller_object_id=principal.object_id,
                caller_tenant_id=principal.tenant_id,
                content_type=content_type,
                received_at=received_at,
                body=raw,
            )
        )
    except spool.SpoolFull as exc:
        logger.error("webhook.unavailable connection=%s reason=%s", connection.slug, exc)
        raise Unavailable(str(exc)) from exc
    spool.ensure_drainer(drain=spool_drain)
    logger.warning(
        "webhook.queued connection=%s alert_id=%s caller=%s",
        connection.slug,
        alert.alert_id,
        principal.app_id,
    )
    return IngestResult(outcome=Outcome.QUEUED, alert_id=alert.alert_id)


def spool_ingest(*, delivery: spool.SpooledDelivery) -> IngestResult:
    """Ingest a delivery the spool kept, with the webhook's refusals as they stand now.

    A delivery refused now (a disabled connection, a subscription no longer allowed) or
    failing deterministically is recorded as refused and raised as DeliveryRefused (the
    drain sets the file aside). An unavailable database is raised as it is (the file waits).
    """
    connection = Connection.objects.get(slug=delivery.connection_slug)
    principal = _stored_caller(delivery)
    try:
        alert = delivery_check(
            connection=connection, raw=delivery.body, content_type=delivery.content_type
        )
        return _ingest_or_refuse(
            connection=connection,
            principal=principal,
            alert=alert,
            raw=delivery.body,
            content_type=delivery.content_type,
            received_at=delivery.received_at,
        )
    except DeliveryRefused as refusal:
        _refusal_record(
            connection=connection,
            principal=principal,
            raw=delivery.body,
            content_type=delivery.content_type,
            received_at=delivery.received_at,
            refusal=refusal,
            must_record=True,
        )
        raise


def spool_drain(*, limit: int | None = None) -> spool.DrainReport:
    """Ingest the spooled deliveries in arrival order (see `spool.spool_drain`)."""
    return spool.spool_drain(ingest=lambda delivery: spool_ingest(delivery=delivery), limit=limit)


def _alert_new(
    *,
    connection: Connection,
    alert: ParsedAlert,
    received_at: datetime,
    incident: Incident | None,
    tracking_id: str = "",
    correlation_rule_id: int | None = None,
) -> Alert:
    """The (unsaved) alert row for a new alert (no incident while a window holds it)."""
    return Alert(
        connection=connection,
        alert_id=alert.alert_id,
        incident=incident,
        correlation_rule_id=correlation_rule_id,  # the rule that grouped it
        alert_rule=(alert.alert_rule or "")[:500],
        alert_rule_id=(alert.alert_rule_id or "")[:1024],
        severity=alert.severity,
        signal_type=(alert.signal_type or "")[:50],
        monitoring_service=(alert.monitoring_service or "")[:100],
        monitor_condition=alert.monitor_condition,
        target_ids=list(alert.target_ids),
        configuration_items=list(alert.configuration_items),
        fired_at=alert.fired_at,
        resolved_at=(alert.resolved_at or received_at) if alert.is_resolved else None,
        portal_url=portal_url(alert),
        condition=condition_line(alert),
        tracking_id=tracking_id,
        flap_key=flapping.flap_key(connection_pk=connection.pk, alert=alert),
    )


def _alert_store(*, row: Alert, delivery: Delivery) -> None:
    """Insert a new alert and its delivery (one statement on PostgreSQL)."""
    if fastpath.supported():
        # A plain INSERT: a concurrent delivery of the same alert fails here, on the constraint.
        fastpath.alert_insert(alert=row, delivery=delivery)
    else:
        row.save(force_insert=True)
        delivery.alert = row
        delivery.save(force_insert=True)


def _event_incident(*, event_key: str, lifecycle: Lifecycle) -> Incident | None:
    """The incident of an Azure event (one indexed lookup), or None.

    Resource Health: the resource's open incident. Service Health: the trackingId's latest
    incident in any state (a resolved one takes its RCA as a journal line).
    """
    found = Incident.objects.filter(event_key=event_key)
    if lifecycle.kind == Kind.RESOURCE_HEALTH:
        found = found.filter(state__in=OPEN_STATES)
    return found.order_by("-id").only("id", "number", "state").first()


def _event_follow_up(
    *,
    connection: Connection,
    alert: ParsedAlert,
    received_at: datetime,
    delivery: Delivery,
    incident: Incident,
    lifecycle: Lifecycle,
) -> tuple[Alert, Outcome]:
    """Add a later message of an event to its incident (journal), resolving it if it says so."""
    journal_add(
        incident=incident,
        actor=AZURE_MONITOR_ACTOR,
        kind=JournalKind.SOURCE_UPDATE,
        message=lifecycle.note,
    )
    # The incident holds one more alert (one UPDATE; the journal line above says what).
    incident_alert_added(incident=incident, fired_at=alert.fired_at or received_at, actor="")
    outcome = Outcome.UPDATED
    resolved_at = alert.fired_at or received_at
    if lifecycle.resolves and incident.is_open:
        _incident_resolve_by_azure(incident=incident, resolved_at=resolved_at, notes=lifecycle.note)
        outcome = Outcome.RESOLVED if incident.state == IncidentState.RESOLVED else outcome
    row = _alert_new(
        connection=connection,
        alert=alert,
        received_at=received_at,
        incident=incident,
        tracking_id=lifecycle.tracking_id,
    )
    delivery.outcome = DeliveryOutcome(outcome.value)
    delivery.status_code = OUTCOME_STATUS[outcome]
    _alert_store(row=row, delivery=delivery)
    return row, outcome


def _group_join(
    *,
    connection: Connection,
    alert: ParsedAlert,
    received_at: datetime,
    delivery: Delivery,
    rule: correlation.Rule,
    group_key: str,
    configuration_items: list[ConfigurationItem],
) -> tuple[Alert, Outcome] | None:
    """Add a new alert to its group's open incident (grouped); None: open a new one.

    The group's incident is locked while it takes the alert. One past the rule's window
    or maximum age stops taking alerts (its key is cleared) and keeps what it holds.
    """
    group = correlation.group_incident(key=group_key)
    if group is None:
        return None
    fired_at = alert.fired_at or received_at
    if not correlation.group_takes(
        rule, last_alert_at=group.last_alert_at, opened_at=group.opened_at, fired_at=fired_at
    ):
        incident_group_release(incident=group)
        return None
    where = configuration_items[0].name if configuration_items else "-"
    message = (
        f"Alert {alert.alert_rule or alert.alert_id} on {where} "
        f"({alert.severity or 'no severity'}, {alert.monitor_condition}) grouped by "
        f"correlation rule {rule.name!r}."
    )
    if fastpath.supported():
        # The same rows as below, in one statement: a joining alert costs a new one's.
        now = timezone.now()
        raised = incident_priority_rise(incident=group, severity=alert.severity)
        journal = journal_entry_new(
            incident=group,
            actor=AZURE_MONITOR_ACTOR,
            kind=JournalKind.GROUPED,
            message=message + priority_rise_note(incident=group, raised=raised),
            at=now,
        )
        fastpath.incident_alert_added(
            incident=group,
            fired_at=fired_at,
            changes={**raised, "updated_at": now},
            journal=journal,
            configuration_items=configuration_items,
        )
    else:
        incident_alert_added(
            incident=group,
            fired_at=fired_at,
            actor=AZURE_MONITOR_ACTOR,
            kind=JournalKind.GROUPED,
            message=message,
            configuration_items=configuration_items,
            raise_priority=True,
            raise_priority_to=alert.severity,
        )
    row = _alert_new(
        connection=connection,
        alert=alert,
        received_at=received_at,
        incident=group,
        correlation_rule_id=rule.pk,
    )
    delivery.outcome = DeliveryOutcome.GROUPED
    delivery.status_code = OUTCOME_STATUS[Outcome.GROUPED]
    _alert_store(row=row, delivery=delivery)
    if alert.is_resolved and _member_resolves_incident(row=row, incident=group):
        _incident_resolve_by_azure(incident=group, resolved_at=row.resolved_at or received_at)
    return row, Outcome.GROUPED


def _member_resolves_incident(*, row: Alert, incident: Incident) -> bool:
    """Whether an alert's Resolved resolves its incident (its rule's `resolve_on`).

    An incident holding one ungrouped alert resolves with it (no query). Otherwise: `first`
    resolves, `never` leaves it to a person, and `all` (also for a rule deleted since, or
    a merge) resolves once no other member Azure resolves is still Fired; members Azure
    never resolves cannot hold it open. For `all` the incident row is locked first, so two
    members resolving at once cannot each see the other still Fired.
    """
    if row.correlation_rule_id is None and incident.alert_count <= 1:
        return True
    resolve_on = correlation.resolve_on_for(row.correlation_rule_id)
    if resolve_on != ResolveOn.ALL:
        return resolve_on == ResolveOn.FIRST
    incident.state = (
        Incident.objects.select_for_update().values_list("state", flat=True).get(pk=incident.pk)
    )
    firing = (
        Alert.objects.filter(incident_id=incident.pk, monitor_condition=MonitorCondition.FIRED)
        .exclude(pk=row.pk)
        .values_list("monitoring_service", flat=True)
        .distinct()
    )
    return not any(azure_resolves(service) for service in firing)


def _alert_create(
    *, connection: Connection, alert: ParsedAlert, received_at: datetime, delivery: Delivery
) -> tuple[Alert | None, Outcome]:
    """Open the incident of a new alert, link its CIs, and store the alert and its delivery.

    A later message of a Service Health or Resource Health event goes to its incident
    instead (`_event_follow_up`); a recovery with no open incident stores the delivery
    only (ignored, no alert). On PostgreSQL the incident (with links and journal) and
    the alert (with its delivery) are one statement each (`fastpath`); elsewhere the ORM
    writes the same rows.
    """
    lifecycle = lifecycle_of(alert)  # pure: no query for ordinary alerts
    event_key = f"{connection.pk}:{lifecycle.key}" if lifecycle.key else ""
    if event_key:
        existing = _event_incident(event_key=event_key, lifecycle=lifecycle)
        if existing is not None:
            return _event_follow_up(
                connection=connection,
                alert=alert,
                received_at=received_at,
                delivery=delivery,
                incident=existing,
                lifecycle=lifecycle,
            )
    # Maintenance: no query unless a cached window covers it. Before the recovery check,
    # so an event's later messages are held with its first (the release follows them).
    window = maintenance.window_holding(connection=connection, alert=alert, received_at=received_at)
    if window is not None:
        row = _alert_new(
            connection=connection,
            alert=alert,
            received_at=received_at,
            incident=None,
            tracking_id=lifecycle.tracking_id,
        )
        row.maintenance_window = window
        delivery.outcome = DeliveryOutcome.SUPPRESSED
        delivery.status_code = OUTCOME_STATUS[Outcome.SUPPRESSED]
        _alert_store(row=row, delivery=delivery)
        return row, Outcome.SUPPRESSED
    if lifecycle.kind == Kind.RESOURCE_HEALTH and lifecycle.health != HealthMove.OPENS:
        # A recovery (or Unknown) of a resource with no open incident opens nothing.
        delivery.outcome = DeliveryOutcome.IGNORED
        delivery.status_code = OUTCOME_STATUS[Outcome.IGNORED]
        delivery.save(force_insert=True)
        return None, Outcome.IGNORED
    cis = opening.alert_configuration_items(alert=alert, received_at=received_at)
    # Flapping: one indexed SELECT for alerts Azure resolves, before any grouping.
    flap = flapping.flap_find(connection=connection, alert=alert, received_at=received_at)
    flapped = flapping.flap_take(
        flap=flap, connection=connection, alert=alert, configuration_items=cis
    )
    if flapped is not None:  # the rule's previous incident, reopened (or still open)
        row = _alert_new(
            connection=connection, alert=alert, received_at=received_at, incident=flapped
        )
        delivery.outcome = DeliveryOutcome.REOPENED
        delivery.status_code = OUTCOME_STATUS[Outcome.REOPENED]
        _alert_store(row=row, delivery=delivery)
        return row, Outcome.REOPENED
    # Correlation: the first matching rule's group. Service Health and Resource Health
    # events follow their own lifecycle instead (an incident has one event key).
    rule = None if event_key else correlation.rule_for(connection_id=connection.pk, alert=alert)
    group_key = ""
    if rule is not None:
        group_key = correlation.group_key(rule, connection_id=connection.pk, alert=alert)
        joined = _group_join(
            connection=connection,
            alert=alert,
            received_at=received_at,
            delivery=delivery,
            rule=rule,
            group_key=group_key,
            configuration_items=cis,
        )
        if joined is not None:
            return joined
    incident = opening.incident_open_for_alert(
        connection_id=connection.pk,
        alert=alert,
        received_at=received_at,
        configuration_items=cis,
        event_key=event_key,
        group_key=group_key,
    )
    row = _alert_new(
        connection=connection,
        alert=alert,
        received_at=received_at,
        incident=incident,
        tracking_id=lifecycle.tracking_id,
        correlation_rule_id=rule.pk if rule is not None else None,
    )
    _alert_store(row=row, delivery=delivery)
    if flap.reached:  # a person closed or canceled the previous incident: this one flaps
        flapping.flap_mark_new(incident=incident, flap=flap, connection=connection, alert=alert)
    if alert.is_resolved:
        # Resolved arrived first (the Fired message was lost or is late): keep the record.
        if _member_resolves_incident(row=row, incident=incident):
            _incident_resolve_by_azure(
                incident=incident, resolved_at=row.resolved_at or received_at
            )
    elif lifecycle.resolves:
        # The event's first message already ends it (Microsoft's test sample does).
        _incident_resolve_by_azure(
            incident=incident, resolved_at=alert.fired_at or received_at, notes=lifecycle.note
        )
    elif lifecycle.kind == Kind.STATELESS and connection.auto_resolve_after_minutes:
        auto_resolve_schedule(
            incident=incident,
            after=received_at + timedelta(minutes=connection.auto_resolve_after_minutes),
        )
    return row, Outcome.CREATED


def _incident_resolve_by_azure(
    *, incident: Incident, resolved_at: datetime, notes: str = ""
) -> None:
    """Resolve the alert's incident, unless a person has resolved, closed or canceled it.

    The resolve is a compare-and-set on the state read with the alert. If an operator
    changed the state meanwhile, it is read again under a row lock (PostgreSQL; SQLite has
    one writer) and the resolve tried from there: a started or held incident is still
    resolved, a resolved, closed or canceled one stays as the operator left it.
    """
    for attempt in (1, 2):
        if incident.state in (
            IncidentState.CLOSED,
            IncidentState.CANCELED,
            IncidentState.RESOLVED,
        ):
            return  # an operator's decision stands: Azure never touches it
        try:
            incident_resolve(
                incident=incident,
                actor=AZURE_MONITOR_ACTOR,
                resolution_code=ResolutionCode.RESOLVED_BY_SOURCE,
                resolution_notes=notes
                or f"Azure Monitor reported the alert resolved at {datetime_display(resolved_at)}.",
                resolved_at=resolved_at,
            )
        except StateChanged:
            if attempt == 2:
                raise  # cannot happen: the row is locked, the state cannot move again
            incident.state = (
                Incident.objects.select_for_update()
                .values_list("state", flat=True)
                .get(pk=incident.pk)
            )
        else:
            return


def _alert_apply(*, row: Alert, alert: ParsedAlert, received_at: datetime) -> Outcome:
    """Apply a message for a known alert; return the outcome.

    Only a Resolved message for a fired alert changes anything (the row must be locked).
    """
    if row.monitor_condition == MonitorCondition.RESOLVED:
        # Azure gives a new firing a new alertId: nothing reopens a resolved alert.
        return Outcome.DUPLICATE if alert.is_resolved else Outcome.STALE
    if not alert.is_resolved:
        return Outcome.DUPLICATE
    row.monitor_condition = MonitorCondition.RESOLVED
    row.resolved_at = alert.resolved_at or received_at
    row.save(update_fields=["monitor_condition", "resolved_at", "updated_at"])
    incident = row.incident
    # One a maintenance window holds ends quietly; a group's follows its rule's resolve_on.
    if incident is not None and _member_resolves_incident(row=row, incident=incident):
        _incident_resolve_by_azure(incident=incident, resolved_at=row.resolved_at)
    return Outcome.RESOLVED


def _delivery_new(
    *,
    connection: Connection,
    principal: AzurePrincipal,
    alert: ParsedAlert,
    raw: bytes,
    content_type: str,
    received_at: datetime,
    replay_of: Delivery | None,
) -> Delivery:
    """The (unsaved) delivery of an accepted alert, as a new alert's (outcome set later)."""
    return Delivery(
        connection=connection,
        received_at=received_at,
        body=raw,
        content_type=content_type[:200],
        outcome=DeliveryOutcome.CREATED,
        status_code=OUTCOME_STATUS[Outcome.CREATED],
        reported_alert_id=alert.alert_id,
        replay_of=replay_of,
        **_caller_fields(principal),
    )


def _delivery_of_known(*, delivery: Delivery, row: Alert, outcome: Outcome) -> None:
    """Store the delivery of a message for a known alert, with its outcome."""
    delivery.outcome = DeliveryOutcome(outcome.value)
    delivery.status_code = OUTCOME_STATUS[outcome]
    delivery.alert = row
    fastpath.delivery_insert(delivery=delivery)


def _alert_find(connection: Connection, alert_id: str, *, lock: bool) -> Alert | None:
    """The known alert with its incident, or None (every ingest's lookup goes through here)."""
    return fastpath.alert_get(connection=connection, alert_id=alert_id, lock=lock)


def _alert_ingest_once(
    *,
    connection: Connection,
    alert: ParsedAlert,
    received_at: datetime,
    delivery: Delivery,
    known_absent: bool,
) -> tuple[Alert | None, Outcome]:
    """One try at ingesting, inside the caller's transaction.

    `known_absent`: the caller just found no such alert, so none is looked up (if one
    was created since, the INSERT fails on the constraint and the caller retries).
    """
    row = None if known_absent else _alert_find(connection, alert.alert_id, lock=True)
    if row is None:
        return _alert_create(
            connection=connection, alert=alert, received_at=received_at, delivery=delivery
        )
    outcome = _alert_apply(row=row, alert=alert, received_at=received_at)
    _delivery_of_known(delivery=delivery, row=row, outcome=outcome)
    return row, outcome


def alert_ingest(
    *,
    connection: Connection,
    principal: AzurePrincipal,
    alert: ParsedAlert,
    raw: bytes,
    content_type: str,
    received_at: datetime,
    replay_of: Delivery | None = None,
) -> IngestResult:
    """Record the delivery and apply the alert: open, repeat, resolve, or ignore as stale.

    Idempotent: the unique (connection, alertId) constraint decides which of several
    concurrent deliveries creates the alert; the others see it and change nothing.
    """
    delivery = _delivery_new(
        connection=connection,
        principal=principal,
        alert=alert,
        raw=raw,
        content_type=content_type,
        received_at=received_at,
        replay_of=replay_of,
    )
    known_absent = False
    if not alert.is_resolved:
        # A Fired message for a known alert changes nothing but the delivery log: no
        # transaction and no lock (two statements; the INSERT commits on its own).
        row = _alert_find(connection, alert.alert_id, lock=False)
        if row is not None:
            outcome = _alert_apply(row=row, alert=alert, received_at=received_at)
            _delivery_of_known(delivery=delivery, row=row, outcome=outcome)
            return _accepted(connection, principal, alert, row, outcome)
        known_absent = True
    # A new alert is inserted without a savepoint (it costs two round trips on every new
    # alert). If a concurrent delivery inserted the same alert first, the constraint
    # fails and the whole transaction rolls back; the retry then finds the alert.
    for attempt in (1, 2):
        try:
            with transaction.atomic(durable=True):
                row, outcome = _alert_ingest_once(
                    connection=connection,
                    alert=alert,
                    received_at=received_at,
                    delivery=delivery,
                    known_absent=known_absent and attempt == 1,
                )
            break
        except IntegrityError:
            if attempt == 2:
                raise  # not a lost race: surface it
            logger.info("webhook.race_retry connection=%s", connection.slug)
            # A rule deleted by another process fails the alert's foreign key: read again.
            correlation.rules_cache_clear()
            delivery = _delivery_new(
                connection=connection,
                principal=principal,
                alert=alert,
                raw=raw,
                content_type=content_type,
                received_at=received_at,
                replay_of=replay_of,
            )
    return _accepted(connection, principal, alert, row, outcome)


def _accepted(
    connection: Connection,
    principal: AzurePrincipal,
    alert: ParsedAlert,
    row: Alert | None,
    outcome: Outcome,
) -> IngestResult:
    """Log an accepted delivery and say what it did (an ignored one has no alert row)."""
    incident = row.incident if row is not None else None
    logger.info(
        "webhook.accepted connection=%s alert_id=%s outcome=%s incident=%s caller=%s",
        connection.slug,
        alert.alert_id,
        outcome,
        incident.number if incident is not None else "-",
        principal.app_id,
    )
    return IngestResult(outcome=outcome, alert_id=alert.alert_id, alert=row, incident=incident)


AUTO_RESOLVE_JOB = "integrations.auto_resolve"
AutoResolveResult = Literal["resolved", "rescheduled", "unchanged"]


def auto_resolve_schedule(*, incident: Incident, after: datetime) -> None:
    """Check, at `after`, whether the incident has been quiet long enough to resolve it.

    In the caller's transaction (core.jobs). One job per incident and due time.
    """
    jobs.enqueue(
        AUTO_RESOLVE_JOB,
        key=f"auto-resolve:{incident.pk}:{int(after.timestamp())}",
        run_after=after,
        incident_id=incident.pk,
    )


@transaction.atomic
def incident_auto_resolve(*, incident_id: int, now: datetime | None = None) -> AutoResolveResult:
    """Resolve an incident of alerts Azure never resolves once its connection's
    `auto_resolve_after_minutes` have passed without a new message.

    A newer message moves the check to its own due time ("rescheduled"), so messages
    never have to reschedule anything. The resolve is a compare-and-set (the incident row
    is locked, and an operator's resolve, close or cancel stands).
    """
    now = now or timezone.now()
    incident = (
        Incident.objects.select_for_update().only("id", "number", "state").filter(pk=incident_id)
    ).first()
    if incident is None or not incident.is_open:
        return "unchanged"
    alerts = list(Alert.objects.filter(incident=incident).select_related("connection"))
    if not alerts or any(a.azure_resolves for a in alerts):
        return "unchanged"  # Azure resolves one of them: its Resolved decides
    connection = alerts[-1].connection  # the first alert's (newest first)
    minutes = connection.auto_resolve_after_minutes
    if not minutes:
        return "unchanged"  # turned off since
    latest = Delivery.objects.filter(alert__incident=incident).aggregate(at=Max("received_at"))
    due = (latest["at"] or now) + timedelta(minutes=minutes)
    if due > now:
        auto_resolve_schedule(incident=incident, after=due)
        return "rescheduled"
    _incident_resolve_by_azure(
        incident=incident,
        resolved_at=now,
        notes=f"No new message from Azure Monitor for {minutes} minutes, and Azure never "
        f"resolves these alerts (connection {connection.slug}: auto-resolve).",
    )
    return "resolved"


CONNECTION_FIELDS = (
    "name",
    "tenant_id",
    "audiences",
    "allowed_app_ids",
    "required_role",
    "jwks_uri",
    "allowed_subscriptions",
    "enabled",
    "auto_resolve_after_minutes",
    "flap_threshold",
    "flap_interval_minutes",
)


@transaction.atomic
def connection_upsert(*, slug: str, values: dict[str, Any]) -> tuple[Connection, str]:
    """Create or update the connection `slug`; return it and "created", "updated" or "unchanged".

    `values` are already validated (`ConnectionSpecSerializer`).
    """
    connection = Connection.objects.select_for_update().filter(slug=slug).first()
    if connection is None:
        connection = Connection(slug=slug)
        action = "created"
    else:
        changed = any(getattr(connection, f) != values[f] for f in CONNECTION_FIELDS if f in values)
        action = "updated" if changed else "unchanged"
    if action == "unchanged":
        return connection, action
    for field in CONNECTION_FIELDS:
        if field in values:
            setattr(connection, field, values[field])
    connection.full_clean()
    connection.save()
    return connection, action


def delivery_replay(*, delivery: Delivery, actor: AbstractBaseUser) -> IngestResult:
    """Run a stored delivery through processing again, as its sender, and journal it.

    Idempotent like any repeat: replaying an alert already applied changes nothing. The
    replay is kept as a new delivery pointing at the original. A body that cannot be
    parsed is refused again with the same error (ApplicationError).

    The webhook's refusals apply as they stand now (`delivery_check`: a disabled
    connection, the content type, the subscription allow-list): a replay never accepts
    what the webhook would refuse. A delivery that still cannot be stored is refused too.
    """
    raw = bytes(delivery.body)
    try:
        alert = delivery_check(
            connection=delivery.connection, raw=raw, content_type=delivery.content_type
        )
        result = _ingest_or_refuse(
            connection=delivery.connection,
            principal=_stored_caller(delivery),
            alert=alert,
            raw=raw,
            content_type=delivery.content_type,
            received_at=timezone.now(),
            replay_of=delivery,
        )
    except DeliveryRefused as refusal:
        raise ApplicationError(
            f"Delivery {delivery.pk} cannot be replayed: {refusal.message}", code=refusal.code
        ) from None
    if result.incident is not None:  # an ignored recovery has no incident to journal on
        journal_add(
            incident=result.incident,
            actor=actor,
            kind=JournalKind.SOURCE_UPDATE,
            message=f"Replayed delivery {delivery.pk} "
            f"({datetime_display(delivery.received_at)}): {result.outcome}.",
        )
    return result


@transaction.atomic
def connection_delete(*, connection: Connection) -> None:
    """Delete a connection that never delivered anything; otherwise disable it instead."""
    if connection.deliveries.exists() or connection.alerts.exists():
        raise ApplicationError(
            f"The connection {connection.slug!r} has deliveries and alerts on record; "
            "disable it instead of deleting it.",
            code="connection_in_use",
        )
    connection.delete()


def delivery_purge(*, before: datetime, batch_size: int = 1000, dry_run: bool = False) -> int:
    """Delete deliveries received before `before`, in batches; return how many.

    Only the raw delivery log: alerts and incidents stay, whatever their deliveries' age.
    Each batch is its own short transaction, so a purge never holds long locks.
    """
    old = Delivery.objects.filter(received_at__lt=before)
    if dry_run:
        return old.count()
    deleted = 0
    while True:
        with transaction.atomic():
            batch = list(old.order_by("pk").values_list("pk", flat=True)[:batch_size])
            if not batch:
                return deleted
            # Replays of purged deliveries keep their own row (replay_of is SET NULL).
            deleted += (
                Delivery.objects.filter(pk__in=batch).delete()[1].get(Delivery._meta.label, 0)
            )
