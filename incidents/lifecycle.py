"""What a person can do to an incident: the one table the console and the API are built from.

Each `Action` says what it is called (the API's path segment, the console's button and
bulk action), who may do it (a permission), the input it takes (fields, from which the
console's form and the API's serializer are both built: `incidents.forms.form_for`,
`incidents.api.serializers.serializer_for`), the states it applies from (the console
shows a button only there) and the service it calls.

The services stay the judges: they refuse what `services.TRANSITIONS` forbids and input
their rules refuse (a missing reason), with the same message wherever the call came from.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .choices import IncidentState, ResolutionCode
from .models import Incident
from .services import (
    NOTE_MAX_LENGTH,
    REASON_MAX_LENGTH,
    TRANSITIONS,
    Actor,
    incident_assign,
    incident_cancel,
    incident_close,
    incident_hold,
    incident_reopen,
    incident_resolve,
    incident_start,
)

S = IncidentState
CHANGE_INCIDENT = "incidents.change_incident"


# --- the input an action takes: one description, a form field and a serializer field ---


@dataclass(frozen=True)
class Text:
    """Free text. `required`: the service refuses it empty (asked for in the console)."""

    max_length: int
    required: bool = True
    help_text: str = ""
    rows: int = 3


@dataclass(frozen=True)
class Choice:
    """One of `choices` (value, label), required."""

    choices: list[tuple[str, str]]
    initial: str = ""


@dataclass(frozen=True)
class Person:
    """Someone incidents are assigned to, or nobody. Left out of an API body: kept."""


@dataclass(frozen=True)
class Group:
    """An assignment group, or none. Left out of an API body: kept."""


Input = Text | Choice | Person | Group


def is_final(state: str) -> bool:
    """Closed and canceled have no way out; the services refuse to reassign them too."""
    return not TRANSITIONS[state]


def _states(condition: Callable[[str], bool]) -> frozenset[str]:
    return frozenset(state for state in S.values if condition(state))


def _into(to_state: str) -> frozenset[str]:
    """The states `services.TRANSITIONS` lets an incident leave for `to_state`."""
    return _states(lambda state: to_state in TRANSITIONS[state])


@dataclass(frozen=True, eq=False)  # compared (and cached) by identity: one per name
class Action:
    """Something a person does to one incident (or, in the console, to many at once)."""

    name: str  # the API's `POST /api/incidents/{number}/{name}/`, the console's URL
    label: str  # the button; "…" when it asks for input first
    done: str  # the console's success message, before the numbers
    summary: str  # the API's documentation of the operation
    service: Callable[..., Incident]
    from_states: frozenset[str]
    inputs: Mapping[str, Input] = field(default_factory=dict)
    # The service's arguments from the input, when they are not the input as it stands.
    arguments: Callable[[Incident, Actor, dict[str, Any]], dict[str, Any]] | None = None
    permission: str = CHANGE_INCIDENT
    bulk_label: str = ""  # the list's action menu, if it says more than the button
    description: str = ""  # what the console's form says first
    in_api: bool = True

    @property
    def action_name(self) -> str:
        """The console's bulk action."""
        return f"{self.name}_selected"

    def available(self, state: str) -> bool:
        """Whether an incident in `state` can have this done (the console shows a button)."""
        return state in self.from_states

    def run(self, incident: Incident, actor: Actor, data: dict[str, Any]) -> Incident:
        """Call the service with the validated input (a form's or a serializer's)."""
        arguments = self.arguments(incident, actor, data) if self.arguments else data
        return self.service(incident=incident, actor=actor, **arguments)


def _keep_unsent(incident: Incident, actor: Actor, data: dict[str, Any]) -> dict[str, Any]:
    # An API body may leave a field out (keep it); the console's form always sends both.
    return {
        "assigned_to": data.get("assigned_to", incident.assigned_to),
        "assignment_group": data.get("assignment_group", incident.assignment_group),
    }


def _to_me(incident: Incident, actor: Actor, data: dict[str, Any]) -> dict[str, Any]:
    return {"assigned_to": actor, "assignment_group": incident.assignment_group}


def _reason(help_text: str) -> Mapping[str, Input]:
    return {"reason": Text(max_length=REASON_MAX_LENGTH, help_text=help_text)}


_NOT_FINAL = _states(lambda state: not is_final(state))

LIFECYCLE: dict[str, Action] = {
    action.name: action
    for action in (
        Action(
            name="take",
            label="Assign to me",
            done="Assigned to you",
            summary="Assign to the caller, keeping the group.",
            service=incident_assign,
            arguments=_to_me,
            from_states=_NOT_FINAL,
            in_api=False,  # the API names the person: `assign`
        ),
        Action(
            name="assign",
            label="Assign…",
            bulk_label="Assign to a person or group…",
            done="Assigned",
            summary="Assign to a person and/or a group; a field left out keeps its value, "
            "null clears.",
            description="Choose a person and/or a group; leave both empty to unassign.",
            service=incident_assign,
            arguments=_keep_unsent,
            from_states=_NOT_FINAL,
            inputs={"assigned_to": Person(), "assignment_group": Group()},
        ),
        Action(
            name="start",
            label="Start work",
            bulk_label="Start work (in progress)",
            done="Work started on",
            summary="Start work: `in_progress` (from `new` or `on_hold`).",
            service=incident_start,
            # Resolved -> in progress is a reopen, which clears the resolution (and asks why).
            from_states=_into(S.IN_PROGRESS) - {S.RESOLVED},
        ),
        Action(
            name="hold",
            label="Put on hold…",
            done="Put on hold",
            summary="Put on hold, saying why: `on_hold` (from `new` or `in_progress`). "
            "Without a reason: 400 `reason_required`.",
            service=incident_hold,
            from_states=_into(S.ON_HOLD),
            inputs=_reason("What the incident waits for (a vendor, a change window, the user…)."),
        ),
        Action(
            name="resolve",
            label="Resolve…",
            done="Resolved",
            summary="Resolve with a resolution code and notes: `resolved` (from an open state).",
            description="The incident leaves the open list; close it once the fix is confirmed.",
            service=incident_resolve,
            from_states=_into(S.RESOLVED),
            inputs={
                "resolution_code": Choice(ResolutionCode.choices, initial=ResolutionCode.SOLVED),
                "resolution_notes": Text(
                    max_length=NOTE_MAX_LENGTH,
                    required=False,
                    rows=5,
                    help_text="What was wrong and what was done; kept on the incident and in "
                    "its journal.",
                ),
            },
        ),
        Action(
            name="close",
            label="Close",
            done="Closed",
            summary="Close for good: `closed` (from `resolved`).",
            service=incident_close,
            from_states=_into(S.CLOSED),
        ),
        Action(
            name="cancel",
            label="Cancel…",
            done="Canceled",
            summary="Cancel (no work needed), saying why: `canceled` (from an open state). "
            "Without a reason: 400 `reason_required`.",
            description="A canceled incident is final: it cannot be reopened.",
            service=incident_cancel,
            from_states=_into(S.CANCELED),
            inputs=_reason("Why no work is needed (false alarm, raised in error, duplicate…)."),
        ),
        Action(
            name="reopen",
            label="Reopen…",
            done="Reopened",
            summary="Reopen, saying why: back to `in_progress` (from `resolved`), resolution "
            "cleared. Without a reason: 400 `reason_required`.",
            description="The incident goes back to in progress and its resolution is cleared.",
            service=incident_reopen,
            from_states=_into(S.IN_PROGRESS) & {S.RESOLVED},
            inputs=_reason("Why the resolution did not hold."),
        ),
    )
}
