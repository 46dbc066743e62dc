"""The SLA job in real worker processes (PostgreSQL): two workers journal a warning once."""

import subprocess
import time
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.db import connection as db_connection
from django.utils import timezone

from core import jobs
from incidents.choices import JournalKind, SlaStage
from incidents.models import Incident
from incidents.services import incident_open
from incidents.tasks import SLA_CHECK_JOB
from tests import test_jobs_worker

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

# The worker processes of the job engine's own tests (a fixture, and its waits).
start_worker = test_jobs_worker.start_worker
_wait_for = test_jobs_worker._wait_for
_workers_registered = test_jobs_worker._workers_registered


@pytest.fixture(autouse=True)
def _postgres_only() -> None:
    if db_connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only: workers are separate processes there")


def _sla_lines(incident: Incident) -> list[str]:
    return list(incident.journal.filter(kind=JournalKind.SLA).values_list("message", flat=True))


def test_sla_check_in_two_workers_journals_the_warning_once(
    start_worker: Callable[..., subprocess.Popen],
) -> None:
    # A P1 opened 13 minutes ago: past 75 % of its 15-minute response target.
    incident = incident_open(
        title="disk full",
        description="",
        actor="Azure Monitor",
        severity="Sev0",
        opened_at=timezone.now() - timedelta(minutes=13),
    )
    workers = [start_worker("--concurrency", "2") for _ in range(2)]
    _workers_registered(len(workers))
    now = int(time.time())
    for n in range(4):  # as if several due times were run at once, on both workers
        jobs.enqueue(SLA_CHECK_JOB, timestamp=now + n)

    assert _wait_for(
        lambda: {j.status for j in jobs.jobs_for(SLA_CHECK_JOB)} == {"succeeded"}, 45
    ), [j.status for j in jobs.jobs_for(SLA_CHECK_JOB)]
    lines = _sla_lines(incident)
    assert len(lines) == 1, lines
    assert lines[0].startswith("Response SLA warning")
    incident.refresh_from_db()
    assert incident.sla_respond_stage == SlaStage.WARNED
