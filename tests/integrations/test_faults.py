"""Fault tests against a real PostgreSQL server that the test stops and restarts.

They run where the server is the test's to stop: `.ci/run` exports ITSM_TEST_PG_STOP and
ITSM_TEST_PG_START (shell commands) for its throwaway cluster; elsewhere they skip.
"""

import io
import json
import os
import subprocess
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection as db_connection

from incidents.models import Incident
from integrations.models import Alert, Delivery
from tests.helpers import STATIC, make_token, with_essentials

STOP, START = os.environ.get("ITSM_TEST_PG_STOP"), os.environ.get("ITSM_TEST_PG_START")

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.live,
    pytest.mark.skipif(not (STOP and START), reason="needs a PostgreSQL server it may restart"),
]


def _shell(command: str) -> None:
    subprocess.run(["bash", "-c", command], check=True, capture_output=True, timeout=60)  # noqa: S603, S607


def _post(url: str, payload: dict, token: str) -> tuple[int, dict]:
    request = urllib.request.Request(  # noqa: S310 - the test's own live server
        f"{url}/api/integrations/azure-monitor/contoso/",
        data=json.dumps(payload).encode(),
        method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


@pytest.fixture
def postgres_restart() -> Any:
    if db_connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only")
    stopped = False

    def stop() -> None:
        nonlocal stopped
        _shell(STOP)
        stopped = True

    def start() -> None:
        nonlocal stopped
        _shell(START)
        stopped = False
        db_connection.close()  # this thread's connection died with the server

    yield stop, start
    if stopped:
        start()


@pytest.mark.django_db(transaction=True)
def test_alerts_sent_while_postgres_is_down_are_each_stored_exactly_once(
    connection: Any,
    key_set: Any,
    signing_key: Any,
    live_server: Any,
    postgres_restart: Any,
    tmp_path: Path,
    settings: Any,
) -> None:
    stop, start = postgres_restart
    settings.SPOOL_DIR = tmp_path / "spool"
    settings.SPOOL_DRAIN_INTERVAL_SECONDS = 3600  # drained by hand below
    token = make_token(signing_key)
    alerts = [with_essentials(STATIC, alertId=f"/subscriptions/s/alerts/{n}") for n in range(6)]
    assert _post(live_server.url, alerts[0], token)[0] == 201  # caches settings and keys

    stop()
    queued = [_post(live_server.url, payload, token) for payload in alerts[1:]]
    repeat = _post(live_server.url, alerts[1], token)
    start()

    assert [status for status, _ in queued] == [202] * 5
    assert all(body["status"] == "queued" for _, body in queued)
    assert repeat[0] == 202
    call_command("drain_spool")
    assert Alert.objects.count() == Incident.objects.count() == 6
    for n in range(6):
        assert Alert.objects.filter(alert_id=f"/subscriptions/s/alerts/{n}").count() == 1
    assert Delivery.objects.count() == 7  # six alerts, and the repeat kept as a repeat
    assert not list(Path(settings.SPOOL_DIR).glob("*.json"))


@pytest.mark.django_db(transaction=True)
def test_webhook_answers_after_postgres_comes_back(
    connection: Any, key_set: Any, signing_key: Any, live_server: Any, postgres_restart: Any
) -> None:
    stop, start = postgres_restart
    token = make_token(signing_key)
    assert _post(live_server.url, with_essentials(STATIC, alertId="/a/1"), token)[0] == 201
    stop()
    start()
    status, body = _post(live_server.url, with_essentials(STATIC, alertId="/a/2"), token)
    assert status == 201, body


@pytest.mark.django_db(transaction=True)
def test_drain_keeps_files_while_postgres_is_down_and_says_why(
    connection: Any,
    key_set: Any,
    signing_key: Any,
    live_server: Any,
    postgres_restart: Any,
    tmp_path: Path,
    settings: Any,
) -> None:
    stop, start = postgres_restart
    settings.SPOOL_DIR = tmp_path / "spool"
    settings.SPOOL_DRAIN_INTERVAL_SECONDS = 3600  # drained by hand below
    token = make_token(signing_key)
    alerts = [with_essentials(STATIC, alertId=f"/subscriptions/s/alerts/{n}") for n in range(3)]
    assert _post(live_server.url, alerts[0], token)[0] == 201

    stop()
    assert [_post(live_server.url, a, token)[0] for a in alerts[1:]] == [202, 202]
    db_connection.close()
    err = io.StringIO()
    call_command("drain_spool", stdout=io.StringIO(), stderr=err)
    start()

    assert "Stopped: database unavailable (OperationalError" in err.getvalue()
    assert len(list(Path(settings.SPOOL_DIR).glob("*.json"))) == 2
    assert not (Path(settings.SPOOL_DIR) / "failed").exists()
    call_command("drain_spool", stdout=io.StringIO())
    assert Alert.objects.count() == 3
