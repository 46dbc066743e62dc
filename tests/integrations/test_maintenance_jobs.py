"""The release of a maintenance window through the job engine (in memory on SQLite, in
PostgreSQL on PostgreSQL), as tests/test_jobs.py drives it: committed, then drained."""

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from core import jobs
from incidents.choices import JournalKind
from incidents.models import Incident
from integrations.maintenance import (
    RELEASE_JOB,
    maintenance_window_create,
    maintenance_window_end,
    maintenance_window_update,
)
from integrations.models import Alert, Connection, MaintenanceWindow
from tests.helpers import STATIC, alert_id, vm_id, with_essentials

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
    import time

    time.sleep(max(0.0, (soon - timezone.now()).total_seconds()) + 0.2)
    _drain()  # the first job is due: it finds the end moved

    assert Alert.objects.get().incident is None
    statuses = sorted(j.status for j in _jobs(window))
    assert statuses == ["succeeded", "todo"]  # the job for the new end waits
