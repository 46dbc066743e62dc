"""Assignment groups: the teams incidents go to (their writes, for the API and the console)."""

from collections.abc import Iterable, Mapping
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import ProtectedError, QuerySet

from core.exceptions import ApplicationError

from .models import AssignmentGroup

GROUP_FIELDS = ("name", "description")


def assignment_group_list() -> QuerySet[AssignmentGroup]:
    """Every group by name, with its members (no query per group)."""
    return AssignmentGroup.objects.prefetch_related("members").order_by("name")


def _save(
    group: AssignmentGroup,
    values: Mapping[str, Any],
    members: Iterable[User] | None,
) -> AssignmentGroup:
    for field in GROUP_FIELDS:
        if field in values:
            setattr(group, field, values[field].strip() if field == "name" else values[field])
    try:
        group.full_clean()
    except ValidationError as exc:
        message = " ".join(m for msgs in exc.message_dict.values() for m in msgs)
        raise ApplicationError(
            message, code="invalid_group", fields=list(exc.message_dict)
        ) from None
    group.save()  # its post_save clears the assignment rules' cache (they hold its name)
    if members is not None:
        group.members.set(members)
    return group


@transaction.atomic
def assignment_group_create(
    *, values: Mapping[str, Any], members: Iterable[User] = ()
) -> AssignmentGroup:
    """Create a group (ApplicationError `invalid_group`: no name, or a name taken)."""
    return _save(AssignmentGroup(), values, members)


@transaction.atomic
def assignment_group_update(
    *,
    group: AssignmentGroup,
    values: Mapping[str, Any],
    members: Iterable[User] | None = None,
) -> AssignmentGroup:
    """Change a group's name, description or (when given) its members."""
    return _save(group, values, members)


@transaction.atomic
def assignment_group_delete(*, group: AssignmentGroup) -> None:
    """Delete a group no incident and no assignment rule names (ApplicationError otherwise)."""
    try:
        group.delete()
    except ProtectedError:
        raise ApplicationError(
            f"The group {group.name!r} has incidents or assignment rules; reassign them first.",
            code="group_in_use",
        ) from None
