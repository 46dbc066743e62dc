"""The CI list's filter values: one index probe per value on PostgreSQL, the ORM elsewhere."""

import pytest

from cmdb.models import ConfigurationItem
from cmdb.selectors import (
    configuration_item_classes,
    configuration_item_resource_groups,
    configuration_item_subscriptions,
)
from tests.factories import ConfigurationItemFactory

pytestmark = pytest.mark.django_db

SUB_A = "aaaa0a0a-bb1b-cc2c-dd3d-eeeeee4e4e4e"
SUB_B = "bbbb0a0a-bb1b-cc2c-dd3d-eeeeee4e4e4e"


def _orm_distinct(field: str) -> list[str]:
    rows = ConfigurationItem.objects.order_by(field).values_list(field, flat=True).distinct()
    return list(rows)


def _fill() -> None:
    # Groups shared across subscriptions, one subscription with several groups, a CI by
    # hand (no subscription nor group), and several CIs per value.
    for n, (sub, group) in enumerate(
        [(SUB_A, "rg-web"), (SUB_A, "rg-data"), (SUB_B, "rg-web"), (SUB_B, "rg-z"), (SUB_A, "rg")]
        * 3
    ):
        ConfigurationItemFactory(name=f"vm-{n}", subscription_id=sub, resource_group=group)
    ConfigurationItemFactory(name="db-1", ci_class="microsoft.sql/servers/databases")
    ConfigurationItemFactory(
        name="by-hand",
        ci_class="rack",
        subscription_id="",
        resource_group="",
        azure_resource_id=None,
    )


def test_configuration_item_classes_are_the_distinct_classes_in_order() -> None:
    _fill()
    assert configuration_item_classes() == _orm_distinct("ci_class")
    assert configuration_item_classes() == [
        "microsoft.compute/virtualmachines",
        "microsoft.sql/servers/databases",
        "rack",
    ]


def test_configuration_item_subscriptions_are_the_distinct_subscriptions_in_order() -> None:
    _fill()
    assert configuration_item_subscriptions() == _orm_distinct("subscription_id")
    assert configuration_item_subscriptions() == ["", SUB_A, SUB_B]


def test_configuration_item_resource_groups_are_the_distinct_groups_in_order() -> None:
    _fill()
    assert configuration_item_resource_groups() == _orm_distinct("resource_group")
    assert configuration_item_resource_groups() == ["", "rg", "rg-data", "rg-web", "rg-z"]


def test_configuration_item_filter_values_of_an_empty_cmdb_are_none() -> None:
    assert configuration_item_classes() == []
    assert configuration_item_subscriptions() == []
    assert configuration_item_resource_groups() == []
