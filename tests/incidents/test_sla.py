"""SLA clocks (incidents.sla): targets, stops, pauses, re-targeting, warnings and breaches."""

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any, cast
from unittest import mock

import pytest
from django.contrib.auth.models import User

from core import events, jobs
from incidents import sla
from incidents.choices import IncidentState, JournalKind, SlaStage
from incidents.models import AssignmentGroup, Incident, SlaTarget
from incidents.services import (
    incident_assign,
    incident_cancel,
    incident_hold,
    incident_open,
    incident_reopen,
    incident_resolve,
    incident_start,
    incident_update,
)
from incidents.tasks import SLA_CHECK_JOB, sla_check_job
from tests.factories import AssignmentGroupFactory, UserFactory
from tests.helpers import MIN, T0

pytestmark = pytest.mark.django_db


def _group(**fields: Any) -> AssignmentGroup:
    """An assignment group (the factory, typed)."""
    return cast(AssignmentGroup, AssignmentGroupFactory(**fields))


def _user(**fields: Any) -> User:
    """A user (the factory, typed)."""
    return cast(User, UserFactory(**fields))


@pytest.fixture
def emitted() -> Iterator[list[tuple[str, dict[str, Any]]]]:
    seen: list[tuple[str, dict[str, Any]]] = []

    def listen(event: str, **data: Any) -> None:
        seen.append((event, data))

    events.subscribe(listen)
    yield seen
    events.unsubscribe(listen)


def _at(moment: datetime) -> Any:
    """The clock of every service (django.utils.timezone.now) stands at `moment`."""
    return mock.patch("django.utils.timezone.now", return_value=moment)


def _p1() -> Incident:
    with _at(T0):
        return incident_open(
            title="disk full", description="", actor="Azure Monitor", severity="Sev0", opened_at=T0
        )


def _summary(incident: Incident, **kwargs: Any) -> dict[str, Any]:
    found = sla.summary(incident, **kwargs)
    assert found is not None
    return found


def _sla_lines(incident: Incident) -> list[str]:
    return list(
        incident.journal.filter(kind=JournalKind.SLA)
        .order_by("pk")
        .values_list("message", flat=True)
    )


def test_incident_open_starts_both_clocks_from_its_priority_defaults() -> None:
    incident = _p1()
    incident.refresh_from_db()
    assert incident.priority == 1
    assert (incident.sla_respond_by, incident.sla_resolve_by) == (T0 + 15 * MIN, T0 + 240 * MIN)
    # The first thing due: the response warning at 75 % of 15 minutes.
    assert incident.sla_due_at == T0 + timedelta(minutes=11.25)


def test_sla_targets_default_to_the_contract_and_a_stored_one_applies_at_once() -> None:
    assert {t.priority: (t.respond_minutes, t.resolve_minutes) for t in sla.sla_target_list()} == {
        1: (15, 240),
        2: (30, 480),
        3: (240, 1440),
        4: (480, 4320),
        5: (1440, 7200),
    }
    sla.targets()  # cached
    sla.sla_target_update(priority=1, respond_minutes=5)  # its post_save clears the cache
    assert SlaTarget.objects.get(priority=1).resolve_minutes == 240
    assert _p1().sla_respond_by == T0 + 5 * MIN


def test_sla_targets_are_cached_per_process(django_assert_num_queries: Any) -> None:
    sla.targets()
    with django_assert_num_queries(0):
        sla.targets()


def test_incident_start_stops_the_response_clock() -> None:
    incident = _p1()
    with _at(T0 + 3 * MIN):
        incident_start(incident=incident, actor=_user())
    incident.refresh_from_db()
    assert incident.sla_responded_at == T0 + 3 * MIN
    assert incident.sla_due_at == T0 + 180 * MIN  # the resolution warning is next
    assert _summary(incident, now=T0 + 20 * MIN)["respond_breached"] is False


def test_incident_assign_to_a_person_stops_the_response_clock_a_group_does_not() -> None:
    incident = _p1()
    with _at(T0 + MIN):
        incident_assign(
            incident=incident,
            actor="x",
            assigned_to=None,
            assignment_group=_group(),
        )
    incident.refresh_from_db()
    assert incident.sla_responded_at is None
    with _at(T0 + 2 * MIN):
        incident_assign(incident=incident, actor="x", assigned_to=_user(), assignment_group=None)
    incident.refresh_from_db()
    assert incident.sla_responded_at == T0 + 2 * MIN


def test_incident_hold_pauses_both_clocks_and_the_time_paused_is_not_counted() -> None:
    incident = _p1()
    person = _user()
    with _at(T0 + 5 * MIN):
        incident_hold(incident=incident, actor=person, reason="vendor")
    incident.refresh_from_db()
    assert incident.sla_due_at is None  # nothing falls due while paused
    assert _summary(incident, now=T0 + 60 * MIN)["paused"] is True
    [respond, resolve] = sla.clocks(incident, now=T0 + 60 * MIN)
    assert (respond.paused, respond.left) == (True, 10 * MIN)  # frozen at the pause
    with _at(T0 + 65 * MIN):
        incident_start(incident=incident, actor=person)
    incident.refresh_from_db()
    assert incident.sla_paused_seconds == 3600
    assert incident.sla_resolve_by == T0 + 300 * MIN  # 240 min + 60 min on hold
    assert incident.sla_paused_at is None


def test_incident_priority_change_retargets_keeping_time_spent_and_paused() -> None:
    incident = _p1()
    person = _user()
    with _at(T0 + 5 * MIN):
        incident_hold(incident=incident, actor=person, reason="vendor")
    with _at(T0 + 15 * MIN):
        incident_start(incident=incident, actor=person)  # 10 min paused
    incident.refresh_from_db()
    with _at(T0 + 20 * MIN):
        incident_update(incident=incident, actor=person, impact=3, urgency=3)  # P5
    incident.refresh_from_db()
    assert incident.priority == 5
    assert incident.sla_resolve_minutes == 7200
    # From the opening, plus the 10 minutes on hold: the 20 minutes spent still count.
    assert incident.sla_resolve_by == T0 + 7200 * MIN + 10 * MIN


def test_sla_check_warns_at_75_percent_and_breaches_at_100_once_each(
    emitted: list[tuple[str, dict[str, Any]]],
) -> None:
    incident = _p1()
    assert sla.sla_check(now=T0 + 11 * MIN) == []
    [warning] = sla.sla_check(now=T0 + 12 * MIN)
    assert (warning.clock, warning.stage) == ("respond", SlaStage.WARNED)
    assert sla.sla_check(now=T0 + 13 * MIN) == []  # journaled once
    [breach] = sla.sla_check(now=T0 + 15 * MIN)
    assert (breach.clock, breach.stage) == ("respond", SlaStage.BREACHED)
    assert sla.sla_check(now=T0 + 16 * MIN) == []
    lines = _sla_lines(incident)
    assert len(lines) == 2
    assert lines[0].startswith("Response SLA warning: 75 % of the 15 min target used")
    assert lines[1].startswith("Response SLA breached")
    assert [e for e, _ in emitted] == ["sla_warning", "sla_breached"]
    assert emitted[0][1]["incident_id"] == incident.pk
    assert emitted[0][1]["priority"] == 1
    incident.refresh_from_db()
    assert incident.sla_respond_stage == SlaStage.BREACHED
    assert incident.sla_due_at == T0 + 180 * MIN  # the resolution clock's warning
    assert _summary(incident)["respond_breached"] is True


def test_sla_check_late_run_breaches_without_warning_first() -> None:
    incident = _p1()
    events_ = sla.sla_check(now=T0 + 300 * MIN)
    assert [(e.clock, e.stage) for e in events_] == [
        ("respond", SlaStage.BREACHED),
        ("resolve", SlaStage.BREACHED),
    ]
    assert len(_sla_lines(incident)) == 2
    incident.refresh_from_db()
    assert incident.sla_due_at is None


def test_sla_check_ignores_stopped_and_paused_clocks() -> None:
    resolved, held, canceled = _p1(), _p1(), _p1()
    person = _user()
    with _at(T0 + MIN):
        incident_resolve(incident=resolved, actor=person, resolution_code="solved")
        incident_hold(incident=held, actor=person, reason="vendor")
        incident_cancel(incident=canceled, actor=person, reason="noise")
    assert sla.sla_check(now=T0 + 1000 * MIN) == []
    assert not Incident.objects.filter(sla_due_at__isnull=False).exists()


def test_sla_check_compare_and_set_journals_nothing_for_a_stale_due_time() -> None:
    """A second worker that read the same due time finds it moved on: it writes nothing."""
    incident = _p1()
    assert sla.incident_sla_check(incident_id=incident.pk, now=T0 + 12 * MIN)
    # The row was already advanced: its stage and due time moved, so nothing is due.
    assert sla.incident_sla_check(incident_id=incident.pk, now=T0 + 12 * MIN) == []
    assert len(_sla_lines(incident)) == 1


def test_incident_reopen_resumes_the_resolution_clock_without_the_resolved_time() -> None:
    incident = _p1()
    person = _user()
    with _at(T0 + 10 * MIN):
        incident_resolve(incident=incident, actor=person, resolution_code="solved")
    incident.refresh_from_db()
    with _at(T0 + 70 * MIN):
        incident_reopen(incident=incident, actor=person, reason="again")
    incident.refresh_from_db()
    assert incident.state == IncidentState.IN_PROGRESS
    assert incident.sla_resolve_by == T0 + 300 * MIN  # 240 + 60 resolved
    assert incident.sla_responded_at == T0 + 70 * MIN  # a person reopened it
    assert incident.sla_due_at is not None


def test_sla_check_job_is_a_periodic_job_every_minute() -> None:
    spec = jobs._specs[SLA_CHECK_JOB]
    assert (spec.cron, spec.func) == ("* * * * *", sla_check_job)


def test_sla_check_job_journals_what_is_due() -> None:
    incident = _p1()
    with _at(T0 + 12 * MIN):
        sla_check_job(scheduled_at=T0 + 12 * MIN)
    assert len(_sla_lines(incident)) == 1


def test_sla_check_reads_due_clocks_in_one_query_whatever_the_number_of_incidents(
    django_assert_num_queries: Any,
) -> None:
    for _ in range(5):
        _p1()
    with django_assert_num_queries(1):
        assert sla.sla_check(now=T0 + MIN) == []


def test_duration_text_is_short_and_signed() -> None:
    assert sla.duration_text(timedelta(minutes=12, seconds=30)) == "12 min"
    assert sla.duration_text(timedelta(hours=3, minutes=5)) == "3 h 05 min"
    assert sla.duration_text(timedelta(days=2, hours=4)) == "2 d 4 h"
    assert sla.duration_text(-7 * MIN) == "-7 min"
