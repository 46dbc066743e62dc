"""Migration incidents.0007: SLA clocks for the open incidents opened before the clocks.

Run through Django's MigrationExecutor (back to 0006, then forward), on incidents made
as they were before 0005: the same rows with every SLA field empty.
"""

import importlib
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any, cast
from unittest import mock

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test.utils import CaptureQueriesContext

from incidents import sla
from incidents.choices import IncidentState, JournalKind, SlaStage
from incidents.models import Incident
from incidents.services import (
    incident_assign,
    incident_close,
    incident_hold,
    incident_open,
    incident_resolve,
    incident_start,
)
from tests.factories import UserFactory
from tests.helpers import MIN, T0

# Migrations run outside a test's transaction (SQLite's schema editor insists).
pytestmark = pytest.mark.django_db(transaction=True)

BACKFILL = importlib.import_module("incidents.migrations.0007_sla_backfill")
BEFORE = ("incidents", "0006_read_indexes")
AFTER = ("incidents", "0007_sla_backfill")
NO_CLOCKS = {
    "sla_respond_minutes": None,
    "sla_resolve_minutes": None,
    "sla_respond_by": None,
    "sla_resolve_by": None,
    "sla_responded_at": None,
    "sla_paused_at": None,
    "sla_paused_seconds": 0,
    "sla_respond_stage": SlaStage.OK,
    "sla_resolve_stage": SlaStage.OK,
    "sla_due_at": None,
}


def _at(moment: datetime) -> Any:
    """The clock of every service (django.utils.timezone.now) stands at `moment`."""
    return mock.patch("django.utils.timezone.now", return_value=moment)


def _migrate(*targets: tuple[str, str]) -> None:
    executor = MigrationExecutor(connection)
    executor.migrate(list(targets) or executor.loader.graph.leaf_nodes())


@pytest.fixture
def backfill() -> Iterator[Callable[[], None]]:
    """Go back to 0006; the test makes its incidents, then calls this to run 0007 at T0."""
    _migrate(BEFORE)

    def run() -> None:
        with _at(T0):
            _migrate(AFTER)

    yield run
    _migrate()  # every app at its newest migration again


@pytest.fixture
def person() -> User:
    return cast(User, UserFactory(username="olga"))


def _opened(minutes_ago: int, *, pre_sla: bool = True) -> Incident:
    """A P1 incident (15 min to respond, 4 h to resolve) opened `minutes_ago` before T0."""
    with _at(T0 - minutes_ago * MIN):
        incident = incident_open(
            title="Checkout is down", description="", actor="test", impact=1, urgency=1
        )
    assert incident.priority == 1
    if pre_sla:
        Incident.objects.filter(pk=incident.pk).update(**NO_CLOCKS)
    return incident


def _fresh(incident: Incident) -> Incident:
    return Incident.objects.get(pk=incident.pk)


def _sla_lines(incident: Incident) -> list[str]:
    return list(incident.journal.filter(kind=JournalKind.SLA).values_list("message", flat=True))


def test_sla_backfill_starts_an_open_incidents_clocks_from_its_opening(
    backfill: Callable[[], None],
) -> None:
    incident = _opened(60)

    backfill()

    incident = _fresh(incident)
    assert (incident.sla_respond_minutes, incident.sla_resolve_minutes) == (15, 240)
    assert incident.sla_respond_by == incident.opened_at + 15 * MIN
    assert incident.sla_resolve_by == incident.opened_at + 240 * MIN
    assert incident.sla_responded_at is None
    # Passed before the upgrade: recorded as reached, nobody paged for it.
    assert incident.sla_respond_stage == SlaStage.BREACHED
    assert incident.sla_resolve_stage == SlaStage.OK
    assert incident.sla_due_at == incident.opened_at + 180 * MIN  # the resolution's 75 %
    assert _sla_lines(incident) == [
        "SLA clocks added on upgrade, counted from the opening (P1: respond in 15 min, "
        "resolve in 240 min). Already missed: response."
    ]
    summary = sla.summary(incident, now=T0)
    assert summary is not None
    assert (summary["respond_breached"], summary["resolve_breached"]) == (True, False)


def test_sla_backfill_stops_the_response_clock_when_the_journal_shows_a_response(
    backfill: Callable[[], None], person: User
) -> None:
    started = _opened(60)
    with _at(T0 - 40 * MIN):  # 20 min after the opening: the 15 min target missed
        incident_start(incident=started, actor="test")
    assigned = _opened(60)
    with _at(T0 - 58 * MIN):
        incident_assign(incident=assigned, actor="test", assigned_to=None, assignment_group=None)
    with _at(T0 - 50 * MIN):  # 10 min after: met
        incident_assign(incident=assigned, actor="test", assigned_to=person, assignment_group=None)
    for incident in (started, assigned):
        Incident.objects.filter(pk=incident.pk).update(**NO_CLOCKS)

    backfill()

    started, assigned = _fresh(started), _fresh(assigned)
    assert started.sla_responded_at == T0 - 40 * MIN
    assert assigned.sla_responded_at == T0 - 50 * MIN  # the person, not the "nobody" before
    assert started.sla_respond_stage == SlaStage.OK  # stopped: not the job's any more
    assert sla.summary(started, now=T0)["respond_breached"] is True  # type: ignore[index]
    assert sla.summary(assigned, now=T0)["respond_breached"] is False  # type: ignore[index]
    assert _sla_lines(started)[0].endswith("Already missed: response.")
    assert "missed" not in _sla_lines(assigned)[0]


def test_sla_backfill_pauses_an_on_hold_incident_since_it_went_on_hold(
    backfill: Callable[[], None],
) -> None:
    incident = _opened(100)
    with _at(T0 - 90 * MIN):
        incident_start(incident=incident, actor="test")
    with _at(T0 - 80 * MIN):
        incident_hold(incident=incident, actor="test", reason="waiting")
    with _at(T0 - 70 * MIN):
        incident_start(incident=incident, actor="test")
    with _at(T0 - 30 * MIN):
        incident_hold(incident=incident, actor="test", reason="waiting for the vendor")
    Incident.objects.filter(pk=incident.pk).update(**NO_CLOCKS)

    backfill()

    incident = _fresh(incident)
    assert incident.state == IncidentState.ON_HOLD
    assert incident.sla_paused_at == T0 - 30 * MIN  # the current hold
    assert incident.sla_due_at is None  # nothing falls due while paused
    with _at(T0 + 60 * MIN):
        incident_start(incident=incident, actor="test")
    # Leaving the hold moves the deadline on by the 90 minutes it lasted.
    assert _fresh(incident).sla_resolve_by == incident.opened_at + (240 + 90) * MIN


def test_sla_backfill_leaves_closed_and_clocked_incidents_alone_and_pages_nobody(
    backfill: Callable[[], None],
) -> None:
    resolved, closed = _opened(300), _opened(300)
    with _at(T0 - 200 * MIN):
        for incident in (resolved, closed):
            incident_resolve(incident=incident, actor="test", resolution_code="solved")
        incident_close(incident=_fresh(closed), actor="test")
    for incident in (resolved, closed):
        Incident.objects.filter(pk=incident.pk).update(**NO_CLOCKS)
    clocked = _opened(10, pre_sla=False)
    clocked_before = Incident.objects.filter(pk=clocked.pk).values(*NO_CLOCKS).get()
    breached = _opened(600)  # both clocks long past

    backfill()

    for incident in (resolved, closed):
        assert Incident.objects.filter(pk=incident.pk).values(*NO_CLOCKS).get() == NO_CLOCKS
        assert _sla_lines(incident) == []
    assert Incident.objects.filter(pk=clocked.pk).values(*NO_CLOCKS).get() == clocked_before
    assert _sla_lines(clocked) == []
    breached = _fresh(breached)
    assert (breached.sla_respond_stage, breached.sla_resolve_stage) == ("breached", "breached")
    assert breached.sla_due_at is None
    assert _sla_lines(breached)[0].endswith("Already missed: response, resolution.")
    assert sla.sla_check(now=T0) == []  # no warning or breach journaled (or notified) now


def test_sla_backfill_run_again_changes_nothing(backfill: Callable[[], None]) -> None:
    incident = _opened(60)
    backfill()
    first = Incident.objects.filter(pk=incident.pk).values(*NO_CLOCKS).get()

    _migrate(BEFORE)  # its reverse does nothing: the clocks stay
    with _at(T0 + 30 * MIN):
        _migrate(AFTER)

    assert Incident.objects.filter(pk=incident.pk).values(*NO_CLOCKS).get() == first
    assert len(_sla_lines(incident)) == 1


def test_sla_backfill_writes_open_incidents_in_batches(
    backfill: Callable[[], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(BACKFILL, "BATCH", 2)
    incidents = [_opened(n) for n in (5, 6, 7, 8, 9)]

    with CaptureQueriesContext(connection) as ctx:
        backfill()

    assert all(_fresh(i).sla_resolve_by is not None for i in incidents)
    journal_inserts = [
        q["sql"]
        for q in ctx.captured_queries
        if q["sql"].startswith("INSERT") and "incidents_journalentry" in q["sql"]
    ]
    assert len(journal_inserts) == 3  # 2 + 2 + 1, each batch committed on its own
