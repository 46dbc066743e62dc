"""The lifecycle table: the services hold the input rules, the console and the API agree."""

from collections.abc import Callable
from typing import Any

import pytest
from rest_framework import serializers

from core.exceptions import ApplicationError
from incidents.api.serializers import serializer_for
from incidents.choices import IncidentState
from incidents.forms import form_for
from incidents.lifecycle import LIFECYCLE, Text
from incidents.models import Incident
from incidents.services import (
    NOTE_MAX_LENGTH,
    REASON_MAX_LENGTH,
    TRANSITIONS,
    incident_add_work_note,
    incident_cancel,
    incident_hold,
    incident_reopen,
    incident_resolve,
)
from tests.factories import IncidentFactory

pytestmark = pytest.mark.django_db

S = IncidentState

NEEDS_A_REASON: dict[str, Callable[[Incident, str], Any]] = {
    "hold": lambda i, reason: incident_hold(incident=i, actor="x", reason=reason),
    "cancel": lambda i, reason: incident_cancel(incident=i, actor="x", reason=reason),
    "reopen": lambda i, reason: incident_reopen(incident=i, actor="x", reason=reason),
}


def _incident(state: str) -> Incident:
    if state == S.RESOLVED:
        return IncidentFactory(state=state, resolved_at="2025-01-01T00:00:00Z")
    return IncidentFactory(state=state)


@pytest.mark.parametrize("verb", list(NEEDS_A_REASON))
@pytest.mark.parametrize("reason", ["", "   \n"])
def test_incident_transitions_refuse_a_missing_reason(verb: str, reason: str) -> None:
    state = S.RESOLVED if verb == "reopen" else S.NEW
    incident = _incident(state)
    with pytest.raises(ApplicationError) as refused:
        NEEDS_A_REASON[verb](incident, reason)
    assert (refused.value.code, refused.value.fields) == ("reason_required", ("reason",))
    incident.refresh_from_db()
    assert incident.state == state
    assert not incident.journal.exists()


@pytest.mark.parametrize("verb", list(NEEDS_A_REASON))
def test_incident_transitions_refuse_a_reason_too_long(verb: str) -> None:
    incident = _incident(S.RESOLVED if verb == "reopen" else S.NEW)
    with pytest.raises(ApplicationError) as refused:
        NEEDS_A_REASON[verb](incident, "x" * (REASON_MAX_LENGTH + 1))
    assert refused.value.code == "too_long"


def test_incident_cancel_journals_its_reason_stripped() -> None:
    incident = incident_cancel(incident=IncidentFactory(), actor="x", reason="  false alarm ")
    assert incident.journal.get(kind="state_changed").message == "Canceled. false alarm"


def test_incident_resolve_takes_no_notes_but_bounds_them() -> None:
    incident = incident_resolve(incident=IncidentFactory(), actor="x", resolution_code="solved")
    assert (incident.state, incident.resolution_notes) == (S.RESOLVED, "")
    with pytest.raises(ApplicationError) as refused:
        incident_resolve(
            incident=IncidentFactory(),
            actor="x",
            resolution_code="solved",
            resolution_notes="x" * (NOTE_MAX_LENGTH + 1),
        )
    assert (refused.value.code, refused.value.fields) == ("too_long", ("resolution_notes",))


def test_incident_add_work_note_refuses_a_note_too_long() -> None:
    with pytest.raises(ApplicationError) as refused:
        incident_add_work_note(incident=IncidentFactory(), actor="x", message="x" * 10_001)
    assert refused.value.code == "too_long"


def test_lifecycle_table_states_follow_the_transition_table() -> None:
    into = {
        "start": S.IN_PROGRESS,
        "hold": S.ON_HOLD,
        "resolve": S.RESOLVED,
        "close": S.CLOSED,
        "cancel": S.CANCELED,
    }
    for name, target in into.items():
        expected = {s for s in S.values if target in TRANSITIONS[s]} - (
            {S.RESOLVED} if name == "start" else set()
        )
        assert LIFECYCLE[name].from_states == expected, name
    assert LIFECYCLE["reopen"].from_states == {S.RESOLVED}
    assert LIFECYCLE["assign"].from_states == {s for s in S.values if TRANSITIONS[s]}


@pytest.mark.parametrize("name", [name for name, a in LIFECYCLE.items() if a.inputs])
def test_lifecycle_form_and_serializer_come_from_one_definition(name: str) -> None:
    """The console's form and the API's serializer: the same fields, limits and choices."""
    action = LIFECYCLE[name]
    form = form_for(action)()
    fields = serializer_for(action)().fields
    assert list(form.fields) == list(fields) == list(action.inputs)
    for field, spec in action.inputs.items():
        if isinstance(spec, Text):
            assert form.fields[field].max_length == fields[field].max_length == spec.max_length
            assert form.fields[field].required == fields[field].required == spec.required
        if isinstance(fields[field], serializers.ChoiceField):
            assert list(form.fields[field].choices) == list(fields[field].choices.items())


def test_lifecycle_actions_without_input_have_no_form_and_no_body() -> None:
    for name in ("take", "start", "close"):
        assert form_for(LIFECYCLE[name]) is None
        assert serializer_for(LIFECYCLE[name]) is None
