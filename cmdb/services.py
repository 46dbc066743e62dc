"""Writes to the CMDB. Other apps change configuration items only through these."""

from collections.abc import Iterable
from datetime import datetime
from functools import cache
from typing import cast

from django.db import IntegrityError, transaction
from django.db import connection as db
from django.db.models import CharField, Field
from django.db.models.functions import Lower

from core.exceptions import ApplicationError
from core.prepared import prepared_cursor

from .models import ConfigurationItem
from .resource_ids import MAX_RESOURCE_ID_BYTES, ResourceRef, parse_resource_id


def ci_upsert_for_resources(
    *, resource_ids: Iterable[str], seen_at: datetime
) -> list[ConfigurationItem]:
    """Return the CI of every resource ID, creating missing ones, in one statement.

    An INSERT .. ON CONFLICT (resource ID) DO UPDATE keeps this race-safe and constant
    in queries however many targets an alert has; `last_seen_at` moves forward. The CIs
    returned carry their id and what the resource IDs say; for a CI that existed, the
    other fields are those of the row offered, not the stored one.
    """
    refs: dict[str, ResourceRef] = {}
    for resource_id in resource_ids:
        ref = parse_resource_id(resource_id)
        refs.setdefault(ref.resource_id, ref)
    if not refs:
        return []
    cis = [
        ConfigurationItem(
            name=ref.name,
            ci_class=ref.ci_class,
            azure_resource_id=ref.resource_id,
            subscription_id=ref.subscription_id,
            resource_group=ref.resource_group,
            first_seen_at=seen_at,
            last_seen_at=seen_at,
        )
        for ref in refs.values()
    ]
    if db.vendor == "postgresql":
        return _ci_upsert_statement(cis)
    return _ci_upsert_orm(cis)


# What an upsert sets on a CI that exists already.
_UPSERT_UPDATES = ("last_seen_at", "updated_at")


def _ci_upsert_orm(cis: list[ConfigurationItem]) -> list[ConfigurationItem]:
    # bulk_create returns the ids of inserted and updated rows alike (PostgreSQL, SQLite).
    return ConfigurationItem.objects.bulk_create(
        cis,
        update_conflicts=True,
        unique_fields=["azure_resource_id"],
        update_fields=list(_UPSERT_UPDATES),
    )


def _upsert_fields() -> tuple[Field, ...]:
    """The fields the upsert writes, as `bulk_create` does: all but the id (and generated)."""
    meta = ConfigurationItem._meta
    return tuple(f for f in meta.concrete_fields if not f.generated and f is not meta.auto_field)


@cache
def _ci_upsert_sql(fields: tuple[Field, ...]) -> str:
    """The upsert's text for these fields (cached per set: a field added is written too)."""
    qn = db.ops.quote_name
    meta = ConfigurationItem._meta
    columns = ", ".join(qn(f.column) for f in fields)
    # One array per column: the text is the same however many CIs, so it is prepared once.
    arrays = ", ".join(f"%s::{f.db_type(db)}[]" for f in fields)
    sets = ", ".join(
        f"{qn(c)} = EXCLUDED.{qn(c)}"
        for c in (cast(Field, meta.get_field(n)).column for n in _UPSERT_UPDATES)
    )
    resource_id = qn(cast(Field, meta.get_field("azure_resource_id")).column)
    # Identifiers come from model metadata; every value is a parameter.
    return (
        f"INSERT INTO {qn(meta.db_table)} ({columns}) "  # noqa: S608
        f"SELECT * FROM unnest({arrays}) "
        f"ON CONFLICT ({resource_id}) DO UPDATE SET {sets} "
        f"RETURNING {qn(meta.pk.column)}, {resource_id}"
    )


def _ci_upsert_statement(cis: list[ConfigurationItem]) -> list[ConfigurationItem]:
    """What `_ci_upsert_orm` writes, from a statement built once per process (PostgreSQL).

    The ORM compiled its `bulk_create` on every new alert: 12.5 % of a new alert's
    in-process CPU (bench/README.md). Prepared once per connection, as the webhook's
    other hand-written statements are (core.prepared).
    """
    fields = _upsert_fields()
    # Each value as bulk_create prepares it: pre_save (auto_now) then get_db_prep_save;
    # a CharField's text is its own prepared value (Django 5.2), so it skips the two calls.
    columns = [
        [getattr(ci, field.attname) for ci in cis]
        if type(field) is CharField
        else [field.get_db_prep_save(field.pre_save(ci, add=True), db) for ci in cis]
        for field in fields
    ]
    with prepared_cursor() as cursor:
        cursor.execute(_ci_upsert_sql(fields), columns)
        ids = dict((resource_id, pk) for pk, resource_id in cursor.fetchall())
    for ci in cis:
        ci.pk = ids[ci.azure_resource_id]
        ci._state.adding = False
        ci._state.db = db.alias
    return cis


def ci_unique_by_names(*, names: Iterable[str]) -> list[ConfigurationItem]:
    """Return, for each name, the CI bearing it when exactly one CI does (case-insensitive).

    Log search alerts target a workspace and name the machines they matched in
    `configurationItems`; a name is only linked when it is unambiguous.
    """
    wanted = {n.strip().lower() for n in names if n and n.strip()}
    if not wanted:
        return []
    by_name: dict[str, list[ConfigurationItem]] = {}
    rows = ConfigurationItem.objects.annotate(name_lower=Lower("name")).filter(
        name_lower__in=wanted
    )
    for ci in rows:
        by_name.setdefault(ci.name_lower, []).append(ci)
    return [cis[0] for cis in by_name.values() if len(cis) == 1]


def ci_create(
    *,
    name: str,
    ci_class: str,
    azure_resource_id: str | None = None,
    subscription_id: str = "",
    resource_group: str = "",
) -> ConfigurationItem:
    """Create a configuration item by hand; an Azure resource ID fills what it can say.

    Raises ApplicationError when a CI already has that resource ID.
    """
    ci = ConfigurationItem(name=name.strip(), ci_class=ci_class.strip().lower())
    if azure_resource_id:
        ref = parse_resource_id(azure_resource_id)
        ci.azure_resource_id = ref.resource_id
        ci.ci_class = ci.ci_class or ref.ci_class
        ci.name = ci.name or ref.name
        subscription_id = subscription_id or ref.subscription_id
        resource_group = resource_group or ref.resource_group
    ci.subscription_id = subscription_id.lower()
    ci.resource_group = resource_group.lower()
    return _ci_save(ci)


def ci_update(*, ci: ConfigurationItem, **changes: object) -> ConfigurationItem:
    """Change a CI's name, class, subscription or resource group (not its resource ID)."""
    allowed = {"name", "ci_class", "subscription_id", "resource_group"}
    unknown = sorted(set(changes) - allowed)
    if unknown:
        raise ApplicationError(f"These fields cannot be edited: {', '.join(unknown)}.")
    for field, value in changes.items():
        setattr(ci, field, str(value).strip())
    return _ci_save(ci)


def _check_fits(ci: ConfigurationItem) -> None:
    """Refuse values the columns cannot hold (lower case may lengthen text: "İ" is "i̇")."""
    resource_id = ci.azure_resource_id or ""
    if len(resource_id.encode("utf-8")) > MAX_RESOURCE_ID_BYTES:
        raise ApplicationError(
            f"An Azure resource ID may be at most {MAX_RESOURCE_ID_BYTES} bytes "
            "(in UTF-8, in lower case).",
            code="resource_id_too_long",
        )
    for field in ("name", "ci_class", "subscription_id", "resource_group"):
        # All four are CharFields, each with a max_length.
        limit = cast("CharField[str, str]", ConfigurationItem._meta.get_field(field)).max_length
        if limit is not None and len(getattr(ci, field)) > limit:
            raise ApplicationError(
                f"{field} may be at most {limit} characters (in lower case).", code="too_long"
            )


def _ci_save(ci: ConfigurationItem) -> ConfigurationItem:
    if not ci.name or not ci.ci_class:
        raise ApplicationError("A configuration item needs a name and a class.")
    _check_fits(ci)
    try:
        with transaction.atomic():
            ci.save()
    except IntegrityError:
        raise ApplicationError(
            f"A configuration item with the resource ID {ci.azure_resource_id} exists already.",
            code="duplicate_resource_id",
        ) from None
    return ci
