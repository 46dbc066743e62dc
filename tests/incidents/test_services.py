import pytest
from django.db import IntegrityError, transaction

from core.exceptions import ApplicationError, TransitionNotAllowed
from incidents.choices import IncidentState, JournalKind, ResolutionCode
from incidents.models import Incident, incident_pk_from_number
from incidents.priority import PRIORITY_MATRIX, impact_urgency_for_severity, priority_for
from incidents.services import (
    TRANSITIONS,
    incident_add_work_note,
    incident_assign,
    incident_cancel,
    incident_close,
    incident_create,
    incident_hold,
    incident_open,
    incident_reopen,
    incident_resolve,
    incident_start,
    incident_update,
)
from tests.factories import AssignmentGroupFactory, ConfigurationItemFactory, UserFactory

pytestmark = pytest.mark.django_db

S = IncidentState


@pytest.mark.parametrize(
    ("severity", "priority"),
    [("Sev0", 1), ("Sev1", 2), ("Sev2", 3), ("Sev3", 4), ("Sev4", 5), (None, 4)],
)
def test_incident_open_derives_priority_from_severity(severity: str | None, priority: int) -> None:
    incident = incident_open(title="t", description="d", severity=severity, actor="Azure Monitor")
    assert incident.priority == priority
    assert incident.number.startswith("INC")


def test_priority_matrix_covers_every_impact_and_urgency() -> None:
    assert sorted(PRIORITY_MATRIX) == [(i, u) for i in (1, 2, 3) for u in (1, 2, 3)]
    assert priority_for(*impact_urgency_for_severity("Sev0")) == 1


def test_incident_numbers_are_sequential_and_map_back_to_pk() -> None:
    first = incident_open(title="a", description="", actor="x")
    second = incident_open(title="b", description="", actor="x")
    assert first.number == f"INC{first.pk + 1000:07d}"
    assert int(second.number[3:]) == int(first.number[3:]) + 1
    assert incident_pk_from_number(first.number) == first.pk
    assert incident_pk_from_number("inc0000999") is None
    assert incident_pk_from_number("nonsense") is None


def test_incident_priority_check_constraint_refuses_inconsistent_priority() -> None:
    incident = incident_open(title="a", description="", actor="x", severity="Sev0")
    with pytest.raises(IntegrityError), transaction.atomic():
        Incident.objects.filter(pk=incident.pk).update(priority=5)


def test_incident_open_links_configuration_items_and_journals_it() -> None:
    cis = ConfigurationItemFactory.create_batch(2)
    incident = incident_open(
        title="t", description="", actor="Azure Monitor", configuration_items=cis + cis
    )
    assert set(incident.configuration_items.all()) == set(cis)
    entry = incident.journal.get()
    assert entry.kind == JournalKind.OPENED
    assert entry.actor_name == "Azure Monitor"
    assert entry.actor is None


ACTIONS = {
    # From resolved, the way back to in progress is a reopen (it clears the resolution).
    S.IN_PROGRESS: lambda i, u: (
        incident_reopen(incident=i, actor=u, reason="back")
        if i.state == S.RESOLVED
        else incident_start(incident=i, actor=u)
    ),
    S.ON_HOLD: lambda i, u: incident_hold(incident=i, actor=u, reason="waiting for vendor"),
    S.RESOLVED: lambda i, u: incident_resolve(
        incident=i, actor=u, resolution_code=ResolutionCode.SOLVED, resolution_notes="fixed"
    ),
    S.CLOSED: lambda i, u: incident_close(incident=i, actor=u),
    S.CANCELED: lambda i, u: incident_cancel(incident=i, actor=u, reason="false alarm"),
}


def _incident_in(state: str) -> Incident:
    incident = incident_open(title="t", description="", actor="x")
    Incident.objects.filter(pk=incident.pk).update(
        state=state,
        resolved_at=incident.opened_at if state in (S.RESOLVED, S.CLOSED) else None,
    )
    incident.refresh_from_db()
    return incident


@pytest.mark.parametrize("from_state", list(S))
@pytest.mark.parametrize("to_state", list(ACTIONS))
def test_incident_transitions_follow_the_table(from_state: str, to_state: str) -> None:
    user = UserFactory()
    incident = _incident_in(from_state)
    journal_before = incident.journal.count()
    if to_state in TRANSITIONS[from_state]:
        ACTIONS[to_state](incident, user)
        incident.refresh_from_db()
        assert incident.state == to_state
        entry = incident.journal.order_by("-pk").first()
        assert (entry.from_state, entry.to_state, entry.actor) == (from_state, to_state, user)
    else:
        with pytest.raises(TransitionNotAllowed, match="cannot be moved"):
            ACTIONS[to_state](incident, user)
        incident.refresh_from_db()
        assert incident.state == from_state
        assert incident.journal.count() == journal_before


def test_incident_resolve_records_code_notes_and_time() -> None:
    incident = incident_open(title="t", description="", actor="x")
    incident_resolve(
        incident=incident,
        actor="Azure Monitor",
        resolution_code=ResolutionCode.RESOLVED_BY_SOURCE,
        resolution_notes="cleared",
    )
    incident.refresh_from_db()
    assert incident.resolution_code == "resolved_by_source"
    assert incident.resolution_notes == "cleared"
    assert incident.resolved_at is not None


def test_incident_resolve_rejects_unknown_resolution_code() -> None:
    incident = incident_open(title="t", description="", actor="x")
    with pytest.raises(ApplicationError, match="Unknown resolution code"):
        incident_resolve(incident=incident, actor="x", resolution_code="magic")
    incident.refresh_from_db()
    assert incident.state == S.NEW


def test_incident_reopen_clears_the_resolution() -> None:
    incident = _incident_in(S.RESOLVED)
    incident_reopen(incident=incident, actor=UserFactory(), reason="came back")
    incident.refresh_from_db()
    assert (incident.state, incident.resolved_at, incident.resolution_code) == (
        S.IN_PROGRESS,
        None,
        "",
    )


def test_incident_close_sets_closed_at() -> None:
    incident = _incident_in(S.RESOLVED)
    incident_close(incident=incident, actor=UserFactory())
    incident.refresh_from_db()
    assert incident.closed_at is not None


def test_incident_hold_requires_a_reason() -> None:
    incident = incident_open(title="t", description="", actor="x")
    with pytest.raises(ApplicationError, match="why"):
        incident_hold(incident=incident, actor="x", reason="  ")


def test_incident_assign_journals_and_refuses_closed_incidents() -> None:
    user, group = UserFactory(), AssignmentGroupFactory(name="Cloud ops")
    incident = incident_open(title="t", description="", actor="x")
    incident_assign(incident=incident, actor=user, assigned_to=user, assignment_group=group)
    incident.refresh_from_db()
    assert (incident.assigned_to, incident.assignment_group) == (user, group)
    assert "Cloud ops" in incident.journal.get(kind=JournalKind.ASSIGNED).message
    closed = _incident_in(S.CLOSED)
    with pytest.raises(TransitionNotAllowed):
        incident_assign(incident=closed, actor=user, assigned_to=user, assignment_group=None)


def test_incident_add_work_note_refuses_empty_notes() -> None:
    incident = incident_open(title="t", description="", actor="x")
    entry = incident_add_work_note(incident=incident, actor=UserFactory(), message=" checked ")
    assert (entry.kind, entry.message) == (JournalKind.WORK_NOTE, "checked")
    with pytest.raises(ApplicationError):
        incident_add_work_note(incident=incident, actor="x", message="")


def test_incident_create_opens_an_assigned_incident_by_hand() -> None:
    user, group = UserFactory(), AssignmentGroupFactory()
    ci = ConfigurationItemFactory()
    incident = incident_create(
        actor=user,
        title=" Disk full on vm-1 ",
        impact=1,
        urgency=2,
        configuration_items=[ci],
        assigned_to=user,
        assignment_group=group,
    )
    incident.refresh_from_db()
    assert (incident.title, incident.priority, incident.severity) == ("Disk full on vm-1", 2, None)
    assert (incident.assigned_to, incident.assignment_group) == (user, group)
    assert list(incident.configuration_items.all()) == [ci]
    kinds = set(incident.journal.values_list("kind", flat=True))
    assert kinds == {JournalKind.OPENED, JournalKind.ASSIGNED}


def test_incident_create_requires_a_title() -> None:
    with pytest.raises(ApplicationError, match="title"):
        incident_create(actor="x", title="  ", impact=2, urgency=2)
    assert not Incident.objects.exists()


def test_incident_update_recomputes_priority_and_journals() -> None:
    incident = incident_open(title="t", description="", actor="x", severity="Sev4")
    incident_update(incident=incident, actor=UserFactory(), impact=1, urgency=1, title="New")
    incident.refresh_from_db()
    assert (incident.title, incident.priority) == ("New", 1)
    entry = incident.journal.get(kind=JournalKind.UPDATED)
    assert "Priority 5 → 1" in entry.message


def test_incident_update_refuses_closed_incidents_and_unknown_fields() -> None:
    incident = incident_open(title="t", description="", actor="x")
    with pytest.raises(ApplicationError, match="cannot be edited: state"):
        incident_update(incident=incident, actor="x", state="closed")
    closed = _incident_in(S.CLOSED)
    with pytest.raises(TransitionNotAllowed):
        incident_update(incident=closed, actor="x", title="x")


def test_incident_update_without_changes_writes_nothing() -> None:
    incident = incident_open(title="t", description="", actor="x")
    incident_update(incident=incident, actor="x", title="t")
    assert incident.journal.count() == 1


def test_incident_start_refuses_a_resolved_incident() -> None:
    incident = _incident_in(S.RESOLVED)
    with pytest.raises(TransitionNotAllowed, match="reopen it instead") as refused:
        incident_start(incident=incident, actor=UserFactory())
    assert refused.value.code == "use_reopen"
    incident.refresh_from_db()
    assert incident.state == S.RESOLVED


@pytest.mark.parametrize("state", [S.NEW, S.ON_HOLD, S.IN_PROGRESS, S.CLOSED, S.CANCELED])
def test_incident_reopen_only_reopens_a_resolved_incident(state: str) -> None:
    incident = _incident_in(state)
    with pytest.raises(TransitionNotAllowed, match="only a resolved incident can be reopened"):
        incident_reopen(incident=incident, actor=UserFactory(), reason="back")
    incident.refresh_from_db()
    assert incident.state == state
