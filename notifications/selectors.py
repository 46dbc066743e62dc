"""Reads of the notifications app; the enabled rules are cached per process."""

from __future__ import annotations

import dataclasses
import threading
import time

from django.conf import settings
from django.db.models import QuerySet

from .models import NotificationAttempt, NotificationChannel, NotificationRule


@dataclasses.dataclass(frozen=True)
class CachedRule:
    """What the webhook's path needs of a rule to decide without a query."""

    pk: int
    channel_id: int
    events: frozenset[str]
    max_priority: int
    assignment_group_ids: frozenset[int]

    def matches(self, *, event: str, priority: int | None, group_id: int | None) -> bool:
        """Whether an incident of `priority` and group `group_id` gets `event` by this rule.

        An unknown priority or group (None) counts as matching: the job decides again.
        """
        if event not in self.events:
            return False
        if priority is not None and priority > self.max_priority:
            return False
        return not (
            self.assignment_group_ids
            and group_id is not None
            and group_id not in self.assignment_group_ids
        )


# (rules, monotonic time they were read); None: not read yet, or cleared by a change.
_cache: tuple[tuple[CachedRule, ...], float] | None = None
_lock = threading.Lock()


def notification_rules_cached() -> tuple[CachedRule, ...]:
    """The enabled rules of enabled channels, read at most every CONNECTION_CACHE_SECONDS.

    A change saved in this process clears the cache at once (notifications.signals);
    other processes see it within CONNECTION_CACHE_SECONDS. Two queries when read,
    none otherwise, whatever the number of rules.
    """
    global _cache
    now = time.monotonic()
    cached = _cache
    if cached is not None and now - cached[1] < settings.CONNECTION_CACHE_SECONDS:
        return cached[0]
    rows = NotificationRule.objects.filter(enabled=True, channel__enabled=True).prefetch_related(
        "assignment_groups"
    )
    rules = tuple(
        CachedRule(
            pk=rule.pk,
            channel_id=rule.channel_id,
            events=frozenset(rule.events),
            max_priority=rule.max_priority,
            assignment_group_ids=frozenset(g.pk for g in rule.assignment_groups.all()),
        )
        for rule in rows
    )
    with _lock:
        _cache = (rules, now)
    return rules


def notification_rules_cache_clear() -> None:
    """Forget the cached rules (after a change in this process)."""
    global _cache
    with _lock:
        _cache = None


def notification_channel_list() -> QuerySet[NotificationChannel]:
    """Channels by name."""
    return NotificationChannel.objects.order_by("name")


def notification_rule_list() -> QuerySet[NotificationRule]:
    """Rules with their channel and groups loaded."""
    return (
        NotificationRule.objects.select_related("channel")
        .prefetch_related("assignment_groups")
        .order_by("pk")
    )


def notification_attempts_for(*, incident_id: int) -> QuerySet[NotificationAttempt]:
    """Every try to notify about an incident, newest first."""
    return NotificationAttempt.objects.filter(incident_id=incident_id).order_by(
        "-created_at", "-pk"
    )
