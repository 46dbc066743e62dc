"""Every change to channels and rules, and every notification sent, goes through here.

A notification: an event (core.events) enqueues one dispatch job (notifications.
subscriber); the dispatch finds the rules that want it and enqueues one send per
channel; each send tries once, records the try (NotificationAttempt), and on a 429, a
5xx or a timeout enqueues the next try with backoff (Retry-After when given), until
NOTIFICATION_MAX_ATTEMPTS; another 4xx is given up at once. Nothing here runs on the
webhook's path.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from core import jobs
from core.display import datetime_display
from core.events import Event
from core.exceptions import ApplicationError
from incidents.api.serializers import IncidentSerializer
from incidents.choices import IncidentState
from incidents.models import AssignmentGroup, Incident
from incidents.selectors import incident_get

from .choices import TEST_EVENT, AttemptOutcome, ChannelKind
from .messages import Message
from .models import NotificationAttempt, NotificationChannel, NotificationRule
from .transport import SendResult, parse_addresses, send_email, send_http, url_problem

logger = logging.getLogger(__name__)

SEND_JOB = "notifications.send"
_MAX_RETRY_DELAY_SECONDS = 3600


# Channels and rules.


def _clean_target(*, kind: str, target: object) -> str:
    """The stored form of a channel's target, or ApplicationError saying what is wrong."""
    if kind == ChannelKind.EMAIL:
        addresses = [target] if isinstance(target, str) else target
        if not isinstance(addresses, list) or not addresses:
            raise ApplicationError(
                "Give a list of e-mail addresses.", code="invalid_target", fields=["target"]
            )
        cleaned = []
        for address in addresses:
            try:
                validate_email(str(address).strip())
            except ValidationError:
                raise ApplicationError(
                    "Not an e-mail address in the list.", code="invalid_target", fields=["target"]
                ) from None
            cleaned.append(str(address).strip())
        return json.dumps(cleaned)
    if not isinstance(target, str):
        raise ApplicationError("Give one URL.", code="invalid_target", fields=["target"])
    problem = url_problem(target)
    if problem:
        raise ApplicationError(problem, code="invalid_target", fields=["target"])
    return target.strip()


@transaction.atomic
def notification_channel_create(
    *, name: str, kind: str, target: object, secret: str = "", enabled: bool = True
) -> NotificationChannel:
    """Create a channel; its target (and a webhook's secret) are never shown again."""
    if kind not in ChannelKind.values:
        raise ApplicationError(f"Unknown kind {kind!r}.", code="invalid_kind", fields=["kind"])
    if NotificationChannel.objects.filter(name=name).exists():
        raise ApplicationError(
            f"A channel named {name!r} exists.", code="duplicate_name", fields=["name"]
        )
    channel = NotificationChannel(
        name=name,
        kind=kind,
        target=_clean_target(kind=kind, target=target),
        secret=secret if kind == ChannelKind.WEBHOOK else "",
        enabled=enabled,
    )
    channel.save(force_insert=True)
    logger.info("notification_channel.created id=%s kind=%s", channel.pk, kind)
    return channel


@transaction.atomic
def notification_channel_update(
    *, channel: NotificationChannel, **changes: object
) -> NotificationChannel:
    """Change a channel's name, target, secret or enabled flag (its kind stays)."""
    if "name" in changes and changes["name"] != channel.name:
        if NotificationChannel.objects.filter(name=changes["name"]).exclude(pk=channel.pk).exists():
            raise ApplicationError(
                f"A channel named {changes['name']!r} exists.",
                code="duplicate_name",
                fields=["name"],
            )
        channel.name = str(changes["name"])
    if "target" in changes:
        channel.target = _clean_target(kind=channel.kind, target=changes["target"])
    if "secret" in changes and channel.kind == ChannelKind.WEBHOOK:
        channel.secret = str(changes["secret"])
    if "enabled" in changes:
        channel.enabled = bool(changes["enabled"])
    channel.save()
    logger.info("notification_channel.updated id=%s", channel.pk)
    return channel


@transaction.atomic
def notification_channel_delete(*, channel: NotificationChannel) -> None:
    """Delete a channel and its rules; the attempts already made stay on their incidents."""
    logger.info("notification_channel.deleted id=%s", channel.pk)
    channel.delete()


def _clean_rule(*, events: list[str], max_priority: int) -> None:
    unknown = [e for e in events if e not in Event.values]
    if unknown or not events:
        raise ApplicationError(
            "Events are some of " + ", ".join(Event.values) + ".",
            code="invalid_events",
            fields=["events"],
        )
    if not 1 <= max_priority <= 5:
        raise ApplicationError(
            "max_priority is 1 to 5.", code="invalid_priority", fields=["max_priority"]
        )


@transaction.atomic
def notification_rule_create(
    *,
    channel: NotificationChannel,
    events: list[str],
    max_priority: int = 5,
    assignment_groups: Iterable[AssignmentGroup] = (),
    enabled: bool = True,
) -> NotificationRule:
    """Create a rule: `events` of incidents of P`max_priority` or higher go to `channel`."""
    events = list(dict.fromkeys(events))
    _clean_rule(events=events, max_priority=max_priority)
    rule = NotificationRule(
        channel=channel, events=events, max_priority=max_priority, enabled=enabled
    )
    rule.save(force_insert=True)
    rule.assignment_groups.set(list(assignment_groups))
    return rule


@transaction.atomic
def notification_rule_update(*, rule: NotificationRule, **changes: object) -> NotificationRule:
    """Change a rule's channel, events, max_priority, assignment groups or enabled flag."""
    if "channel" in changes:
        rule.channel = changes["channel"]  # type: ignore[assignment]
    if "events" in changes:
        rule.events = list(dict.fromkeys(changes["events"]))  # type: ignore[call-overload]
    if "max_priority" in changes:
        rule.max_priority = int(changes["max_priority"])  # type: ignore[call-overload]
    if "enabled" in changes:
        rule.enabled = bool(changes["enabled"])
    _clean_rule(events=rule.events, max_priority=rule.max_priority)
    rule.save()
    if "assignment_groups" in changes:
        rule.assignment_groups.set(list(changes["assignment_groups"]))  # type: ignore[call-overload]
    return rule


@transaction.atomic
def notification_rule_delete(*, rule: NotificationRule) -> None:
    """Delete a rule."""
    rule.delete()


# Messages.


def incident_url(incident_pk: int | None) -> str:
    """The incident's page in the console (ITSM_BASE_URL), or the console's home."""
    base = settings.ITSM_BASE_URL.rstrip("/")
    if incident_pk is None:
        return f"{base}{reverse('admin:index')}"
    return f"{base}{reverse('admin:incidents_incident_change', args=[incident_pk])}"


def message_for(*, incident: Incident | None, event: str) -> Message:
    """The notification of `event` about `incident` as it is now (None: a test)."""
    if incident is None:
        return Message(
            event=TEST_EVENT,
            event_label="Test notification",
            headline="This channel works: ITSM can reach it.",
            facts=(("Sent at", datetime_display(timezone.now())),),
            url=incident_url(None),
            incident=None,
        )
    facts = [
        ("Priority", f"P{incident.priority}"),
        ("State", IncidentState(incident.state).label),
        ("Severity", incident.severity or "-"),
        ("Assignment group", incident.assignment_group.name if incident.assignment_group else "-"),
        ("Assigned to", incident.assigned_to.get_username() if incident.assigned_to else "-"),
        ("Alerts", str(incident.alert_count)),
        ("Opened", datetime_display(incident.opened_at)),
    ]
    return Message(
        event=event,
        event_label=Event(event).label,
        headline=f"{incident.number} (P{incident.priority}): {incident.title}",
        facts=tuple(facts),
        url=incident_url(incident.pk),
        incident=dict(IncidentSerializer(incident).data),
    )


# Sending.


def _rule_wants(rule: NotificationRule, *, event: str, incident: Incident) -> bool:
    if event not in rule.events or incident.priority > rule.max_priority:
        return False
    groups = {g.pk for g in rule.assignment_groups.all()}
    return not groups or incident.assignment_group_id in groups


@transaction.atomic
def notification_dispatch(*, incident_id: int, event: str, message_key: str) -> list[int]:
    """Enqueue one send per channel whose rules want `event` of the incident as it is now.

    Returns the channels' ids. Called by the dispatch job, off the webhook's path.
    """
    incident = Incident.objects.filter(pk=incident_id).first()
    if incident is None:
        return []
    rules = NotificationRule.objects.filter(enabled=True, channel__enabled=True).prefetch_related(
        "assignment_groups"
    )
    channel_ids = sorted(
        {r.channel_id for r in rules if _rule_wants(r, event=event, incident=incident)}
    )
    for channel_id in channel_ids:
        _enqueue_send(
            message_key=message_key,
            channel_id=channel_id,
            incident_id=incident_id,
            event=event,
            number=1,
        )
    logger.info(
        "notification.dispatched incident=%s event=%s channels=%s",
        incident_id,
        event,
        len(channel_ids),
    )
    return channel_ids


def _enqueue_send(
    *,
    message_key: str,
    channel_id: int,
    incident_id: int | None,
    event: str,
    number: int,
    run_after: datetime | None = None,
) -> None:
    jobs.enqueue(
        SEND_JOB,
        key=f"send:{message_key}:{channel_id}:{number}",
        run_after=run_after,
        message_key=message_key,
        channel_id=channel_id,
        incident_id=incident_id,
        event=event,
        number=number,
    )


def _send(channel: NotificationChannel, message: Message) -> SendResult:
    if channel.kind == ChannelKind.EMAIL:
        return send_email(addresses=parse_addresses(channel.target), message=message)
    return send_http(kind=channel.kind, url=channel.target, secret=channel.secret, message=message)


def retry_delay(*, number: int, retry_after: float | None) -> float:
    """Seconds before the try after try `number`: doubling, or what Retry-After asks if longer."""
    delay = settings.NOTIFICATION_RETRY_SECONDS * 2 ** (number - 1)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return float(min(delay, _MAX_RETRY_DELAY_SECONDS))


def notification_send(
    *, message_key: str, channel_id: int, incident_id: int | None, event: str, number: int
) -> NotificationAttempt | None:
    """Try once to send a notification to a channel, record the try, and schedule the next.

    None when nothing was tried: the channel is gone or off, the incident is gone, or
    this notification already reached the channel (a job run again sends nothing).
    """
    channel = NotificationChannel.objects.filter(pk=channel_id).first()
    if channel is None or not channel.enabled:
        return None
    done = NotificationAttempt.objects.filter(message_key=message_key, channel=channel)
    if done.filter(outcome=AttemptOutcome.SENT).exists() or done.filter(number=number).exists():
        return None
    incident = None
    if incident_id is not None:
        try:
            incident = incident_get(pk=incident_id)
        except Incident.DoesNotExist:
            return None
    result = _send(channel, message_for(incident=incident, event=event))
    now = timezone.now()
    outcome = AttemptOutcome.SENT if result.verdict == "sent" else AttemptOutcome.FAILED
    retry_at = None
    if result.verdict == "retry" and number < settings.NOTIFICATION_MAX_ATTEMPTS:
        outcome = AttemptOutcome.RETRYING
        retry_at = now + timedelta(
            seconds=retry_delay(number=number, retry_after=result.retry_after)
        )
    error = result.error
    if result.verdict == "retry" and retry_at is None:
        error = f"{error} Given up after {number} tries.".strip()
    attempt = NotificationAttempt(
        message_key=message_key,
        number=number,
        incident_id=incident_id,
        channel=channel,
        channel_name=channel.name,
        channel_kind=channel.kind,
        event=event,
        outcome=outcome,
        status_code=result.status_code,
        error=error[:500],
        created_at=now,
        retry_at=retry_at,
    )
    try:
        with transaction.atomic():
            attempt.save(force_insert=True)
            if retry_at is not None:
                _enqueue_send(
                    message_key=message_key,
                    channel_id=channel_id,
                    incident_id=incident_id,
                    event=event,
                    number=number + 1,
                    run_after=retry_at,
                )
    except IntegrityError:
        # Another run of this job recorded the same try meanwhile (a lost worker's).
        logger.warning("notification.try_recorded_twice key=%s channel=%s", message_key, channel_id)
        return None
    logger.info(
        "notification.tried incident=%s channel=%s event=%s try=%s outcome=%s status=%s",
        incident_id,
        channel_id,
        event,
        number,
        outcome,
        result.status_code,
    )
    return attempt


def notification_channel_test(*, channel: NotificationChannel) -> NotificationAttempt:
    """Send a test notification to the channel now (one try, recorded; no incident)."""
    result = _send(channel, message_for(incident=None, event=TEST_EVENT))
    attempt = NotificationAttempt(
        message_key=uuid.uuid4().hex,
        number=1,
        incident=None,
        channel=channel,
        channel_name=channel.name,
        channel_kind=channel.kind,
        event=TEST_EVENT,
        outcome=AttemptOutcome.SENT if result.verdict == "sent" else AttemptOutcome.FAILED,
        status_code=result.status_code,
        error=result.error[:500],
        created_at=timezone.now(),
    )
    attempt.save(force_insert=True)
    logger.info("notification.tested channel=%s outcome=%s", channel.pk, attempt.outcome)
    return attempt
