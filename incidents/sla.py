"""SLA clocks: a response clock and a resolution clock per incident (contract: SLA).

Each incident carries its clocks in its own row (Incident.sla_*), so opening one from
Azure costs no statement more, and every change to them rides on the UPDATE the
transition already makes (incidents.services calls the `*_values` functions here):

* opened: the targets of its priority (SlaTarget, cached per process) from `opened_at`
  (the incidents still open when the clocks came got theirs from migration 0007);
* the response clock stops at the first assignment to a person or at `start`; the
  resolution clock at `resolved` (a reopen resumes it, the resolved time not counted);
* `on_hold` pauses both: leaving it moves the deadlines on by the time paused;
* a new priority re-targets both from `opened_at`: time spent and time paused are kept.

Warnings (75 % of a target) and breaches (100 %) are found by one periodic job
(`sla_check`, incidents.tasks) through one indexed column, `sla_due_at`: the next time
anything can fall due. Each stage is a compare-and-set on the row, so two workers never
journal it twice.
"""

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core import events
from core.display import datetime_display
from core.exceptions import ApplicationError

from .choices import OPEN_STATES, IncidentState, JournalKind, SlaStage
from .models import Incident, SlaTarget

logger = logging.getLogger(__name__)

# The contract's defaults (also seeded by migration incidents.0005_sla): minutes to
# respond and to resolve, per priority. A priority without a row falls back to these.
DEFAULT_TARGETS: dict[int, tuple[int, int]] = {
    1: (15, 4 * 60),
    2: (30, 8 * 60),
    3: (4 * 60, 24 * 60),
    4: (8 * 60, 72 * 60),
    5: (24 * 60, 120 * 60),
}
WARNING_FRACTION = 0.75
SLA_ACTOR = "SLA clock"
# How many due incidents one run of the job takes; the rest wait for the next run.
CHECK_BATCH = 500

S = IncidentState

# Per process, like the connection cache: read at most every CONNECTION_CACHE_SECONDS,
# cleared in this process when a target is saved (incidents.apps).
_targets: tuple[dict[int, tuple[int, int]], float] | None = None
_targets_lock = threading.Lock()


def targets() -> dict[int, tuple[int, int]]:
    """Priority -> (respond minutes, resolve minutes), read through a per-process cache."""
    global _targets
    now = time.monotonic()
    cached = _targets
    if cached is not None and now - cached[1] < settings.CONNECTION_CACHE_SECONDS:
        return cached[0]
    found = dict(DEFAULT_TARGETS)
    for priority, respond, resolve in SlaTarget.objects.values_list(
        "priority", "respond_minutes", "resolve_minutes"
    ):
        found[priority] = (respond, resolve)
    with _targets_lock:
        _targets = (found, now)
    return found


def targets_cache_clear(**kwargs: Any) -> None:
    """Forget the cached targets (a target was saved; tests). A signal receiver too."""
    global _targets
    with _targets_lock:
        _targets = None


def _minutes(value: int) -> timedelta:
    return timedelta(minutes=value)


def _next_due(by: datetime | None, minutes: int | None, stage: str) -> datetime | None:
    """When one running clock next falls due: its warning, then its breach."""
    if by is None or minutes is None:
        return None
    if stage == SlaStage.OK:
        return by - _minutes(minutes) * (1 - WARNING_FRACTION)
    if stage == SlaStage.WARNED:
        return by
    return None


def due_at(values: dict[str, Any]) -> datetime | None:
    """The next time the job must look at an incident with these SLA values (or None)."""
    if values["state"] not in OPEN_STATES or values["state"] == S.ON_HOLD:
        return None
    candidates = [
        _next_due(
            values["sla_resolve_by"], values["sla_resolve_minutes"], values["sla_resolve_stage"]
        )
    ]
    if values["sla_responded_at"] is None:
        candidates.append(
            _next_due(
                values["sla_respond_by"], values["sla_respond_minutes"], values["sla_respond_stage"]
            )
        )
    found = [c for c in candidates if c is not None]
    return min(found) if found else None


SLA_FIELDS = (
    "sla_respond_minutes",
    "sla_resolve_minutes",
    "sla_respond_by",
    "sla_resolve_by",
    "sla_responded_at",
    "sla_paused_at",
    "sla_paused_seconds",
    "sla_respond_stage",
    "sla_resolve_stage",
)


# What re-targeting reads from an incident: a caller that loads only some fields (the
# correlation group's join) loads these too, so a priority rise costs no query.
SLA_READ = (*SLA_FIELDS, "opened_at", "state")


def _current(incident: Incident, changes: dict[str, Any]) -> dict[str, Any]:
    values = {f: getattr(incident, f) for f in (*SLA_FIELDS, "state")}
    values.update(changes)
    return values


def _with_due(
    incident: Incident, changes: dict[str, Any], *, state: str | None = None
) -> dict[str, Any]:
    """`changes` and the due time they give (in `state`, if the change moves it)."""
    current = _current(incident, changes)
    if state is not None:
        current["state"] = state
    return {**changes, "sla_due_at": due_at(current)}


def clock_start(incident: Incident) -> None:
    """Start the clocks of a new (unsaved) incident from its priority's targets."""
    respond, resolve = targets()[incident.priority]
    incident.sla_respond_minutes = respond
    incident.sla_resolve_minutes = resolve
    incident.sla_respond_by = incident.opened_at + _minutes(respond)
    incident.sla_resolve_by = incident.opened_at + _minutes(resolve)
    incident.sla_due_at = due_at(_current(incident, {}))


def transition_values(*, incident: Incident, to_state: str, now: datetime) -> dict[str, Any]:
    """The SLA fields a move to `to_state` changes (written with the move, one UPDATE).

    A resolve or a cancel reads nothing from the row (Azure resolves on the webhook's
    path with only the state loaded): the clocks just stop falling due.
    """
    if to_state in (S.RESOLVED, S.CANCELED, S.CLOSED):
        # Stopped; a pause in course stays recorded, so a reopen can count it.
        return {"sla_due_at": None}
    if incident.sla_respond_by is None and incident.sla_resolve_by is None:
        return {}  # older than the clocks
    if to_state == S.ON_HOLD:
        return {"sla_paused_at": now, "sla_due_at": None}
    sla: dict[str, Any] = {}
    if to_state == S.IN_PROGRESS:
        if incident.sla_responded_at is None:
            sla["sla_responded_at"] = now  # start (or a reopen) is a response
        # Back from on hold, or reopened: the time since then does not count.
        since = incident.sla_paused_at
        if since is None and incident.state == S.RESOLVED:
            since = incident.resolved_at
        if since is not None:
            sla.update(_resume(incident, since=since, now=now))
    return _with_due(incident, sla, state=to_state)


def _resume(incident: Incident, *, since: datetime, now: datetime) -> dict[str, Any]:
    paused = max(now - since, timedelta(0))
    moved: dict[str, Any] = {
        "sla_paused_at": None,
        "sla_paused_seconds": incident.sla_paused_seconds + int(paused.total_seconds()),
    }
    for by in ("sla_respond_by", "sla_resolve_by"):
        if getattr(incident, by) is not None:
            moved[by] = getattr(incident, by) + paused
    return moved


def response_values(*, incident: Incident, now: datetime) -> dict[str, Any]:
    """The SLA fields an assignment to a person changes: the response clock stops."""
    if incident.sla_responded_at is not None or incident.sla_respond_by is None:
        return {}
    return _with_due(incident, {"sla_responded_at": now})


def retarget_values(*, incident: Incident, priority: int) -> dict[str, Any]:
    """The SLA fields a new priority changes: both deadlines from `opened_at` anew.

    Time spent is kept (the deadlines count from the opening), and so is time paused
    (added back). A stage reached stays reached: each is journaled once.
    """
    if incident.sla_respond_by is None and incident.sla_resolve_by is None:
        return {}
    respond, resolve = targets()[priority]
    paused = timedelta(seconds=incident.sla_paused_seconds)
    changes = {
        "sla_respond_minutes": respond,
        "sla_resolve_minutes": resolve,
        "sla_respond_by": incident.opened_at + _minutes(respond) + paused,
        "sla_resolve_by": incident.opened_at + _minutes(resolve) + paused,
    }
    return _with_due(incident, changes)


# --- the job -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SlaEvent:
    """One stage an incident's clock reached (journaled once)."""

    incident_id: int
    clock: str  # "respond" or "resolve"
    stage: str  # SlaStage.WARNED or SlaStage.BREACHED

    @property
    def event(self) -> str:
        """The notification event (contract: notification rules)."""
        if self.stage == SlaStage.BREACHED:
            return events.Event.SLA_BREACHED
        return events.Event.SLA_WARNING


CLOCK_NAMES = {"respond": "Response", "resolve": "Resolution"}


def _reached(by: datetime | None, minutes: int | None, stage: str, now: datetime) -> str | None:
    """The stage a running clock has reached beyond `stage` by `now`, if any.

    A run that finds a clock already past its deadline breaches it without warning first.
    """
    if by is None or minutes is None or stage == SlaStage.BREACHED:
        return None
    if now >= by:
        return SlaStage.BREACHED
    warn_at = by - _minutes(minutes) * (1 - WARNING_FRACTION)
    if stage == SlaStage.OK and now >= warn_at:
        return SlaStage.WARNED
    return None


def _message(clock: str, stage: str, incident: Incident) -> str:
    name = CLOCK_NAMES[clock]
    minutes = getattr(incident, f"sla_{clock}_minutes")
    by = datetime_display(getattr(incident, f"sla_{clock}_by"))
    if stage == SlaStage.WARNED:
        return f"{name} SLA warning: 75 % of the {minutes} min target used; due by {by}."
    return f"{name} SLA breached: the {minutes} min target passed at {by}."


def incident_sla_check(*, incident_id: int, now: datetime) -> list[SlaEvent]:
    """Journal the warnings and breaches one incident's clocks reached by `now` (once each).

    Compare-and-set: the stages move only if they are still the ones read (the row is
    locked on PostgreSQL too), so a second worker on the same incident writes nothing.
    """
    from .services import journal_add  # here: services imports this module

    with transaction.atomic():
        incident = Incident.objects.select_for_update().filter(pk=incident_id).first()
        if incident is None or incident.sla_due_at is None:
            return []
        stages: dict[str, Any] = {}
        reached_events = []
        for clock in ("respond", "resolve"):
            if clock == "respond" and incident.sla_responded_at is not None:
                continue
            stage = getattr(incident, f"sla_{clock}_stage")
            reached = _reached(
                getattr(incident, f"sla_{clock}_by"),
                getattr(incident, f"sla_{clock}_minutes"),
                stage,
                now,
            )
            if (
                reached is not None
                and incident.state in OPEN_STATES
                and incident.state != S.ON_HOLD
            ):
                stages[f"sla_{clock}_stage"] = reached
                reached_events.append(SlaEvent(incident.pk, clock, reached))
        values = {**stages, "sla_due_at": due_at(_current(incident, stages))}
        written = Incident.objects.filter(
            pk=incident.pk,
            sla_due_at=incident.sla_due_at,
            sla_respond_stage=incident.sla_respond_stage,
            sla_resolve_stage=incident.sla_resolve_stage,
        ).update(**values)
        if not written:
            return []  # another worker got there first
        for event in reached_events:
            journal_add(
                incident=incident,
                actor=SLA_ACTOR,
                kind=JournalKind.SLA,
                message=_message(event.clock, event.stage, incident),
                at=now,
            )
            events.emit(
                event.event,
                incident_id=incident.pk,
                clock=event.clock,
                priority=incident.priority,
                assignment_group_id=incident.assignment_group_id,
            )
            logger.info("sla.%s incident=%s clock=%s", event.stage, incident.number, event.clock)
    return reached_events


def sla_check(*, now: datetime | None = None, batch: int = CHECK_BATCH) -> list[SlaEvent]:
    """Journal every warning and breach due by `now`: one indexed query, then per incident.

    Run every minute by the job `incidents.sla_check`; nothing polls per request.
    """
    now = now or timezone.now()
    due = list(
        Incident.objects.filter(sla_due_at__lte=now)
        .order_by("sla_due_at", "pk")
        .values_list("pk", flat=True)[:batch]
    )
    found: list[SlaEvent] = []
    for pk in due:
        found += incident_sla_check(incident_id=pk, now=now)
    return found


# --- reading a clock -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Clock:
    """One clock as the console and the API show it."""

    key: str  # "respond" or "resolve"
    name: str  # "Response" or "Resolution"
    by: datetime | None
    stopped_at: datetime | None  # responded, or resolved
    running: bool  # counting now (not paused, not stopped)
    paused: bool
    stage: str  # how far the job got (SlaStage): each stage is journaled once
    breached: bool  # journaled, or past its deadline already (the job runs each minute)
    left: timedelta | None  # time left (negative: overdue) while running or paused


def clocks(incident: Incident, *, now: datetime | None = None) -> list[Clock]:
    """Both clocks of an incident, from its row (none for incidents older than the clocks)."""
    if incident.sla_respond_by is None or incident.sla_resolve_by is None:
        return []
    now = now or timezone.now()
    is_open = incident.state in OPEN_STATES
    on_hold = incident.state == S.ON_HOLD
    found = []
    for key, by, stopped in (
        ("respond", incident.sla_respond_by, incident.sla_responded_at),
        ("resolve", incident.sla_resolve_by, incident.resolved_at),
    ):
        counting = is_open and stopped is None
        until = (incident.sla_paused_at or now) if on_hold else (stopped or now)
        left = by - until if counting else None
        stage = getattr(incident, f"sla_{key}_stage")
        found.append(
            Clock(
                key=key,
                name=CLOCK_NAMES[key],
                by=by,
                stopped_at=stopped,
                running=counting and not on_hold,
                paused=counting and on_hold,
                stage=stage,
                breached=stage == SlaStage.BREACHED
                or (stopped is not None and stopped > by)
                or (left is not None and left < timedelta(0)),
                left=left,
            )
        )
    return found


def summary(incident: Incident, *, now: datetime | None = None) -> dict[str, Any] | None:
    """The API's `sla` of an incident (contract), or None for one older than the clocks."""
    found = {c.key: c for c in clocks(incident, now=now)}
    if not found:
        return None
    return {
        "respond_by": found["respond"].by,
        "resolve_by": found["resolve"].by,
        "responded_at": incident.sla_responded_at,
        "paused": incident.state == S.ON_HOLD,
        "respond_breached": found["respond"].breached,
        "resolve_breached": found["resolve"].breached,
    }


def duration_text(value: timedelta) -> str:
    """A short, signed duration: "12 min", "3 h 05 min", "2 d 4 h", "-7 min" (overdue)."""
    seconds = int(value.total_seconds())
    sign = "-" if seconds < 0 else ""
    minutes = abs(seconds) // 60
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days:
        return f"{sign}{days} d {hours} h"
    if hours:
        return f"{sign}{hours} h {minutes:02d} min"
    return f"{sign}{minutes} min"


# --- targets -------------------------------------------------------------------------------


def sla_target_list() -> list[SlaTarget]:
    """One target per priority, the stored ones or the defaults (unsaved) for the others."""
    stored = {t.priority: t for t in SlaTarget.objects.order_by("priority")}
    return [
        stored.get(p) or SlaTarget(priority=p, respond_minutes=r, resolve_minutes=s)
        for p, (r, s) in sorted(DEFAULT_TARGETS.items())
    ]


@transaction.atomic
def sla_target_update(
    *, priority: int, respond_minutes: int | None = None, resolve_minutes: int | None = None
) -> SlaTarget:
    """Change the targets of one priority; incidents opened from now on take them.

    Open incidents keep the targets they opened with until their priority changes.
    ApplicationError `invalid_target` for an unknown priority or a target under a minute.
    """
    if priority not in DEFAULT_TARGETS:
        raise ApplicationError(
            f"There is no priority {priority}; priorities are 1 to 5.",
            code="invalid_target",
            fields=["priority"],
        )
    target = SlaTarget.objects.select_for_update().filter(priority=priority).first()
    if target is None:
        respond, resolve = DEFAULT_TARGETS[priority]
        target = SlaTarget(priority=priority, respond_minutes=respond, resolve_minutes=resolve)
    for field, value in (
        ("respond_minutes", respond_minutes),
        ("resolve_minutes", resolve_minutes),
    ):
        if value is not None:
            if value < 1:
                raise ApplicationError(
                    "A target is at least one minute.", code="invalid_target", fields=[field]
                )
            setattr(target, field, value)
    target.save()  # its post_save clears this process's cached targets
    return target
