"""The hot path's single statements: a known alert's delivery, and rows read back.

`fastpath.delivery_insert` writes what `Delivery.save(force_insert=True)` writes, and
`fastpath._from_db` converts as the ORM converts (its plan is cached per connection).
"""

from typing import Any, cast

import pytest
from django.db import connection as db
from django.db import models
from django.test.utils import CaptureQueriesContext

from incidents.models import Incident, JournalEntry
from integrations import fastpath
from integrations.models import Alert, Connection, Delivery
from tests.helpers import FROZEN, STATIC, is_postgres, with_essentials


def _delivery_rows() -> list[dict[str, Any]]:
    """The deliveries of the known alert, without their ids."""
    rows = []
    for row in Delivery.objects.exclude(outcome="created").order_by("pk").values():
        rows.append(
            {k: bytes(v) if isinstance(v, memoryview) else v for k, v in row.items() if k != "id"}
        )
    return rows


def _orm_insert(*, delivery: Delivery) -> Delivery:
    delivery.save(force_insert=True)
    return delivery


def _no_orm_save(*args: Any, **kwargs: Any) -> None:
    raise AssertionError("the ORM wrote the delivery")


@pytest.mark.django_db
def test_delivery_insert_writes_what_the_orm_writes(
    connection: Connection, post_alert: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    payload = with_essentials(STATIC, alertId="known")
    assert post_alert(payload).status_code == 201
    monkeypatch.setattr("django.utils.timezone.now", lambda: FROZEN)
    real_insert = fastpath.delivery_insert
    rows = []
    for by_hand in (False, True):
        if by_hand:  # the statement built here, not the ORM's compiled one
            monkeypatch.setattr(fastpath, "delivery_insert", real_insert)
            monkeypatch.setattr(Delivery, "save", _no_orm_save)
        else:
            monkeypatch.setattr(fastpath, "delivery_insert", _orm_insert)
        with CaptureQueriesContext(db) as captured:
            response = post_alert(payload)
        assert response.json()["status"] == "duplicate"
        rows.append(_delivery_rows())
        Delivery.objects.exclude(outcome="created").delete()
        inserts = [q["sql"] for q in captured.captured_queries if q["sql"].startswith("INSERT")]
        assert len(inserts) == 1

    assert rows[0] == rows[1]
    assert rows[0][0]["outcome"] == "duplicate"
    assert rows[0][0]["alert_id"] == Alert.objects.get().pk


@pytest.mark.django_db
def test_delivery_insert_sets_the_id_of_the_row_it_wrote(connection: Connection) -> None:
    delivery = Delivery(
        connection=connection,
        received_at=FROZEN,
        body=b"{}",
        outcome="ignored",
        status_code=200,
    )
    fastpath.delivery_insert(delivery=delivery)

    assert delivery.pk is not None
    assert not delivery._state.adding
    stored = Delivery.objects.get(pk=delivery.pk)
    assert (stored.outcome, stored.received_at, bytes(stored.body)) == ("ignored", FROZEN, b"{}")


@pytest.mark.django_db
def test_alert_get_reads_the_values_the_orm_reads(connection: Connection, post_alert: Any) -> None:
    payload = with_essentials(STATIC, alertId="read-back")
    assert post_alert(payload).status_code == 201

    for _ in range(2):  # the second read takes the cached plan
        row = fastpath.alert_get(connection=connection, alert_id="read-back", lock=False)
        orm = Alert.objects.select_related("incident").get(alert_id="read-back")
        assert row is not None
        assert row.incident is not None
        for name in fastpath.ALERT_READ:
            field = cast(models.Field, Alert._meta.get_field(name))
            assert getattr(row, field.attname) == getattr(orm, field.attname), name
        for name in fastpath.INCIDENT_READ:
            assert getattr(row.incident, name) == getattr(orm.incident, name), name


@pytest.mark.django_db
@pytest.mark.skipif(not is_postgres(), reason="prepared statements are PostgreSQL's")
def test_fastpath_statements_are_prepared_once_per_connection(
    connection: Connection, post_alert: Any
) -> None:
    payload = with_essentials(STATIC, alertId="prepared")
    assert post_alert(payload).status_code == 201
    assert post_alert(payload).json()["status"] == "duplicate"

    with db.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [row[0] for row in cursor.fetchall()]
    # The lookup, the combined INSERTs and the repeat's delivery: each prepared once.
    assert any('FROM "integrations_alert" a LEFT JOIN' in s for s in prepared)
    assert any(s.startswith('INSERT INTO "integrations_delivery"') for s in prepared)
    assert len(prepared) == len(set(prepared))
    # The ORM's statements are not prepared: psycopg prepares only inside fastpath.
    assert db.connection.prepare_threshold is None
    assert not any("integrations_connection" in s for s in prepared)


@pytest.mark.django_db
def test_fastpath_values_taken_as_they_are_match_the_orm_preparation(
    connection: Connection, post_alert: Any
) -> None:
    assert post_alert(with_essentials(STATIC, alertId="as-is")).status_code == 201

    for model in (Incident, JournalEntry, Alert, Delivery):
        instance: models.Model | None = model.objects.order_by("pk").first()
        assert instance is not None, model.__name__
        fields = [f for f in fastpath.written_fields(model) if type(f) in fastpath._AS_IS]
        assert fields, model.__name__
        expected = [f.get_db_prep_save(f.pre_save(instance, add=True), db) for f in fields]
        got = fastpath._values(instance, fields)
        assert [(type(v), v) for v in got] == [(type(v), v) for v in expected], model.__name__
