"""Every change to an incident goes through these functions; each writes the journal.

`actor` is the person who acts, or a `str` naming a system actor ("Azure Monitor").
"""

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import SupportsInt, cast

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import DateTimeField, F, Value
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from cmdb.models import ConfigurationItem
from core import events
from core.events import Event
from core.exceptions import ApplicationError, StateChanged, TransitionNotAllowed

from . import sla
from .choices import IncidentState, JournalKind, ResolutionCode
from .models import AssignmentGroup, Incident, IncidentConfigurationItem, JournalEntry
from .priority import impact_urgency_for_severity, priority_for

Actor = AbstractBaseUser | str

S = IncidentState
# The one table of allowed state changes, shared by the webhook, the admin and the API.
TRANSITIONS: dict[str, frozenset[str]] = {
    S.NEW: frozenset({S.IN_PROGRESS, S.ON_HOLD, S.RESOLVED, S.CANCELED}),
    S.IN_PROGRESS: frozenset({S.ON_HOLD, S.RESOLVED, S.CANCELED}),
    S.ON_HOLD: frozenset({S.IN_PROGRESS, S.RESOLVED, S.CANCELED}),
    S.RESOLVED: frozenset({S.IN_PROGRESS, S.CLOSED}),
    S.CLOSED: frozenset(),
    S.CANCELED: frozenset(),
}
# A closed or canceled incident is a record: no edit, no reassignment.
FINAL_STATES = (S.CLOSED, S.CANCELED)


def _actor_fields(actor: Actor) -> dict[str, object]:
    if isinstance(actor, str):
        return {"actor": None, "actor_name": actor}
    return {"actor": actor, "actor_name": actor.get_username()}


def journal_entry_new(
    *,
    incident: Incident,
    actor: Actor,
    kind: str,
    message: str = "",
    from_state: str = "",
    to_state: str = "",
    at: datetime | None = None,
) -> JournalEntry:
    """Build (unsaved) one line of an incident's history, as `journal_add` writes it."""
    return JournalEntry(
        incident=incident,
        created_at=at or timezone.now(),
        kind=kind,
        message=message,
        from_state=from_state,
        to_state=to_state,
        **_actor_fields(actor),
    )


def journal_add(
    *,
    incident: Incident,
    actor: Actor,
    kind: str,
    message: str = "",
    from_state: str = "",
    to_state: str = "",
    at: datetime | None = None,
) -> JournalEntry:
    """Write one line of an incident's history."""
    entry = journal_entry_new(
        incident=incident,
        actor=actor,
        kind=kind,
        message=message,
        from_state=from_state,
        to_state=to_state,
        at=at,
    )
    entry.save(force_insert=True)
    return entry


def incident_new(
    *,
    title: str,
    description: str,
    actor: Actor,
    severity: str | None = None,
    impact: int | None = None,
    urgency: int | None = None,
    opened_at: datetime | None = None,
    message: str = "",
) -> tuple[Incident, JournalEntry]:
    """Build (unsaved) an incident and its opening journal line, as `incident_open` writes them.

    Impact and urgency default from the Azure severity. The webhook's hot path writes
    these instances in one statement (integrations.fastpath); everyone else calls
    `incident_open`.
    """
    default_impact, default_urgency = impact_urgency_for_severity(severity)
    now = timezone.now()
    incident = Incident(
        title=title[:255],
        description=description,
        severity=severity,
        impact=impact or default_impact,
        urgency=urgency or default_urgency,
        opened_at=opened_at or now,
    )
    incident.priority = priority_for(incident.impact, incident.urgency)
    sla.clock_start(incident)  # the cached targets: no statement
    entry = journal_entry_new(
        incident=incident,
        actor=actor,
        kind=JournalKind.OPENED,
        message=message or "Incident opened.",
        to_state=incident.state,
        at=now,
    )
    return incident, entry


# No savepoint: nothing catches errors inside.
@transaction.atomic(savepoint=False)
def incident_open(
    *,
    title: str,
    description: str,
    actor: Actor,
    severity: str | None = None,
    impact: int | None = None,
    urgency: int | None = None,
    opened_at: datetime | None = None,
    configuration_items: Iterable[ConfigurationItem] = (),
    message: str = "",
    event_key: str = "",
) -> Incident:
    """Open an incident linked to `configuration_items`; impact and urgency default from
    the Azure severity. `event_key`: the Azure event it follows (Incident.event_key)."""
    incident, entry = incident_new(
        title=title,
        description=description,
        actor=actor,
        severity=severity,
        impact=impact,
        urgency=urgency,
        opened_at=opened_at,
        message=message,
    )
    incident.event_key = event_key
    return incident_save_new(
        incident=incident, journal=entry, configuration_items=configuration_items
    )


# No savepoint: nothing catches errors inside.
@transaction.atomic(savepoint=False)
def incident_save_new(
    *,
    incident: Incident,
    journal: JournalEntry,
    configuration_items: Iterable[ConfigurationItem] = (),
) -> Incident:
    """Write an incident built by `incident_new`, its CI links and its opening journal line.

    The ORM's three statements; the webhook's hot path on PostgreSQL writes the same rows
    in one (integrations.fastpath.incident_insert).
    """
    incident.save(force_insert=True)
    incident_link_configuration_items(incident=incident, configuration_items=configuration_items)
    journal.incident = incident
    journal.save(force_insert=True)
    return incident


# No savepoint: nothing catches errors inside.
@transaction.atomic(savepoint=False)
def incident_alert_added(
    *,
    incident: Incident,
    fired_at: datetime,
    actor: Actor,
    message: str = "",
    kind: str = JournalKind.GROUPED,
    configuration_items: Iterable[ConfigurationItem] = (),
    raise_priority_to: str | None = None,
    raise_priority: bool = False,
) -> Incident:
    """Count one more Azure alert on an incident: `alert_count`, `last_alert_at`, its CIs.

    With `raise_priority`, the priority rises to the one severity `raise_priority_to`
    gives (impact and urgency with it, by the matrix) when that is more severe, unless a
    person set impact or urgency (`priority_set_by_person`): the caller holds the row
    locked, having read those fields. A `message` is journaled (`kind`), with the rise.
    The counters are written as expressions (concurrent follow-ups add up), so they are
    left deferred on the caller's copy.
    """
    now = timezone.now()
    at = Value(fired_at, output_field=DateTimeField())
    values: dict[str, object] = {
        "alert_count": F("alert_count") + 1,
        "last_alert_at": Greatest(Coalesce(F("last_alert_at"), at), at),
        "updated_at": now,
    }
    raised = (
        incident_priority_rise(incident=incident, severity=raise_priority_to)
        if raise_priority
        else {}
    )
    Incident.objects.filter(pk=incident.pk).update(**values, **raised)
    incident_link_configuration_items(incident=incident, configuration_items=configuration_items)
    if message:
        message += priority_rise_note(incident=incident, raised=raised)
        journal_add(incident=incident, actor=actor, kind=kind, message=message, at=now)
    for field in ("alert_count", "last_alert_at"):
        incident.__dict__.pop(field, None)  # deferred: read again if ever used
    return _written(incident, {"updated_at": now, **raised})


def incident_priority_rise(*, incident: Incident, severity: str | None) -> dict[str, object]:
    """The impact, urgency, priority and severity an alert of `severity` raises the
    incident to, or {} when it is no more severe or a person set the priority.

    Reads `priority` and `priority_set_by_person` from the caller's copy (read locked),
    and the SLA fields (`sla.SLA_READ`): the clocks are re-targeted with the rise.
    """
    if incident.priority_set_by_person:
        return {}
    impact, urgency = impact_urgency_for_severity(severity)
    priority = priority_for(impact, urgency)
    if priority >= incident.priority:
        return {}
    raised = {"impact": impact, "urgency": urgency, "priority": priority, "severity": severity}
    # Both SLA clocks follow the new priority (the caller read their fields: sla.SLA_READ).
    return {**raised, **sla.retarget_values(incident=incident, priority=priority)}


def priority_rise_note(*, incident: Incident, raised: Mapping[str, object]) -> str:
    """What a journal line adds for a rise (`incident_priority_rise`): "" without one."""
    return f" Priority {incident.priority} → {raised['priority']}." if raised else ""


def incident_group_release(*, incident: Incident) -> bool:
    """Stop an incident taking alerts of its correlation group: clear its `group_key`.

    Compare-and-set on the key the caller read: False (nothing written) if it changed
    meanwhile, so a concurrent release or merge is not undone.
    """
    released = Incident.objects.filter(pk=incident.pk, group_key=incident.group_key).update(
        group_key="", updated_at=timezone.now()
    )
    incident.group_key = ""
    return bool(released)


def incident_link_configuration_items(
    *, incident: Incident, configuration_items: Iterable[ConfigurationItem]
) -> None:
    """Link CIs to an incident in one statement; links that exist already are kept."""
    IncidentConfigurationItem.objects.bulk_create(
        [
            IncidentConfigurationItem(incident=incident, configuration_item_id=pk)
            for pk in dict.fromkeys(ci.pk for ci in configuration_items)
        ],
        ignore_conflicts=True,
    )


def incident_unlink_configuration_items(
    *, incident: Incident, configuration_item_ids: Iterable[int]
) -> int:
    """Remove these CIs' links from an incident (one statement); return how many went."""
    ids = list(dict.fromkeys(configuration_item_ids))
    if not ids:
        return 0
    found = IncidentConfigurationItem.objects.filter(
        incident=incident, configuration_item_id__in=ids
    )
    return found.delete()[0]


def _changed_meanwhile(incident: Incident) -> StateChanged:
    """The refusal of a compare-and-set that found the incident changed (one read)."""
    state = Incident.objects.filter(pk=incident.pk).values_list("state", flat=True).first()
    now = f" (it is now {S(state).label.lower()})" if state else ""
    return StateChanged(f"{incident.number} changed meanwhile{now}; reload it.")


def _written(incident: Incident, values: Mapping[str, object]) -> Incident:
    """Bring the caller's copy in line with what was just written."""
    for field, value in values.items():
        setattr(incident, field, value)
    return incident


def _transition(
    *,
    incident: Incident,
    to_state: str,
    actor: Actor,
    message: str,
    changes: dict[str, object] | None = None,
) -> Incident:
    """Move an incident to `to_state` if the table allows it, apply `changes`, journal it.

    Compare-and-set: the move happens only if the stored state is still the caller's;
    otherwise StateChanged (409), and nothing is written. The journal's from_state is
    therefore always the state that was replaced.
    """
    from_state = incident.state
    if to_state not in TRANSITIONS[from_state]:
        raise TransitionNotAllowed(
            f"{incident.number} is {S(from_state).label.lower()}; it cannot be moved to "
            f"{S(to_state).label.lower()}."
        )
    now = timezone.now()
    values = {
        **(changes or {}),
        # The clocks stop, pause or resume with the move, in the same UPDATE.
        **sla.transition_values(incident=incident, to_state=to_state, now=now),
        "state": to_state,
        "updated_at": now,
    }
    # Refusals are raised outside the transaction: they must not poison a caller's
    # transaction, and without a savepoint none is wasted on the webhook's hot path.
    # The UPDATE replaces a save(), so the compare costs no extra statement.
    with transaction.atomic(savepoint=False):
        written = Incident.objects.filter(pk=incident.pk, state=from_state).update(**values)
        if written:
            journal_add(
                incident=incident,
                actor=actor,
                kind=JournalKind.STATE_CHANGED,
                message=message,
                from_state=from_state,
                to_state=to_state,
            )
            if to_state == S.RESOLVED:
                # Whoever resolves it; subscribers enqueue in this transaction (core.events).
                events.emit(
                    Event.INCIDENT_RESOLVED,
                    incident_id=incident.pk,
                    priority=incident.priority,
                    assignment_group_id=incident.assignment_group_id,
                )
    if not written:
        raise _changed_meanwhile(incident)
    return _written(incident, values)


# What a person types with a change; the console's forms and the API's serializers take
# their limits from here (incidents.lifecycle), and the services below apply them.
REASON_MAX_LENGTH = 2000
NOTE_MAX_LENGTH = 10_000


def _text(value: str, *, field: str, max_length: int, required: str = "", code: str = "") -> str:
    """Return `value` stripped; refuse it over `max_length`, or empty when `required` says why.

    The rules on what a person types live here, not in a form: the console, the API and
    any other caller meet the same ones (ApplicationError naming `field`, a 400).
    """
    value = value.strip()
    if required and not value:
        raise ApplicationError(required, code=code or "reason_required", fields=[field])
    if len(value) > max_length:
        raise ApplicationError(
            f"The {field.replace('_', ' ')} is too long: at most {max_length} characters.",
            code="too_long",
            fields=[field],
        )
    return value


def incident_resolve(
    *,
    incident: Incident,
    actor: Actor,
    resolution_code: str,
    resolution_notes: str = "",
    resolved_at: datetime | None = None,
) -> Incident:
    """Resolve an open incident with a resolution code (required) and notes (optional)."""
    if resolution_code not in ResolutionCode.values:
        raise ApplicationError(
            f"Unknown resolution code {resolution_code!r}; use one of "
            + ", ".join(ResolutionCode.values)
            + ".",
            code="invalid_resolution_code",
            fields=["resolution_code"],
        )
    resolution_notes = _text(resolution_notes, field="resolution_notes", max_length=NOTE_MAX_LENGTH)
    message = f"Resolved ({ResolutionCode(resolution_code).label})."
    if resolution_notes:
        message += f" {resolution_notes}"
    return _transition(
        incident=incident,
        to_state=S.RESOLVED,
        actor=actor,
        message=message,
        changes={
            "resolved_at": resolved_at or timezone.now(),
            "resolution_code": resolution_code,
            "resolution_notes": resolution_notes,
        },
    )


def incident_start(*, incident: Incident, actor: Actor) -> Incident:
    """Start work on an incident (in progress).

    A resolved incident is reopened instead (`incident_reopen`), which clears the resolution.
    """
    if incident.state == S.RESOLVED:
        raise TransitionNotAllowed(
            f"{incident.number} is resolved; reopen it instead (that clears the resolution).",
            code="use_reopen",
        )
    return _transition(
        incident=incident, to_state=S.IN_PROGRESS, actor=actor, message="Work started."
    )


def incident_hold(*, incident: Incident, actor: Actor, reason: str) -> Incident:
    """Put an incident on hold, saying why (ApplicationError `reason_required` without)."""
    reason = _text(
        reason,
        field="reason",
        max_length=REASON_MAX_LENGTH,
        required="Say why the incident is put on hold.",
    )
    return _transition(
        incident=incident, to_state=S.ON_HOLD, actor=actor, message=f"On hold: {reason}"
    )


def incident_close(*, incident: Incident, actor: Actor) -> Incident:
    """Close a resolved incident for good."""
    return _transition(
        incident=incident,
        to_state=S.CLOSED,
        actor=actor,
        message="Closed.",
        changes={"closed_at": timezone.now()},
    )


def incident_cancel(*, incident: Incident, actor: Actor, reason: str) -> Incident:
    """Cancel an incident that needs no work (false alarm, raised in error), saying why.

    Canceling is final, so the reason is required (ApplicationError `reason_required`).
    """
    reason = _text(
        reason,
        field="reason",
        max_length=REASON_MAX_LENGTH,
        required="Say why the incident is canceled.",
    )
    return _transition(
        incident=incident, to_state=S.CANCELED, actor=actor, message=f"Canceled. {reason}"
    )


def incident_reopen(*, incident: Incident, actor: Actor, reason: str) -> Incident:
    """Reopen a resolved incident, saying why: back to in progress, resolution cleared.

    The reason is required (ApplicationError `reason_required`): it undoes a resolution.
    Only a resolved incident can be reopened; an open one is started, a closed or canceled
    one stays as it is (TransitionNotAllowed).
    """
    reason = _text(
        reason,
        field="reason",
        max_length=REASON_MAX_LENGTH,
        required="Say why the incident is reopened (why the resolution did not hold).",
    )
    if incident.state != S.RESOLVED:
        raise TransitionNotAllowed(
            f"{incident.number} is {S(incident.state).label.lower()}; only a resolved "
            "incident can be reopened."
        )
    return _transition(
        incident=incident,
        to_state=S.IN_PROGRESS,
        actor=actor,
        message=f"Reopened. {reason}",
        changes={"resolved_at": None, "resolution_code": "", "resolution_notes": ""},
    )


def incident_flapping(*, incident: Incident, actor: Actor, message: str) -> Incident:
    """Mark an incident flapping (its alert rule keeps firing on one target) and journal
    `message` (kind flapping); a resolved one is reopened first (`incident_reopen`).

    Compare-and-set: the incident must still be open (or resolved, as read); otherwise
    StateChanged. A closed or canceled incident is refused (TransitionNotAllowed): a
    person's decision stands. Counting the alert is the caller's (`incident_alert_added`).
    """
    if incident.state in FINAL_STATES:
        raise TransitionNotAllowed(
            f"{incident.number} is {S(incident.state).label.lower()}; it stays as it is."
        )
    if incident.state == S.RESOLVED:
        incident_reopen(
            incident=incident, actor=actor, reason="Its alert rule fired again (flapping)."
        )
    now = timezone.now()
    with transaction.atomic(savepoint=False):
        written = (
            Incident.objects.filter(pk=incident.pk)
            .exclude(state__in=(*FINAL_STATES, S.RESOLVED))  # still open
            .update(is_flapping=True, updated_at=now)
        )
        if written:
            journal_add(
                incident=incident, actor=actor, kind=JournalKind.FLAPPING, message=message, at=now
            )
    if not written:
        raise _changed_meanwhile(incident)
    return _written(incident, {"is_flapping": True, "updated_at": now})


def incident_flapping_end(*, incident: Incident, actor: Actor, message: str) -> bool:
    """Clear an incident's flapping mark and journal `message`; False if it had none."""
    now = timezone.now()
    with transaction.atomic(savepoint=False):
        written = Incident.objects.filter(pk=incident.pk, is_flapping=True).update(
            is_flapping=False, updated_at=now
        )
        if written:
            journal_add(
                incident=incident, actor=actor, kind=JournalKind.FLAPPING, message=message, at=now
            )
    _written(incident, {"is_flapping": False, "updated_at": now})
    return bool(written)


def incident_assign(
    *,
    incident: Incident,
    actor: Actor,
    assigned_to: AbstractBaseUser | None,
    assignment_group: AssignmentGroup | None,
) -> Incident:
    """Assign an incident to a person and/or a group (None clears)."""
    if incident.state in (S.CLOSED, S.CANCELED):
        raise TransitionNotAllowed(
            f"{incident.number} is {S(incident.state).label.lower()}; it cannot be reassigned."
        )
    who = assigned_to.get_username() if assigned_to else "nobody"
    group = assignment_group.name if assignment_group else "no group"
    now = timezone.now()
    values = {
        "assigned_to": assigned_to,
        "assignment_group": assignment_group,
        "updated_at": now,
    }
    if assigned_to is not None:
        # The first assignment to a person stops the response clock.
        values.update(sla.response_values(incident=incident, now=now))
    with transaction.atomic(savepoint=False):
        # Compare-and-set: not if it was closed or canceled since the caller read it.
        written = (
            Incident.objects.filter(pk=incident.pk).exclude(state__in=FINAL_STATES).update(**values)
        )
        if written:
            journal_add(
                incident=incident,
                actor=actor,
                kind=JournalKind.ASSIGNED,
                message=f"Assigned to {who} ({group}).",
            )
            if assigned_to is not None or assignment_group is not None:
                events.emit(
                    Event.INCIDENT_ASSIGNED,
                    incident_id=incident.pk,
                    priority=incident.priority,
                    assignment_group_id=assignment_group.pk if assignment_group else None,
                )
    if not written:
        raise _changed_meanwhile(incident)
    return _written(incident, values)


def incident_add_work_note(*, incident: Incident, actor: Actor, message: str) -> JournalEntry:
    """Add a work note to an incident's journal (ApplicationError `empty_note` if blank)."""
    message = _text(
        message,
        field="message",
        max_length=NOTE_MAX_LENGTH,
        required="A work note cannot be empty.",
        code="empty_note",
    )
    return journal_add(incident=incident, actor=actor, kind=JournalKind.WORK_NOTE, message=message)


def incident_create(
    *,
    actor: Actor,
    title: str,
    description: str = "",
    impact: int,
    urgency: int,
    configuration_items: Iterable[ConfigurationItem] = (),
    assigned_to: AbstractBaseUser | None = None,
    assignment_group: AssignmentGroup | None = None,
) -> Incident:
    """Open an incident by hand (not from an alert), optionally assigned at once."""
    if not title.strip():
        raise ApplicationError("An incident needs a title.", code="title_required")
    with transaction.atomic():
        incident, entry = incident_new(
            title=title.strip(),
            description=description,
            actor=actor,
            impact=impact,
            urgency=urgency,
            message="Opened by hand.",
        )
        # A person chose impact and urgency: grouped alerts never raise its priority.
        incident.priority_set_by_person = not isinstance(actor, str)
        incident_save_new(incident=incident, journal=entry, configuration_items=configuration_items)
        if assigned_to is not None or assignment_group is not None:
            incident_assign(
                incident=incident,
                actor=actor,
                assigned_to=assigned_to,
                assignment_group=assignment_group,
            )
        events.emit(
            Event.INCIDENT_OPENED,
            incident_id=incident.pk,
            priority=incident.priority,
            assignment_group_id=incident.assignment_group_id,
        )
    return incident


EDITABLE_FIELDS = ("title", "description", "impact", "urgency")
# What Azure Monitor said stays as it said it (the console shows these read-only).
AZURE_OWNED_FIELDS = ("title", "description")


def incident_update(*, incident: Incident, actor: Actor, **changes: object) -> Incident:
    """Change an incident's title, description, impact or urgency; priority follows.

    Closed and canceled incidents are a record and cannot be edited; the title and
    description of an incident from Azure Monitor are Azure's (ApplicationError
    `azure_owned`). StateChanged if the incident was closed or canceled since the caller
    read it, or its impact or urgency changed meanwhile.
    """
    unknown = sorted(set(changes) - set(EDITABLE_FIELDS))
    if unknown:
        raise ApplicationError(
            f"These fields cannot be edited: {', '.join(unknown)}.", fields=unknown
        )
    if incident.state in FINAL_STATES:
        raise TransitionNotAllowed(
            f"{incident.number} is {S(incident.state).label.lower()}; it cannot be edited."
        )
    if "title" in changes and not str(changes["title"]).strip():
        raise ApplicationError(
            "An incident needs a title.", code="title_required", fields=["title"]
        )
    changed = {f: v for f, v in changes.items() if getattr(incident, f) != v}
    if not changed:
        return incident
    azure_owned = [f for f in AZURE_OWNED_FIELDS if f in changed]
    if azure_owned and incident.alerts.exists():
        raise ApplicationError(
            f"{incident.number} comes from Azure Monitor: its {' and '.join(azure_owned)} "
            "cannot be edited.",
            code="azure_owned",
            fields=azure_owned,
        )
    values: dict[str, object] = {**changed, "updated_at": timezone.now()}
    # Compare-and-set: not if it was closed or canceled since the caller read it.
    current = Incident.objects.filter(pk=incident.pk).exclude(state__in=FINAL_STATES)
    before = incident.priority
    if "impact" in changed or "urgency" in changed:
        # Priority depends on both: computed from a stale one it would be wrong.
        current = current.filter(impact=incident.impact, urgency=incident.urgency)
        values["priority"] = priority_for(
            # Given by the serializers and forms as numbers (IntegerChoices values).
            int(cast(SupportsInt, changed.get("impact", incident.impact))),
            int(cast(SupportsInt, changed.get("urgency", incident.urgency))),
        )
        if not isinstance(actor, str):
            # A person's choice: grouped alerts no longer raise the priority.
            values["priority_set_by_person"] = True
        if values["priority"] != before:
            # Both SLA clocks follow the new priority (time spent and paused kept).
            values.update(
                sla.retarget_values(incident=incident, priority=cast(int, values["priority"]))
            )
    with transaction.atomic(savepoint=False):
        written = current.update(**values)
        if written:
            message = "Changed " + ", ".join(sorted(changed)) + "."
            if values.get("priority", before) != before:
                message += f" Priority {before} → {values['priority']}."
            journal_add(incident=incident, actor=actor, kind=JournalKind.UPDATED, message=message)
    if not written:
        raise _changed_meanwhile(incident)
    return _written(incident, values)


class _Keep:
    """Marks an assignment field `incident_edit` should leave as it is."""

    def __repr__(self) -> str:
        return "KEEP"


KEEP = _Keep()


def incident_edit(
    *,
    incident: Incident,
    actor: Actor,
    changes: dict[str, object],
    assigned_to: AbstractBaseUser | None | _Keep = KEEP,
    assignment_group: AssignmentGroup | None | _Keep = KEEP,
) -> Incident:
    """Apply one edit by an operator: fields (as `incident_update`) and the assignment.

    Both or nothing. The assignment is only changed (and journaled) when it differs;
    `KEEP` leaves that part as it is. Closed and canceled incidents cannot be edited.
    """
    with transaction.atomic():
        incident_update(incident=incident, actor=actor, **changes)
        person = incident.assigned_to if isinstance(assigned_to, _Keep) else assigned_to
        group = (
            incident.assignment_group if isinstance(assignment_group, _Keep) else assignment_group
        )
        if (person, group) != (incident.assigned_to, incident.assignment_group):
            incident_assign(
                incident=incident, actor=actor, assigned_to=person, assignment_group=group
            )
    return incident
