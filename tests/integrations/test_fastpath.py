"""The webhook's hot path (integrations.fastpath) writes what the ORM would write.

A field added to any model on the path is written without a change to the path.
"""

import re
from contextlib import nullcontext
from typing import Any

import pytest
from django.db import connection as db
from django.db import models
from django.test.utils import CaptureQueriesContext

from cmdb.models import ConfigurationItem
from incidents.models import Incident, IncidentConfigurationItem, JournalEntry
from integrations import fastpath
from integrations.models import Alert, Connection, Delivery
from tests.helpers import FROZEN, LOG_V2, RESOLVED_FIRST, STATIC, is_postgres, with_essentials

# Every model a new alert's delivery writes.
PATH_MODELS = [
    ConfigurationItem,
    Incident,
    IncidentConfigurationItem,
    JournalEntry,
    Alert,
    Delivery,
]
# An INSERT, alone or in a WITH (SQLite's "INSERT OR IGNORE" is ignore_conflicts).
INSERT = re.compile(r'INSERT (?:OR IGNORE )?INTO "(\w+)" \(([^)]*)\)')


def _written_columns(queries: list[dict[str, str]]) -> dict[str, set[str]]:
    """The columns each table's INSERTs named, from captured statements."""
    written: dict[str, set[str]] = {}
    for query in queries:
        for table, columns in INSERT.findall(query["sql"]):
            written.setdefault(table, set()).update(
                c.strip().strip('"') for c in columns.split(",")
            )
    return written


@pytest.mark.django_db
def test_fastpath_new_alert_writes_every_concrete_field(
    connection: Connection, post_alert: Any
) -> None:
    payload = with_essentials(LOG_V2, alertId="guard")
    with CaptureQueriesContext(db) as captured:
        assert post_alert(payload).status_code == 201

    written = _written_columns(captured.captured_queries)
    for model in PATH_MODELS:
        meta = model._meta
        expected = {f.column for f in meta.concrete_fields if not f.generated} - {meta.pk.column}
        assert written.get(meta.db_table) == expected, model.__name__


def _rows() -> dict[str, list[dict[str, Any]]]:
    """Every row on the path, without ids (which differ between two runs)."""
    ids = {"id", "incident_id", "alert_id", "configuration_item_id", "number", "replay_of_id"}
    rows = {}
    for model in PATH_MODELS:
        values = []
        for row in model.objects.order_by("pk").values():
            row = {k: bytes(v) if isinstance(v, memoryview) else v for k, v in row.items()}
            values.append({k: v for k, v in row.items() if k not in ids})
        rows[model.__name__] = values
    return rows


def _clear() -> None:
    Delivery.objects.all().delete()
    Alert.objects.all().delete()
    Incident.objects.all().delete()
    ConfigurationItem.objects.all().delete()


@pytest.mark.django_db
@pytest.mark.skipif(not is_postgres(), reason="the combined INSERTs run on PostgreSQL only")
@pytest.mark.parametrize("sample", [STATIC, LOG_V2, RESOLVED_FIRST])
def test_fastpath_gives_the_rows_of_the_orm_path(
    connection: Connection,
    post_alert: Any,
    monkeypatch: pytest.MonkeyPatch,
    sample: str,
) -> None:
    post_alert(with_essentials(STATIC, alertId="warm-up"))  # key set, caches
    _clear()
    monkeypatch.setattr("django.utils.timezone.now", lambda: FROZEN)
    payload = with_essentials(sample, alertId="same")
    answers, rows = [], []
    for fast in (False, True):
        monkeypatch.setattr(fastpath, "supported", lambda fast=fast: fast)
        with CaptureQueriesContext(db) as captured:
            response = post_alert(payload)
        answers.append((response.status_code, response.json()["status"]))
        rows.append(_rows())
        _clear()
        with_cte = [q for q in captured.captured_queries if q["sql"].startswith("WITH")]
        assert bool(with_cte) is fast  # each run took the path it was meant to

    assert answers[0] == answers[1] == (201, "created")
    assert rows[0] == rows[1]
    assert all(rows[0][m.__name__] for m in PATH_MODELS if m is not ConfigurationItem)


@pytest.fixture
def added_field(request: pytest.FixtureRequest) -> Any:
    """A NOT NULL column with a Python default added to a model on the path, then removed."""
    model: type[models.Model] = request.param
    field = models.CharField(max_length=20, default="added")
    field.contribute_to_class(model, "probe_added")
    with db.schema_editor() as editor:
        editor.add_field(model, field)
    try:
        yield model
    finally:
        with db.schema_editor() as editor:
            editor.remove_field(model, field)
        model._meta.local_fields.remove(field)
        model._meta._expire_cache()
        delattr(model, "probe_added")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("added_field", PATH_MODELS, indirect=True, ids=lambda m: m.__name__)
def test_fastpath_writes_a_field_added_to_a_model_on_the_path(
    connection: Connection, post_alert: Any, added_field: type[models.Model]
) -> None:
    fired = with_essentials(LOG_V2, alertId="added-field")
    resolved = with_essentials(LOG_V2, alertId="added-field", monitorCondition="Resolved")

    assert post_alert(fired).status_code == 201
    assert post_alert(fired).json()["status"] == "duplicate"
    assert post_alert(resolved).json()["status"] == "resolved"

    stored = list(added_field.objects.values_list("probe_added", flat=True))
    assert stored
    assert set(stored) == {"added"}


def test_fastpath_prepares_each_value_as_the_orm_does() -> None:
    """Values passed as they are (text, flags, aware datetimes) equal the ORM's; auto_now runs."""
    naive = FROZEN.replace(tzinfo=None)
    incident = Incident(title="t", description="d", opened_at=FROZEN, resolved_at=None)
    journal = JournalEntry(incident=incident, created_at=FROZEN, message="m")
    link = IncidentConfigurationItem(incident=incident)
    ci = ConfigurationItem(name="vm", azure_resource_id="/s/x", first_seen_at=naive)
    auto_set = 0
    for instance in (incident, journal, link, ci):
        fields = fastpath.written_fields(type(instance))
        auto = {
            i
            for i, f in enumerate(fields)
            if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)
        }
        # A naive datetime is made aware, with Django's warning, on both paths.
        with pytest.warns(RuntimeWarning) if instance is ci else nullcontext():
            fast = fastpath._values(instance, fields)
        with pytest.warns(RuntimeWarning) if instance is ci else nullcontext():
            orm = [f.get_db_prep_save(f.pre_save(instance, add=True), db) for f in fields]
        assert [v for i, v in enumerate(fast) if i not in auto] == [
            v for i, v in enumerate(orm) if i not in auto
        ]
        assert all(fast[i] is not None for i in auto)  # set by pre_save, not skipped
        auto_set += len(auto)
    assert auto_set  # the check above saw auto_now fields
