"""Lifecycle actions: one table for the list's bulk actions and the incident page's buttons.

Each entry calls one service; whether a button is shown comes from `services.TRANSITIONS`,
the table shared with the webhook and the API. The services refuse what the table
forbids, with a message the console shows.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django import forms

from ..choices import IncidentState
from ..forms import AssignForm, CancelForm, HoldForm, ReopenForm, ResolveForm
from ..models import Incident
from ..services import (
    TRANSITIONS,
    incident_assign,
    incident_cancel,
    incident_close,
    incident_hold,
    incident_reopen,
    incident_resolve,
    incident_start,
)

S = IncidentState

# How many incident numbers a message names before it says "and N more".
MESSAGE_NUMBERS = 20


def is_final(state: str) -> bool:
    # Closed and canceled have no way out; the services refuse to reassign them too.
    return not TRANSITIONS[state]


def _take(incident: Incident, actor: Any, data: dict[str, Any]) -> Incident:
    return incident_assign(
        incident=incident,
        actor=actor,
        assigned_to=actor,
        assignment_group=incident.assignment_group,
    )


@dataclass(frozen=True)
class Lifecycle:
    """Something an operator does to an incident, from the list (bulk) or the incident page."""

    name: str
    label: str  # the button and the action
    done: str  # what the success message says
    run: Callable[[Incident, Any, dict[str, Any]], object]
    available: Callable[[str], bool]  # whether the state allows it (a button is shown)
    form: type[forms.Form] | None = None  # asked for first, on an intermediate page
    description: str = ""

    @property
    def action_name(self) -> str:
        return f"{self.name}_selected"


LIFECYCLE: dict[str, Lifecycle] = {
    spec.name: spec
    for spec in (
        Lifecycle(
            name="take",
            label="Assign to me",
            done="Assigned to you",
            run=_take,
            available=lambda state: not is_final(state),
        ),
        Lifecycle(
            name="assign",
            label="Assign…",
            done="Assigned",
            run=lambda incident, actor, data: incident_assign(
                incident=incident,
                actor=actor,
                assigned_to=data["assigned_to"],
                assignment_group=data["assignment_group"],
            ),
            available=lambda state: not is_final(state),
            form=AssignForm,
            description="Choose a person and/or a group; leave both empty to unassign.",
        ),
        Lifecycle(
            name="start",
            label="Start work",
            done="Work started on",
            run=lambda incident, actor, data: incident_start(incident=incident, actor=actor),
            # Resolved -> in progress is a reopen, which clears the resolution (and asks why).
            available=lambda state: S.IN_PROGRESS in TRANSITIONS[state] and state != S.RESOLVED,
        ),
        Lifecycle(
            name="hold",
            label="Put on hold…",
            done="Put on hold",
            run=lambda incident, actor, data: incident_hold(
                incident=incident, actor=actor, reason=data["reason"]
            ),
            available=lambda state: S.ON_HOLD in TRANSITIONS[state],
            form=HoldForm,
        ),
        Lifecycle(
            name="resolve",
            label="Resolve…",
            done="Resolved",
            run=lambda incident, actor, data: incident_resolve(
                incident=incident,
                actor=actor,
                resolution_code=data["resolution_code"],
                resolution_notes=data["resolution_notes"],
            ),
            available=lambda state: S.RESOLVED in TRANSITIONS[state],
            form=ResolveForm,
            description="The incident leaves the open list; close it once the fix is confirmed.",
        ),
        Lifecycle(
            name="close",
            label="Close",
            done="Closed",
            run=lambda incident, actor, data: incident_close(incident=incident, actor=actor),
            available=lambda state: S.CLOSED in TRANSITIONS[state],
        ),
        Lifecycle(
            name="cancel",
            label="Cancel…",
            done="Canceled",
            run=lambda incident, actor, data: incident_cancel(
                incident=incident, actor=actor, reason=data["reason"]
            ),
            available=lambda state: S.CANCELED in TRANSITIONS[state],
            form=CancelForm,
            description="A canceled incident is final: it cannot be reopened.",
        ),
        Lifecycle(
            name="reopen",
            label="Reopen…",
            done="Reopened",
            run=lambda incident, actor, data: incident_reopen(
                incident=incident, actor=actor, reason=data["reason"]
            ),
            available=lambda state: state == S.RESOLVED and S.IN_PROGRESS in TRANSITIONS[state],
            form=ReopenForm,
            description="The incident goes back to in progress and its resolution is cleared.",
        ),
    )
}


def numbers_text(numbers: list[str]) -> str:
    shown = ", ".join(numbers[:MESSAGE_NUMBERS])
    if len(numbers) > MESSAGE_NUMBERS:
        shown += f" and {len(numbers) - MESSAGE_NUMBERS} more"
    return shown
