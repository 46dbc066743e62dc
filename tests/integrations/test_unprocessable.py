"""A delivery that fails deterministically is refused (400) and kept; only an unreachable
database spools."""

import random
from pathlib import Path
from typing import Any

import psycopg.errors
import pytest
from django.db import OperationalError

from incidents.models import Incident
from integrations import services, spool
from integrations.models import Alert, Connection, Delivery
from tests.helpers import STATIC, is_postgres, with_essentials


@pytest.fixture
def spool_in(tmp_path: Path, settings: Any, monkeypatch: pytest.MonkeyPatch) -> Path:
    settings.SPOOL_DIR = tmp_path / "spool"
    monkeypatch.setattr(spool, "ensure_drainer", lambda **kwargs: None)
    return settings.SPOOL_DIR


def _fail_with(monkeypatch: pytest.MonkeyPatch, exc: Exception) -> None:
    def fail(**kwargs: Any) -> None:
        raise exc

    monkeypatch.setattr(services, "_alert_ingest_once", fail)


def _db_error(sqlstate: str, message: str) -> OperationalError:
    try:
        raise OperationalError(message) from psycopg.errors.lookup(sqlstate)(message)
    except OperationalError as exc:
        return exc


@pytest.mark.django_db
def test_delivery_receive_refuses_a_program_limit_with_400_and_keeps_it(
    connection: Connection, post_alert: Any, spool_in: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    limit = "index row size 2720 exceeds btree version 4 maximum 2704"
    _fail_with(monkeypatch, _db_error("54000", limit))

    response = post_alert(STATIC)

    assert response.status_code == 400, response.json()
    body = response.json()
    assert body["code"] == "unprocessable"
    assert limit in body["detail"]
    delivery = Delivery.objects.get()
    assert (delivery.outcome, delivery.status_code) == ("rejected", 400)
    assert limit in delivery.error
    assert delivery.reported_alert_id == load_alert_id()
    assert spool.pending() == []
    assert not Incident.objects.exists()


@pytest.mark.django_db
def test_delivery_receive_refuses_a_processing_bug_with_400(
    connection: Connection, post_alert: Any, spool_in: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fail_with(monkeypatch, ValueError("unexpected"))
    response = post_alert(STATIC)
    assert (response.status_code, response.json()["code"]) == (400, "unprocessable")
    assert Delivery.objects.get().status_code == 400
    assert spool.pending() == []


@pytest.mark.django_db
def test_delivery_receive_spools_only_when_the_database_is_unreachable(
    connection: Connection, post_alert: Any, spool_in: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fail_with(monkeypatch, _db_error("57P01", "terminating connection due to shutdown"))
    assert post_alert(STATIC).status_code == 202
    assert len(spool.pending()) == 1
    assert not Delivery.objects.exists()


@pytest.mark.django_db
@pytest.mark.skipif(not is_postgres(), reason="a btree index row holds at most 2704 bytes")
def test_delivery_receive_refuses_a_body_postgres_cannot_store(
    connection: Connection, post_alert: Any, spool_in: Path
) -> None:
    # 990 random CJK characters (about 3,000 bytes, which do not compress) pass a length
    # check in characters but cannot enter the unique index. (Once parsing bounds
    # identifiers in bytes, parsing refuses it first: a 400 all the same.)
    rng = random.Random(8)
    noise = "".join(chr(rng.randrange(0x4E00, 0x9FFF)) for _ in range(990))
    payload = with_essentials(STATIC, alertId=f"/subscriptions/s/alerts/{noise}")

    response = post_alert(payload)

    assert response.status_code == 400, response.json()
    assert Delivery.objects.get().status_code == 400
    assert not Alert.objects.exists()
    assert spool.pending() == []


def load_alert_id() -> str:
    return with_essentials(STATIC)["data"]["essentials"]["alertId"]
