"""Transitions and edits are compare-and-set: a stale copy of an incident cannot win.

Each test loads an incident, changes it through another copy (as Azure or another
operator would, meanwhile), then acts on the first copy. The services must refuse
(409 `state_changed`), leave the incident as the other change left it, and keep a journal
whose from/to states chain without a gap.
"""

from collections.abc import Callable
from typing import Any

import pytest

from core.exceptions import StateChanged, TransitionNotAllowed
from incidents.choices import IncidentState, JournalKind, ResolutionCode
from incidents.models import Incident
from incidents.services import (
    TRANSITIONS,
    incident_assign,
    incident_cancel,
    incident_close,
    incident_edit,
    incident_hold,
    incident_open,
    incident_reopen,
    incident_resolve,
    incident_start,
    incident_update,
)
from tests.factories import AssignmentGroupFactory, UserFactory

pytestmark = pytest.mark.django_db

S = IncidentState

Act = Callable[[Incident, Any], Incident]

# Every way of changing an incident, by the state it leads to (or the edit it makes).
ACTS: dict[str, Act] = {
    "start": lambda i, u: incident_start(incident=i, actor=u),
    "hold": lambda i, u: incident_hold(incident=i, actor=u, reason="vendor"),
    "resolve": lambda i, u: incident_resolve(
        incident=i, actor=u, resolution_code=ResolutionCode.SOLVED
    ),
    "close": lambda i, u: incident_close(incident=i, actor=u),
    "cancel": lambda i, u: incident_cancel(incident=i, actor=u, reason="false alarm"),
    "reopen": lambda i, u: incident_reopen(incident=i, actor=u, reason="back"),
}
# The state each act starts from in the tests, and where another copy moves it meanwhile.
STALE_CASES = [
    ("start", S.NEW, "resolve"),
    ("start", S.ON_HOLD, "cancel"),
    ("hold", S.IN_PROGRESS, "resolve"),
    ("resolve", S.NEW, "cancel"),
    ("resolve", S.IN_PROGRESS, "hold"),
    ("close", S.RESOLVED, "reopen"),
    ("cancel", S.NEW, "resolve"),  # the case: a page loaded before Azure resolved
    ("cancel", S.ON_HOLD, "start"),
    ("reopen", S.RESOLVED, "close"),
]
PATH_TO = {
    S.NEW: [],
    S.IN_PROGRESS: ["start"],
    S.ON_HOLD: ["hold"],
    S.RESOLVED: ["resolve"],
    S.CLOSED: ["resolve", "close"],
    S.CANCELED: ["cancel"],
}


def incident_in(state: str) -> Incident:
    """An incident brought to `state` through the services, so its journal is whole."""
    incident = incident_open(title="t", description="", actor="Azure Monitor")
    for step in PATH_TO[state]:
        ACTS[step](incident, "setup")
    assert incident.state == state
    return incident


def fresh(incident: Incident) -> Incident:
    return Incident.objects.get(pk=incident.pk)


def assert_journal_chains(incident: Incident) -> None:
    """Each state change starts where the previous one ended, and the last is the state."""
    entries = list(incident.journal.exclude(to_state="").order_by("created_at", "pk"))
    assert entries[0].kind == JournalKind.OPENED
    for before, after in zip(entries, entries[1:], strict=False):
        assert after.from_state == before.to_state, [(e.from_state, e.to_state) for e in entries]
        assert after.to_state in TRANSITIONS[after.from_state]
    assert entries[-1].to_state == fresh(incident).state


@pytest.mark.parametrize(("act", "from_state", "meanwhile"), STALE_CASES)
def test_transition_refuses_a_stale_incident(act: str, from_state: str, meanwhile: str) -> None:
    stale = incident_in(from_state)
    other = ACTS[meanwhile](fresh(stale), "Azure Monitor")
    journal_before = stale.journal.count()

    with pytest.raises(StateChanged) as refused:
        ACTS[act](stale, UserFactory())

    assert isinstance(refused.value, TransitionNotAllowed)  # so it answers 409
    assert refused.value.code == "state_changed"
    now = S(other.state).label.lower()
    assert (
        refused.value.message == f"{stale.number} changed meanwhile (it is now {now}); reload it."
    )
    assert fresh(stale).state == other.state
    assert stale.journal.count() == journal_before
    assert_journal_chains(stale)


def test_transition_updates_the_callers_copy_from_what_it_wrote() -> None:
    incident = incident_in(S.NEW)
    before = incident.updated_at
    incident_resolve(
        incident=incident,
        actor="x",
        resolution_code=ResolutionCode.WORKAROUND,
        resolution_notes="n",
    )
    stored = fresh(incident)
    for field in ("state", "resolution_code", "resolution_notes", "resolved_at", "updated_at"):
        assert getattr(incident, field) == getattr(stored, field), field
    assert incident.updated_at > before


def test_transition_journal_records_the_state_it_replaced() -> None:
    incident = incident_in(S.IN_PROGRESS)
    incident_cancel(incident=incident, actor="x", reason="noise")
    entry = incident.journal.order_by("-pk").first()
    assert (entry.from_state, entry.to_state) == (S.IN_PROGRESS, S.CANCELED)
    assert_journal_chains(incident)


@pytest.mark.parametrize("meanwhile", ["cancel", "close"])
def test_incident_assign_refuses_an_incident_finished_meanwhile(meanwhile: str) -> None:
    stale = incident_in(S.RESOLVED if meanwhile == "close" else S.NEW)
    ACTS[meanwhile](fresh(stale), "x")
    user = UserFactory()

    with pytest.raises(StateChanged, match="changed meanwhile"):
        incident_assign(incident=stale, actor=user, assigned_to=user, assignment_group=None)

    assert fresh(stale).assigned_to is None
    assert not stale.journal.filter(kind=JournalKind.ASSIGNED).exists()


def test_incident_assign_of_an_open_incident_still_works_after_a_transition() -> None:
    # Reassigning does not depend on which open state the incident is in.
    stale = incident_in(S.NEW)
    ACTS["start"](fresh(stale), "x")
    user = UserFactory()
    incident_assign(incident=stale, actor=user, assigned_to=user, assignment_group=None)
    assert fresh(stale).assigned_to == user
    assert fresh(stale).state == S.IN_PROGRESS


def test_incident_update_refuses_an_incident_canceled_meanwhile() -> None:
    stale = incident_in(S.NEW)
    ACTS["cancel"](fresh(stale), "x")

    with pytest.raises(StateChanged, match="it is now canceled"):
        incident_update(incident=stale, actor="x", title="new title")

    assert fresh(stale).title == "t"
    assert not stale.journal.filter(kind=JournalKind.UPDATED).exists()


def test_incident_update_refuses_when_impact_or_urgency_changed_meanwhile() -> None:
    # Priority is derived from both: computing it from a stale one would be a lie.
    stale = incident_in(S.NEW)
    incident_update(incident=fresh(stale), actor="x", impact=1)

    with pytest.raises(StateChanged, match="changed meanwhile"):
        incident_update(incident=stale, actor="x", urgency=1)

    stored = fresh(stale)
    assert (stored.impact, stored.urgency, stored.priority) == (1, 2, 2)


def test_incident_update_updates_the_callers_copy() -> None:
    incident = incident_in(S.NEW)
    incident_update(incident=incident, actor="x", impact=1, urgency=1, title="New")
    stored = fresh(incident)
    for field in ("title", "impact", "urgency", "priority", "updated_at"):
        assert getattr(incident, field) == getattr(stored, field), field


def test_incident_edit_refuses_an_incident_closed_meanwhile() -> None:
    stale = incident_in(S.RESOLVED)
    ACTS["close"](fresh(stale), "x")
    user, group = UserFactory(), AssignmentGroupFactory()

    with pytest.raises(StateChanged):
        incident_edit(
            incident=stale,
            actor=user,
            changes={"impact": 1},
            assigned_to=user,
            assignment_group=group,
        )

    stored = fresh(stale)
    assert (stored.impact, stored.assigned_to, stored.assignment_group) == (3, None, None)
    assert_journal_chains(stale)
