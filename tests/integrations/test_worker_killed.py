"""A worker killed in the middle of processing leaves nothing half-written (PostgreSQL)."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from django.db import connection as db_connection

from incidents.models import Incident, JournalEntry
from integrations.models import Alert, Delivery
from tests.helpers import ROOT, STATIC

# Runs the real ingest in another process, stopping inside the transaction (after the
# incident is written, before the alert and the delivery) until it is killed.
WORKER = textwrap.dedent(
    """
    import sys, time
    import django
    django.setup()
    from integrations import services
    from integrations.models import Connection
    from integrations.tokens import AzurePrincipal

    real_new = services._alert_new

    def new_then_hang(**kwargs):
        row = real_new(**kwargs)
        open(sys.argv[1], "w").close()
        time.sleep(120)
        return row

    services._alert_new = new_then_hang
    body = open(sys.argv[2], "rb").read()
    principal = AzurePrincipal("app", "oid", "tid", "1.0", ())
    services.delivery_receive(
        connection=Connection.objects.get(slug="contoso"),
        principal=principal,
        raw=body,
        content_type="application/json",
    )
    """
)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_killed_worker_then_retry_gives_exactly_one_incident(
    connection: Any, post_alert: Any, tmp_path: Path
) -> None:
    if db_connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only: SQLite's test database lives in this process")
    settings_dict = db_connection.settings_dict
    url = (
        f"postgres://{settings_dict['USER']}:{settings_dict['PASSWORD'] or ''}@"
        f"{settings_dict['HOST']}:{settings_dict['PORT']}/{settings_dict['NAME']}"
    )
    body = (ROOT / "tests" / "fixtures" / STATIC).read_bytes()
    (tmp_path / "body.json").write_bytes(body)
    marker = tmp_path / "inside-transaction"
    worker = subprocess.Popen(  # noqa: S603
        [sys.executable, "-c", WORKER, str(marker), str(tmp_path / "body.json")],
        cwd=ROOT,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "itsm.settings_test",
            "DATABASE_URL": url,
        },
    )
    try:
        deadline = time.monotonic() + 60
        while not marker.exists() and time.monotonic() < deadline:
            assert worker.poll() is None, "the worker ended before reaching the transaction"
            time.sleep(0.05)
        assert marker.exists()
        worker.send_signal(signal.SIGKILL)  # mid-transaction
        worker.wait(timeout=30)
    finally:
        if worker.poll() is None:
            worker.kill()

    assert Incident.objects.count() == 0  # the killed transaction left nothing
    response = post_alert(STATIC)  # Azure's retry
    assert response.status_code == 201
    assert Incident.objects.count() == Alert.objects.count() == Delivery.objects.count() == 1
    assert JournalEntry.objects.count() == 1
