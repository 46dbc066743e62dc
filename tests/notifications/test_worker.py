"""A real worker process (`manage.py run_worker`) on PostgreSQL sends the notification."""

import os
import subprocess
import sys
import time
from typing import Any

import pytest
from django.db import connection as db_connection

from incidents.models import Incident
from notifications.models import NotificationAttempt
from notifications.services import notification_channel_create, notification_rule_create
from tests.helpers import ROOT, STATIC, alert_id, fire

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def worker(tmp_path: Any) -> Any:
    if db_connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only: workers are separate processes there")
    s = db_connection.settings_dict
    url = f"postgres://{s['USER']}:{s['PASSWORD'] or ''}@{s['HOST']}:{s['PORT']}/{s['NAME']}"
    log = open(tmp_path / "worker.log", "w")  # noqa: SIM115
    process = subprocess.Popen(
        [sys.executable, "manage.py", "run_worker"],
        cwd=ROOT,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "itsm.settings_test",
            "ITSM_DOTENV_PATH": "",
            "DATABASE_URL": url,
            "JOBS_POLL_SECONDS": "0.5",
            "NOTIFICATION_COALESCE_SECONDS": "0",
            "ITSM_BASE_URL": "https://itsm.example.test",
        },
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    yield process
    process.terminate()
    try:
        process.wait(timeout=40)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)
    log.close()


def test_notification_sent_by_a_real_worker_process(
    worker: Any, post_alert: Any, connection: Any, receiver: Any
) -> None:
    hook = receiver(200)
    channel = notification_channel_create(name="w", kind="webhook", target=hook.url, secret="k")
    notification_rule_create(channel=channel, events=["incident_opened"])
    number = fire(post_alert, STATIC, alert_id())
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not NotificationAttempt.objects.exists():
        time.sleep(0.2)
    [attempt] = NotificationAttempt.objects.all()
    assert (attempt.outcome, attempt.incident) == ("sent", Incident.objects.get(number=number))
    [body] = hook.json_bodies()
    assert body["incident"]["number"] == number
