"""While the database is unreachable, valid deliveries wait in a durable spool (202)."""

import io
import json
import stat
from pathlib import Path
from typing import Any

import psycopg.errors
import pytest
from django.core.management import call_command
from django.db import OperationalError

from incidents.models import Incident
from integrations import selectors, services, spool
from integrations.models import Alert, Connection, Delivery
from tests.helpers import STATIC, with_essentials


@pytest.fixture
def spool_in(tmp_path: Path, settings: Any, monkeypatch: pytest.MonkeyPatch) -> Path:
    settings.SPOOL_DIR = tmp_path / "spool"
    monkeypatch.setattr(spool, "ensure_drainer", lambda **kwargs: None)  # these tests drain by hand
    return settings.SPOOL_DIR


@pytest.fixture
def database_down(monkeypatch: pytest.MonkeyPatch) -> Any:
    def down(**kwargs: Any) -> None:
        raise OperationalError("could not connect to server")

    monkeypatch.setattr(services, "alert_ingest", down)
    monkeypatch.setattr(services, "delivery_record_refused", down)
    return monkeypatch


def _alerts(n: int) -> list[dict]:
    return [with_essentials(STATIC, alertId=f"/subscriptions/s/alerts/{i}") for i in range(n)]


@pytest.mark.django_db
def test_deliveries_are_queued_while_the_database_is_down_then_drained_once(
    connection: Connection, post_alert: Any, spool_in: Path, database_down: Any
) -> None:
    payloads = _alerts(3)
    answers = [post_alert(p) for p in payloads]
    assert [a.status_code for a in answers] == [202, 202, 202]
    assert answers[0].json() == {
        "status": "queued",
        "incident": None,
        "alert_id": "/subscriptions/s/alerts/0",
    }
    assert len(spool.pending()) == 3
    assert not Incident.objects.exists()

    database_down.undo()  # the database is back
    out = io.StringIO()
    call_command("drain_spool", stdout=out)

    assert "3 waiting, 3 ingested, 0 set aside, 0 left" in out.getvalue()
    assert Incident.objects.count() == Alert.objects.count() == Delivery.objects.count() == 3
    assert spool.pending() == []
    first = Delivery.objects.get(reported_alert_id="/subscriptions/s/alerts/0")
    assert first.caller_app_id == "461e8683-5575-4561-ac7f-899cc907d62a"
    report = services.spool_drain()  # idempotent: nothing twice
    assert (report.ingested, report.failed, report.left) == (0, [], 0)


@pytest.mark.django_db
def test_drain_keeps_arrival_order(
    connection: Connection, post_alert: Any, spool_in: Path, database_down: Any
) -> None:
    fired = with_essentials(STATIC, alertId="/a/1")
    resolved = with_essentials(STATIC, alertId="/a/1", monitorCondition="Resolved")
    post_alert(fired)
    post_alert(resolved)
    database_down.undo()
    services.spool_drain()
    assert Incident.objects.get().state == "resolved"
    assert list(Delivery.objects.order_by("pk").values_list("outcome", flat=True)) == [
        "created",
        "resolved",
    ]


@pytest.mark.django_db
def test_drain_stops_and_keeps_files_while_the_database_is_still_down(
    connection: Connection, post_alert: Any, spool_in: Path, database_down: Any
) -> None:
    for payload in _alerts(2):
        post_alert(payload)
    monkeypatched_ingest = services.alert_ingest
    database_down.setattr(services, "spool_ingest", monkeypatched_ingest)
    report = services.spool_drain()
    assert (report.ingested, report.left) == (0, 2)
    assert (
        report.stopped_by == "database unavailable (OperationalError: could not connect to server)"
    )
    assert len(spool.pending()) == 2


@pytest.mark.django_db
def test_a_full_spool_answers_503_with_retry_after(
    connection: Connection, post_alert: Any, spool_in: Path, database_down: Any, settings: Any
) -> None:
    settings.SPOOL_MAX_FILES = 1
    assert post_alert(_alerts(1)[0]).status_code == 202
    response = post_alert(_alerts(2)[1])
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert response.json()["code"] == "unavailable"


@pytest.mark.django_db
def test_refusals_are_still_answered_while_the_database_is_down(
    connection: Connection, post_alert: Any, spool_in: Path, database_down: Any
) -> None:
    assert post_alert(b"{not json").status_code == 400
    assert spool.pending() == []


@pytest.mark.django_db
def test_cached_connection_settings_authenticate_while_the_database_is_down(
    connection: Connection, post_alert: Any, spool_in: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert post_alert(_alerts(1)[0]).status_code == 201  # settings now cached
    monkeypatch.setattr(selectors.settings, "CONNECTION_CACHE_SECONDS", 0)

    def down(*args: Any, **kwargs: Any) -> None:
        raise OperationalError("down")

    monkeypatch.setattr(selectors.Connection.objects, "filter", down)
    monkeypatch.setattr(services, "alert_ingest", down)
    assert post_alert(_alerts(2)[1]).status_code == 202


def test_spool_files_are_written_whole(spool_in: Path) -> None:
    from datetime import UTC, datetime

    delivery = spool.SpooledDelivery(
        "c", "app", "oid", "tid", "application/json", datetime.now(UTC), b'{"x": "\\u00e9"}'
    )
    path = spool.spool_write(delivery)
    assert path.parent == spool_in
    assert not list(spool_in.glob(".*.tmp"))
    assert spool.spool_read(path) == delivery


@pytest.mark.django_db(transaction=True)
def test_the_background_drainer_ingests_once_the_database_is_back(
    connection: Connection, post_alert: Any, tmp_path: Path, settings: Any, database_down: Any
) -> None:
    import time

    settings.SPOOL_DIR = tmp_path / "spool"
    settings.SPOOL_DRAIN_INTERVAL_SECONDS = 0.05
    assert post_alert(_alerts(1)[0]).status_code == 202  # starts the drainer
    database_down.undo()
    deadline = time.monotonic() + 10
    # A file leaves pending() when claimed, before its transaction commits: wait for both.
    while not Incident.objects.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert Incident.objects.count() == 1
    assert spool.pending() == []


def _spooled(payload: dict, *, slug: str = "contoso") -> spool.SpooledDelivery:
    from datetime import UTC, datetime

    return spool.SpooledDelivery(
        slug,
        "461e8683-5575-4561-ac7f-899cc907d62a",
        "oid",
        "tid",
        "application/json",
        datetime.now(UTC),
        json.dumps(payload).encode(),
    )


def _poison_alert(monkeypatch: pytest.MonkeyPatch, alert_id: str) -> None:
    """Make one alert fail in the database as a too-large index row does (SQLSTATE 54000)."""
    real = services._alert_ingest_once

    def ingest_once(**kwargs: Any) -> Any:
        if kwargs["alert"].alert_id == alert_id:
            cause = psycopg.errors.ProgramLimitExceeded("index row size 2720 exceeds maximum")
            raise OperationalError(str(cause)) from cause
        return real(**kwargs)

    monkeypatch.setattr(services, "_alert_ingest_once", ingest_once)


@pytest.mark.django_db
def test_spool_drain_sets_a_failing_file_aside_and_goes_on(
    connection: Connection, spool_in: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    poison, good = _alerts(2)
    spool.spool_write(_spooled(poison))
    spool.spool_write(_spooled(good))
    _poison_alert(monkeypatch, "/subscriptions/s/alerts/0")
    out, err = io.StringIO(), io.StringIO()

    call_command("drain_spool", stdout=out, stderr=err)

    assert "2 waiting, 1 ingested, 1 set aside, 0 left" in out.getvalue()
    assert "index row size 2720 exceeds maximum" in err.getvalue()
    assert "database unavailable" not in err.getvalue()
    assert Alert.objects.get().alert_id == "/subscriptions/s/alerts/1"
    (aside,) = spool.failed()
    assert "index row size" in aside.with_suffix(".error").read_text()
    rejected = Delivery.objects.get(outcome="rejected")
    assert (rejected.status_code, rejected.reported_alert_id) == (400, "/subscriptions/s/alerts/0")
    assert "index row size" in rejected.error
    assert spool.pending() == []


@pytest.mark.django_db
def test_spool_drain_reports_the_real_error_when_the_database_is_down(
    connection: Connection, post_alert: Any, spool_in: Path, database_down: Any
) -> None:
    post_alert(_alerts(1)[0])
    database_down.setattr(services, "spool_ingest", services.alert_ingest)
    err = io.StringIO()
    call_command("drain_spool", stdout=io.StringIO(), stderr=err)
    assert "could not connect to server" in err.getvalue()
    assert len(spool.pending()) == 1
    assert spool.failed() == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda b: b.replace(b'"oid"', b'"evil"'), id="record-changed"),
        pytest.param(lambda b: b.partition(b"\n")[2], id="untagged"),
        pytest.param(lambda b: b"0" * 64 + b"\n" + b.partition(b"\n")[2], id="forged-tag"),
        pytest.param(lambda b: b"", id="empty"),
    ],
)
def test_spool_drain_never_ingests_a_tampered_file(
    connection: Connection, spool_in: Path, damage: Any
) -> None:
    path = spool.spool_write(_spooled(_alerts(1)[0]))
    path.write_bytes(damage(path.read_bytes()))

    report = services.spool_drain()

    assert report.ingested == 0
    assert "integrity tag" in report.failed[0][1]
    assert not Incident.objects.exists()
    assert not Delivery.objects.exists()
    assert [p.name for p in spool.failed()] == [path.name]


@pytest.mark.django_db
def test_spool_read_accepts_a_file_tagged_with_a_fallback_key(
    connection: Connection, spool_in: Path, settings: Any
) -> None:
    spool.spool_write(_spooled(_alerts(1)[0]))
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "a-rotated-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz"
    assert services.spool_drain().ingested == 1


@pytest.mark.django_db
def test_spool_drain_refuses_a_file_for_a_connection_disabled_since(
    connection: Connection, spool_in: Path
) -> None:
    spool.spool_write(_spooled(_alerts(1)[0]))
    connection.enabled = False
    connection.save()

    report = services.spool_drain()

    assert (report.ingested, len(report.failed)) == (0, 1)
    assert "is disabled" in report.failed[0][1]
    assert not Incident.objects.exists()
    refused = Delivery.objects.get()
    assert (refused.outcome, refused.status_code) == ("rejected", 403)
    assert len(spool.failed()) == 1


@pytest.mark.django_db
def test_spool_drain_applies_the_subscriptions_allowed_at_drain_time(
    connection: Connection, spool_in: Path
) -> None:
    spool.spool_write(_spooled(with_essentials(STATIC)))
    connection.allowed_subscriptions = ["00000000-0000-0000-0000-0000000000aa"]
    connection.save()

    report = services.spool_drain()

    assert "names subscription" in report.failed[0][1]
    assert Delivery.objects.get().status_code == 403
    assert not Incident.objects.exists()


@pytest.mark.django_db
def test_spool_drain_sets_aside_a_file_for_a_deleted_connection(spool_in: Path) -> None:
    spool.spool_write(_spooled(_alerts(1)[0], slug="gone"))
    report = services.spool_drain()
    assert "DoesNotExist" in report.failed[0][1]
    assert len(spool.failed()) == 1


def test_spool_write_keeps_the_folder_and_files_private(spool_in: Path) -> None:
    path = spool.spool_write(_spooled(_alerts(1)[0]))
    assert stat.S_IMODE(spool_in.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.django_db
def test_spool_drain_recovers_a_file_claimed_by_a_process_that_died(
    connection: Connection, spool_in: Path
) -> None:
    path = spool.spool_write(_spooled(_alerts(1)[0]))
    orphan = path.with_suffix(".4194303.claimed")  # above any real pid_max default
    path.rename(orphan)
    assert services.spool_drain().ingested == 1
    assert not list(spool_in.glob("*.claimed"))


def test_spool_module_does_not_import_services() -> None:
    source = Path(spool.__file__).read_text()
    assert "services" not in "".join(
        line for line in source.splitlines() if line.startswith(("import", "from"))
    )


@pytest.mark.django_db
def test_cached_connection_settings_are_not_used_for_a_statement_error(
    connection: Connection, post_alert: Any, spool_in: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert post_alert(_alerts(1)[0]).status_code == 201  # settings now cached
    monkeypatch.setattr(selectors.settings, "CONNECTION_CACHE_SECONDS", 0)

    def broken(*args: Any, **kwargs: Any) -> None:
        cause = psycopg.errors.UndefinedTable('relation "integrations_connection" does not exist')
        raise OperationalError(str(cause)) from cause

    monkeypatch.setattr(selectors.Connection.objects, "filter", broken)
    with pytest.raises(OperationalError, match="does not exist"):
        selectors.connection_get_for_webhook(slug="contoso")
