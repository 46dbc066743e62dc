"""The release of a maintenance window through the job engine (in memory on SQLite, in
PostgreSQL on PostgreSQL), as tests/test_jobs.py drives it: committed, then drained."""

import threading
import time
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection as db
from django.utils import timezone

from core import jobs
from incidents.choices import JournalKind
from incidents.models import Incident
from integrations.maintenance import (
    RELEASE_JOB,
    maintenance_window_create,
    maintenance_window_end,
    maintenance_window_release,
    maintenance_window_update,
)
from integrations.models import Alert, Connection, MaintenanceWindow
from tests.helpers import STATIC, TIMEOUT, alert_id, is_postgres, vm_id, with_essentials

pytestmark = pytest.mark.django_db(transaction=True)


def _drain() -> None:
    jobs.run_worker(wait=False, install_signal_handlers=False)


def _jobs(window: MaintenanceWindow) -> list[jobs.JobInfo]:
    return [j for j in jobs.jobs_for(RELEASE_JOB) if j.kwargs == {"window_id": window.pk}]


def _window(**fields: Any) -> MaintenanceWindow:
    now = timezone.now()
    return maintenance_window_create(
        name="patch Tuesday",
        starts_at=now - timedelta(hours=1),
        ends_at=fields.pop("ends_at", now + timedelta(hours=1)),
        scope={"resource_groups": ["rg-web"]},
        **fields,
    )


def _hold(post_alert: Any) -> None:
    fired = (timezone.now() - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    payload = with_essentials(
        STATIC, alertId=alert_id(), alertTargetIDs=[vm_id("vm-web-01")], firedDateTime=fired
    )
    assert post_alert(payload).json()["status"] == "suppressed"


def test_release_job_waits_for_the_end_then_opens_what_the_window_holds(
    connection: Connection, post_alert: Any
) -> None:
    window = _window()
    [waiting] = _jobs(window)
    assert waiting.run_after == window.ends_at
    assert waiting.key == f"maintenance-release:{window.pk}:{int(window.ends_at.timestamp())}"
    _hold(post_alert)
    _drain()
    assert not Incident.objects.exists()  # not due yet

    maintenance_window_end(window=window)  # the end is now: a job due now
    _drain()
    _drain()

    incident = Alert.objects.get().incident
    assert incident is not None
    assert incident.journal.filter(kind=JournalKind.MAINTENANCE).count() == 1
    assert MaintenanceWindow.objects.get(pk=window.pk).released_at is not None
    assert "succeeded" in [j.status for j in _jobs(window)]


def test_release_job_for_an_end_moved_later_opens_nothing_yet(
    connection: Connection, post_alert: Any
) -> None:
    soon = timezone.now() + timedelta(seconds=1)
    window = _window(ends_at=soon)
    _hold(post_alert)
    maintenance_window_update(window=window, ends_at=timezone.now() + timedelta(hours=2))
    time.sleep(max(0.0, (soon - timezone.now()).total_seconds()) + 0.2)
    _drain()  # the first job is due: it finds the end moved

    assert Alert.objects.get().incident is None
    statuses = sorted(j.status for j in _jobs(window))
    assert statuses == ["succeeded", "todo"]  # the job for the new end waits


@pytest.mark.postgres
def test_release_run_twice_at_once_opens_each_incident_once(
    connection: Connection, post_alert: Any
) -> None:
    if not is_postgres():
        pytest.skip("needs PostgreSQL: SQLite serialises writers")
    window = _window()
    for _ in range(3):
        _hold(post_alert)
    MaintenanceWindow.objects.filter(pk=window.pk).update(
        ends_at=timezone.now() - timedelta(seconds=1)
    )
    barrier = threading.Barrier(2)
    outcomes: list[str] = []
    errors: list[BaseException] = []

    def release() -> None:
        try:
            barrier.wait(timeout=TIMEOUT)
            outcomes.append(maintenance_window_release(window_id=window.pk).outcome)
        except BaseException as exc:
            errors.append(exc)
        finally:
            db.close()

    threads = [threading.Thread(target=release) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=TIMEOUT * 2)

    assert not errors, errors
    assert sorted(outcomes) == ["released", "unchanged"]
    assert Incident.objects.count() == 3
    assert not Alert.objects.filter(incident__isnull=True).exists()
