"""The CI upsert's statement built once per process (PostgreSQL) writes what the ORM writes.

On PostgreSQL `ci_upsert_for_resources` runs one INSERT .. SELECT FROM unnest(..) ON
CONFLICT, whose text does not depend on how many CIs it writes; SQLite keeps the ORM's
`bulk_create`. Both are compared here, for new CIs and for CIs that exist already.
"""

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection as db
from django.test.utils import CaptureQueriesContext

from cmdb import services
from cmdb.models import ConfigurationItem
from tests.helpers import FROZEN, MIN, is_postgres, vm_id

pytestmark = pytest.mark.django_db

KNOWN = [vm_id("vm-a"), vm_id("vm-b", "rg-db")]
NEW = [vm_id("vm-c"), vm_id("VM-A"), "/subscriptions/S/providers/Microsoft.Foo/bars/x"]


def _rows() -> list[dict[str, Any]]:
    """Every CI, without its id, in resource ID order."""
    rows = ConfigurationItem.objects.order_by("azure_resource_id").values()
    return [{k: v for k, v in row.items() if k != "id"} for row in rows]


def _upsert_twice(monkeypatch: pytest.MonkeyPatch) -> tuple[list[Any], list[str]]:
    """Upsert KNOWN, then KNOWN and NEW later; the CIs returned the second time, and SQL."""
    monkeypatch.setattr("django.utils.timezone.now", lambda: FROZEN)
    services.ci_upsert_for_resources(resource_ids=KNOWN, seen_at=FROZEN)
    later = FROZEN + 5 * MIN
    monkeypatch.setattr("django.utils.timezone.now", lambda: later)
    with CaptureQueriesContext(db) as captured:
        cis = services.ci_upsert_for_resources(resource_ids=KNOWN + NEW, seen_at=later)
    returned = [
        (ci.azure_resource_id, ci.name, ci.last_seen_at, ci.created_at, ci._state.adding)
        for ci in cis
    ]
    assert [ci.pk for ci in cis] == [
        ConfigurationItem.objects.get(azure_resource_id=ci.azure_resource_id).pk for ci in cis
    ]
    return returned, [q["sql"] for q in captured.captured_queries]


def test_ci_upsert_for_resources_writes_what_the_orm_writes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if not is_postgres():
        pytest.skip("SQLite takes the ORM's bulk_create")
    by_hand, statements = _upsert_twice(monkeypatch)
    rows = _rows()
    assert len(statements) == 1
    assert "unnest" in statements[0]
    ConfigurationItem.objects.all().delete()
    monkeypatch.setattr(services, "_ci_upsert_statement", services._ci_upsert_orm)
    by_orm, orm_statements = _upsert_twice(monkeypatch)
    assert len(orm_statements) == 1
    assert by_hand == by_orm
    assert rows == _rows()
    assert len(rows) == 4  # "VM-A" is vm-a's resource ID in another case
    kept = next(r for r in rows if r["azure_resource_id"] == KNOWN[0].lower())
    assert kept["first_seen_at"] == FROZEN
    assert kept["last_seen_at"] == kept["updated_at"] == FROZEN + 5 * MIN


def test_ci_upsert_for_resources_uses_one_text_for_any_number_of_cis(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if not is_postgres():
        pytest.skip("SQLite takes the ORM's bulk_create")
    monkeypatch.setattr(services, "_ci_upsert_orm", None)  # never the ORM here
    texts: set[str] = set()
    for ids in (KNOWN[:1], KNOWN + NEW):
        with CaptureQueriesContext(db) as captured:
            services.ci_upsert_for_resources(
                resource_ids=ids, seen_at=FROZEN + timedelta(seconds=1)
            )
        texts.update(q["sql"] for q in captured.captured_queries)
    assert len(texts) == 1  # prepared once per connection
