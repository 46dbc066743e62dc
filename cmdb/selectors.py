"""Reads of the CMDB."""

from django.db import connection
from django.db.models import QuerySet

from .models import ConfigurationItem


def configuration_item_list() -> QuerySet[ConfigurationItem]:
    """Configuration items by name.

    The CMDB knows nothing of incidents (incidents -> cmdb, never the reverse): the
    incidents app adds what it knows, e.g. `incidents.selectors.
    configuration_item_list_with_open_incidents` for the API's `has_open_incidents`.
    """
    return ConfigurationItem.objects.order_by("name", "pk")


def configuration_item_get(*, pk: int) -> ConfigurationItem | None:
    """One configuration item, or None."""
    return configuration_item_list().filter(pk=pk).first()


def _distinct_values(field: str, sql: str) -> list[str]:
    """The distinct values of `field` in order: `sql` on PostgreSQL, the ORM elsewhere."""
    if connection.vendor != "postgresql":
        values = ConfigurationItem.objects.order_by(field).values_list(field, flat=True)
        return list(values.distinct())
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return [value for (value,) in cursor.fetchall()]


def configuration_item_classes() -> list[str]:
    """Every CI class in use, in order (the CI list's class filter).

    A loose index scan on `cmdb_ci_class`: one index probe per distinct class, where
    `SELECT DISTINCT` read every CI's entry. Measured with EXPLAIN ANALYZE over 100,000
    CIs of one class: 22.7 ms -> 0.23 ms.
    """
    return _distinct_values(
        "ci_class",
        """
        WITH RECURSIVE classes(value) AS (
            (SELECT ci_class FROM cmdb_configurationitem ORDER BY ci_class LIMIT 1)
            UNION ALL
            SELECT (
                SELECT ci.ci_class FROM cmdb_configurationitem ci
                WHERE ci.ci_class > classes.value ORDER BY ci.ci_class LIMIT 1
            )
            FROM classes WHERE classes.value IS NOT NULL
        )
        SELECT value FROM classes WHERE value IS NOT NULL
        """,
    )


def configuration_item_subscriptions() -> list[str]:
    """Every subscription ID of a CI, in order (the CI list's subscription filter).

    A loose index scan on `cmdb_ci_sub_rg`'s leading column. Measured with EXPLAIN ANALYZE
    over 100,000 CIs in 8 subscriptions: 26.7 ms -> 0.6 ms.
    """
    return _distinct_values(
        "subscription_id",
        """
        WITH RECURSIVE subscriptions(value) AS (
            (
                SELECT subscription_id FROM cmdb_configurationitem
                ORDER BY subscription_id LIMIT 1
            )
            UNION ALL
            SELECT (
                SELECT ci.subscription_id FROM cmdb_configurationitem ci
                WHERE ci.subscription_id > subscriptions.value
                ORDER BY ci.subscription_id LIMIT 1
            )
            FROM subscriptions WHERE subscriptions.value IS NOT NULL
        )
        SELECT value FROM subscriptions WHERE value IS NOT NULL
        """,
    )


def configuration_item_resource_groups() -> list[str]:
    """Every resource group of a CI, in order (the CI list's resource group filter).

    A resource group lives in a subscription, so a loose index scan over the
    (subscription, resource group) pairs of `cmdb_ci_sub_rg` finds each group with one
    probe per pair, without an index of its own (which every new CI would pay for).
    Measured with EXPLAIN ANALYZE over 100,000 CIs in 200 pairs (50 groups): 37.7 ms ->
    4.9 ms.
    """
    return _distinct_values(
        "resource_group",
        """
        WITH RECURSIVE scopes(subscription_id, resource_group) AS (
            (
                SELECT subscription_id, resource_group FROM cmdb_configurationitem
                ORDER BY subscription_id, resource_group LIMIT 1
            )
            UNION ALL
            SELECT later.subscription_id, later.resource_group
            FROM scopes CROSS JOIN LATERAL (
                SELECT ci.subscription_id, ci.resource_group FROM cmdb_configurationitem ci
                WHERE (ci.subscription_id, ci.resource_group)
                    > (scopes.subscription_id, scopes.resource_group)
                ORDER BY ci.subscription_id, ci.resource_group LIMIT 1
            ) later
        )
        SELECT DISTINCT resource_group FROM scopes ORDER BY resource_group
        """,
    )
