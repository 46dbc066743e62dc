"""Flapping: a rule that keeps firing and resolving on one target reopens its incident."""

import json
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.db import connection as db
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core import events, jobs
from core.events import Event
from incidents.choices import IncidentState, JournalKind, ResolutionCode
from incidents.models import Incident
from incidents.services import incident_cancel, incident_close, incident_resolve
from integrations import flapping
from integrations.flapping import FLAPPING_END_JOB, flap_key, flap_reached, flapping_end
from integrations.models import Alert, Connection, CorrelationRule, MaintenanceWindow
from integrations.parsing import parse_alert
from integrations.tasks import flapping_ended
from tests.helpers import ADMIN, STATIC, alert_id, vm_id, with_essentials

pytestmark = pytest.mark.django_db

RULE_ID = (
    "/subscriptions/aaaa0a0a-bb1b-cc2c-dd3d-eeeeee4e4e4e/resourceGroups/rg-web/providers/"
    "microsoft.insights/metricAlerts/cpu-high"
)
TARGET = vm_id("vm-web-01")


def _essentials(at: datetime, **changes: Any) -> dict[str, Any]:
    return {
        "alertRuleID": RULE_ID,
        "alertTargetIDs": [TARGET],
        "firedDateTime": at.isoformat().replace("+00:00", "Z"),
        **changes,
    }


def _fire(post_alert: Any, at: datetime, **changes: Any) -> tuple[int, dict[str, Any]]:
    """Post a new firing of the rule on the target (its own alertId): status and body."""
    ident = alert_id()
    response = post_alert(with_essentials(STATIC, alertId=ident, **_essentials(at, **changes)))
    return response.status_code, response.json()


def _resolve(post_alert: Any, body: dict[str, Any], at: datetime) -> None:
    """Azure's Resolved for the alert of `body`."""
    response = post_alert(
        with_essentials(
            STATIC,
            alertId=body["alert_id"],
            monitorCondition="Resolved",
            resolvedDateTime=(at + timedelta(minutes=1)).isoformat().replace("+00:00", "Z"),
            **_essentials(at),
        )
    )
    assert response.json()["status"] == "resolved", response.json()


def _cycles(post_alert: Any, start: datetime, count: int, *, every: int = 10) -> list[str]:
    """`count` firings, each resolved, `every` minutes apart; their incident numbers."""
    numbers = []
    for n in range(count):
        at = start + timedelta(minutes=every * n)
        status, body = _fire(post_alert, at)
        assert status == 201, body
        _resolve(post_alert, body, at)
        numbers.append(body["incident"])
    return numbers


def _parsed(**changes: Any) -> Any:
    return parse_alert(json.dumps(with_essentials(STATIC, **changes)).encode())


@pytest.fixture
def ends(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, datetime]]:
    """The ends of flapping scheduled (incident pk, due time), instead of jobs."""
    scheduled: list[tuple[int, datetime]] = []
    monkeypatch.setattr(
        flapping,
        "flapping_end_schedule",
        lambda *, incident, after: scheduled.append((incident.pk, after)),
    )
    return scheduled


NOW = timezone.now().replace(microsecond=0)
START = NOW - timedelta(minutes=30)


# --- the pure parts -----------------------------------------------------------------------


def test_flap_key_is_rule_and_first_target_case_insensitive() -> None:
    key = flap_key(connection_pk=1, alert=_parsed(**_essentials(NOW)))
    upper = _parsed(alertRuleID=RULE_ID.upper(), alertTargetIDs=[TARGET.upper(), vm_id("other")])

    assert len(key) == 64
    assert int(key, 16) >= 0
    assert flap_key(connection_pk=1, alert=upper) == key
    assert flap_key(connection_pk=2, alert=upper) != key
    other_target = _parsed(**_essentials(NOW, alertTargetIDs=[vm_id("b")]))
    assert flap_key(connection_pk=1, alert=other_target) not in ("", key)


def test_flap_key_is_empty_for_alerts_that_cannot_flap() -> None:
    never_resolved = parse_alert(json.dumps(with_essentials(ADMIN, alertRuleID=RULE_ID)).encode())
    assert flap_key(connection_pk=1, alert=never_resolved) == ""
    assert flap_key(connection_pk=1, alert=_parsed(alertRuleID=...)) == ""
    assert flap_key(connection_pk=1, alert=_parsed(alertRuleID=RULE_ID, alertTargetIDs=[])) == ""


def test_flap_reached_counts_the_firing_itself() -> None:
    assert not flap_reached(firings_before=1, threshold=3)
    assert flap_reached(firings_before=2, threshold=3)
    assert flap_reached(firings_before=1, threshold=2)


# --- the ingest -----------------------------------------------------------------------------


def test_flapping_stores_the_key_on_every_alert_azure_resolves(
    connection: Connection, post_alert: Any
) -> None:
    _fire(post_alert, NOW)
    post_alert(with_essentials(ADMIN, alertRuleID=RULE_ID))

    keys = dict(Alert.objects.values_list("monitoring_service", "flap_key"))
    assert keys["Platform"] == flap_key(
        connection_pk=connection.pk, alert=_parsed(**_essentials(NOW))
    )
    assert keys["Activity Log - Administrative"] == ""


def test_flapping_threshold_reached_within_interval_reopens_the_previous_incident(
    connection: Connection, post_alert: Any, ends: list[tuple[int, datetime]]
) -> None:
    first, second = _cycles(post_alert, START, 2)
    at = START + timedelta(minutes=20)

    status, body = _fire(post_alert, at)

    assert status == 200
    assert body == {
        "status": "reopened",
        "incident": second,
        "incident_state": IncidentState.IN_PROGRESS,
        "alert_id": body["alert_id"],
    }
    incident = Incident.objects.get(number=second)
    assert incident.state == IncidentState.IN_PROGRESS
    assert incident.is_flapping
    assert (incident.resolved_at, incident.resolution_code) == (None, "")
    assert incident.last_alert_at == at
    assert incident.alerts.count() == 2
    assert Alert.objects.get(alert_id=body["alert_id"]).incident == incident
    assert Incident.objects.count() == 2
    assert not Incident.objects.get(number=first).is_flapping
    journal = incident.journal.order_by("id")
    reopened = journal.get(to_state=IncidentState.IN_PROGRESS)
    assert (reopened.from_state, reopened.actor_name) == (IncidentState.RESOLVED, "Azure Monitor")
    line = journal.get(kind=JournalKind.FLAPPING)
    assert "fired 3 times" in line.message
    assert "within 60 minutes" in line.message
    assert ends == [(incident.pk, at + timedelta(minutes=60))]


def test_flapping_counts_the_alert_on_the_reopened_incident(
    connection: Connection, post_alert: Any, ends: list[tuple[int, datetime]]
) -> None:
    second = _cycles(post_alert, START, 2)[1]
    before = Incident.objects.get(number=second).alert_count

    _fire(post_alert, START + timedelta(minutes=20))

    assert Incident.objects.get(number=second).alert_count == before + 1


def test_flapping_below_threshold_opens_new_incidents(
    connection: Connection, post_alert: Any, ends: list[tuple[int, datetime]]
) -> None:
    connection.flap_threshold = 4
    connection.save()

    numbers = _cycles(post_alert, START, 3)

    assert len(set(numbers)) == 3
    assert not Incident.objects.filter(is_flapping=True).exists()
    assert ends == []


def test_flapping_outside_interval_opens_a_new_incident(
    connection: Connection, post_alert: Any, ends: list[tuple[int, datetime]]
) -> None:
    connection.flap_interval_minutes = 15
    connection.save()
    _cycles(post_alert, START - timedelta(minutes=60), 2, every=20)  # 60 and 40 min before

    status, body = _fire(post_alert, START)

    assert (status, body["status"]) == (201, "created")
    assert Incident.objects.count() == 3
    assert not Incident.objects.filter(is_flapping=True).exists()


def test_flapping_open_incident_takes_the_firing(
    connection: Connection, post_alert: Any, ends: list[tuple[int, datetime]]
) -> None:
    first = _cycles(post_alert, START, 1)[0]
    status, open_body = _fire(post_alert, START + timedelta(minutes=10))  # not resolved
    assert status == 201

    status, body = _fire(post_alert, START + timedelta(minutes=20))

    assert (status, body["status"]) == (200, "reopened")
    assert body["incident"] == open_body["incident"] != first
    incident = Incident.objects.get(number=body["incident"])
    assert (incident.state, incident.is_flapping) == (IncidentState.NEW, True)
    assert not incident.journal.filter(kind=JournalKind.STATE_CHANGED).exists()


def test_flapping_leaves_a_closed_incident_closed_and_opens_a_flapping_one(
    connection: Connection, post_alert: Any, admin_user: Any, ends: list[tuple[int, datetime]]
) -> None:
    second = _cycles(post_alert, START, 2)[1]
    incident_close(incident=Incident.objects.get(number=second), actor=admin_user)

    status, body = _fire(post_alert, START + timedelta(minutes=20))

    assert (status, body["status"]) == (201, "created")
    closed = Incident.objects.get(number=second)
    assert (closed.state, closed.is_flapping) == (IncidentState.CLOSED, False)
    new = Incident.objects.get(number=body["incident"])
    assert new.is_flapping
    line = new.journal.get(kind=JournalKind.FLAPPING)
    assert second in line.message
    assert "closed or canceled by a person" in line.message
    assert ends == [(new.pk, START + timedelta(minutes=80))]


def test_flapping_leaves_a_canceled_incident_canceled(
    connection: Connection, post_alert: Any, admin_user: Any, ends: list[tuple[int, datetime]]
) -> None:
    _cycles(post_alert, START, 1)
    status, open_body = _fire(post_alert, START + timedelta(minutes=10))
    incident_cancel(
        incident=Incident.objects.get(number=open_body["incident"]),
        actor=admin_user,
        reason="false alarm",
    )

    status, body = _fire(post_alert, START + timedelta(minutes=20))

    assert status == 201
    assert Incident.objects.get(number=open_body["incident"]).state == IncidentState.CANCELED
    assert Incident.objects.get(number=body["incident"]).is_flapping


def test_flapping_reopens_an_incident_a_person_resolved(
    connection: Connection, post_alert: Any, admin_user: Any, ends: list[tuple[int, datetime]]
) -> None:
    _cycles(post_alert, START, 1)
    _, open_body = _fire(post_alert, START + timedelta(minutes=10))
    incident_resolve(
        incident=Incident.objects.get(number=open_body["incident"]),
        actor=admin_user,
        resolution_code=ResolutionCode.SOLVED,
    )

    status, body = _fire(post_alert, START + timedelta(minutes=20))

    assert (status, body["incident"]) == (200, open_body["incident"])
    assert body["incident_state"] == IncidentState.IN_PROGRESS


def test_flapping_keeps_reopening_while_the_rule_flaps(
    connection: Connection, post_alert: Any, ends: list[tuple[int, datetime]]
) -> None:
    numbers = _cycles(post_alert, START, 2)
    for n in (2, 3):
        at = START + timedelta(minutes=10 * n)
        status, body = _fire(post_alert, at)
        assert (status, body["incident"]) == (200, numbers[1])
        _resolve(post_alert, body, at)

    assert Incident.objects.count() == 2
    assert Incident.objects.get(number=numbers[1]).alerts.count() == 3


def test_flapping_costs_one_select_for_a_keyed_alert(
    connection: Connection, post_alert: Any
) -> None:
    def statements(**changes: Any) -> list[str]:
        with CaptureQueriesContext(db) as queries:
            status, _ = _fire(post_alert, NOW, **changes)
        assert status == 201
        return [q["sql"] for q in queries.captured_queries]

    statements()  # warm the caches (connection, key set)
    keyed = statements()
    unkeyed = statements(alertRuleID=...)

    assert len(keyed) == len(unkeyed) + 1
    assert len([q for q in keyed if "flap_key" in q and q.startswith("SELECT")]) == 1


# --- the end of flapping ------------------------------------------------------------------


def _flapping_incident(post_alert: Any, at: datetime) -> Incident:
    _cycles(post_alert, at - timedelta(minutes=20), 2)
    status, body = _fire(post_alert, at)
    assert status == 200
    return Incident.objects.get(number=body["incident"])


def test_flapping_end_clears_the_mark_after_a_quiet_interval(
    connection: Connection, post_alert: Any, ends: list[tuple[int, datetime]]
) -> None:
    incident = _flapping_incident(post_alert, START)

    assert flapping_end(incident_id=incident.pk, now=START + timedelta(minutes=61)) == "ended"

    incident.refresh_from_db()
    assert not incident.is_flapping
    line = incident.journal.filter(kind=JournalKind.FLAPPING).order_by("-id").first()
    assert line is not None
    assert "no new firing for 60 minutes" in line.message
    assert flapping_end(incident_id=incident.pk, now=START + timedelta(minutes=62)) == "unchanged"


def test_flapping_end_reschedules_after_a_newer_firing(
    connection: Connection, post_alert: Any, ends: list[tuple[int, datetime]]
) -> None:
    incident = _flapping_incident(post_alert, START)
    later = START + timedelta(minutes=15)
    assert _fire(post_alert, later)[0] == 200
    ends.clear()

    # The job due for the earlier firing finds the newer one: it waits for its due time.
    result = flapping_end(incident_id=incident.pk, now=START + timedelta(minutes=61))

    assert result == "rescheduled"
    assert ends == [(incident.pk, later + timedelta(minutes=60))]
    incident.refresh_from_db()
    assert incident.is_flapping


def test_flapping_end_schedule_enqueues_a_keyed_job(
    connection: Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    enqueued: list[tuple[str, dict[str, Any]]] = []
    monkeypatch.setattr(jobs, "enqueue", lambda name, **kw: enqueued.append((name, kw)))
    incident = Incident.objects.create(title="t", opened_at=NOW)
    due = NOW + timedelta(minutes=60)

    flapping.flapping_end_schedule(incident=incident, after=due)

    assert enqueued == [
        (
            FLAPPING_END_JOB,
            {
                "key": f"flapping-end:{incident.pk}:{int(due.timestamp())}",
                "run_after": due,
                "incident_id": incident.pk,
            },
        )
    ]


def test_flapping_end_is_a_registered_job(
    connection: Connection, post_alert: Any, ends: list[tuple[int, datetime]]
) -> None:
    assert jobs._specs[FLAPPING_END_JOB].func is flapping_ended
    incident = _flapping_incident(post_alert, NOW - timedelta(minutes=90))

    flapping_ended(incident_id=incident.pk)

    incident.refresh_from_db()
    assert not incident.is_flapping


# --- with maintenance windows and correlation rules ----------------------------------------


def test_flapping_does_not_count_an_alert_a_window_held(
    connection: Connection, post_alert: Any, ends: list[tuple[int, datetime]]
) -> None:
    now = timezone.now().replace(microsecond=0)
    MaintenanceWindow.objects.create(
        name="patching", starts_at=now - timedelta(minutes=5), ends_at=now + timedelta(minutes=5)
    )
    status, held = _fire(post_alert, now)
    assert (status, held["status"]) == (200, "suppressed")
    _cycles(post_alert, now + timedelta(minutes=10), 1)  # after the window

    status, body = _fire(post_alert, now + timedelta(minutes=20))

    assert (status, body["status"]) == (201, "created")


def test_flapping_decides_before_correlation(
    connection: Connection, post_alert: Any, ends: list[tuple[int, datetime]]
) -> None:
    CorrelationRule.objects.create(name="by rule", group_by=["alert_rule"], window_minutes=120)
    second = _cycles(post_alert, START, 2)[1]

    status, body = _fire(post_alert, START + timedelta(minutes=20))

    assert (status, body["status"], body["incident"]) == (200, "reopened", second)


def test_flapping_started_is_emitted_once_per_flapping_spell(
    connection: Connection, post_alert: Any, ends: list[tuple[int, datetime]]
) -> None:
    heard: list[tuple[str, int]] = []

    def listener(event: str, *, incident_id: int, **data: Any) -> None:
        heard.append((event, incident_id))

    events.subscribe(listener)
    try:
        second = _cycles(post_alert, START, 2)[1]
        for n in (2, 3):
            _fire(post_alert, START + timedelta(minutes=10 * n))
    finally:
        events.unsubscribe(listener)

    incident = Incident.objects.get(number=second)
    assert [h for h in heard if h[0] == Event.FLAPPING_STARTED] == [
        (Event.FLAPPING_STARTED, incident.pk)
    ]
