"""The console's side of the lifecycle table (`incidents.lifecycle`): bulk actions, messages.

The incident page's buttons and the list's bulk actions are made from the table, as the
API's actions are; each calls the action's service, which refuses what
`services.TRANSITIONS` forbids with a message the console shows.
"""

from collections.abc import Callable
from typing import TYPE_CHECKING

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse

from ..lifecycle import LIFECYCLE, Action
from ..models import Incident

if TYPE_CHECKING:
    from .incident import IncidentAdmin

# How many incident numbers a message names before it says "and N more".
MESSAGE_NUMBERS = 20

BulkAction = Callable[["IncidentAdmin", HttpRequest, QuerySet[Incident]], TemplateResponse | None]


def numbers_text(numbers: list[str]) -> str:
    shown = ", ".join(numbers[:MESSAGE_NUMBERS])
    if len(numbers) > MESSAGE_NUMBERS:
        shown += f" and {len(numbers) - MESSAGE_NUMBERS} more"
    return shown


def _bulk_action(action: Action) -> BulkAction:
    # "change" is the admin's name for the table's permission, `incidents.change_incident`;
    # IncidentAdmin.get_actions also checks the table's own, should an action name another.
    @admin.action(description=action.bulk_label or action.label, permissions=["change"])
    def run(
        modeladmin: "IncidentAdmin", request: HttpRequest, queryset: QuerySet[Incident]
    ) -> TemplateResponse | None:
        return modeladmin.bulk(request, queryset, action)

    run.__name__ = run.__qualname__ = action.action_name
    return run


def bulk_actions() -> list[BulkAction]:
    """The list's actions, one per row of the lifecycle table (`<name>_selected`)."""
    return [_bulk_action(action) for action in LIFECYCLE.values()]


def is_allowed(request: HttpRequest, action: Action) -> bool:
    """Whether the signed-in user holds the permission the table names for `action`."""
    return request.user.has_perm(action.permission)
