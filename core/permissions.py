"""Who may call which API endpoint: Django model permissions (the operators/viewers roles).

Every endpoint needs a signed-in user (anonymous requests get 401). Reading needs the
model's `view_` permission; writing needs `add_`/`change_`/`delete_` and the `view_`
permission too (every write answers with the object). A user without the `view_`
permission is refused (403) before any lookup, so an unknown and a known object number
look the same to them. Superusers hold every permission.
"""

from collections.abc import Mapping, Sequence

from django.db.models import Model
from rest_framework import permissions
from rest_framework.request import Request
from rest_framework.views import APIView

_VIEW = "%(app_label)s.view_%(model_name)s"

# What a view names in `action_permissions`: for one action, the permissions it needs,
# either for every method or per method ({"GET": [...], "POST": [...]}).
ActionPermissions = Mapping[str, Sequence[str] | Mapping[str, Sequence[str]]]


class ModelPermissions(permissions.DjangoModelPermissions):
    """Django model permissions, with `view_` for reads (DRF's own class lets any GET pass).

    A view may name other permissions for an action in `action_permissions`, e.g.
    `{"resolve": ["incidents.view_incident", "incidents.change_incident"]}`; those replace
    the method's defaults for that action.
    """

    perms_map = {
        "GET": [_VIEW],
        "OPTIONS": [_VIEW],
        "HEAD": [_VIEW],
        "POST": [_VIEW, "%(app_label)s.add_%(model_name)s"],
        "PUT": [_VIEW, "%(app_label)s.change_%(model_name)s"],
        "PATCH": [_VIEW, "%(app_label)s.change_%(model_name)s"],
        "DELETE": [_VIEW, "%(app_label)s.delete_%(model_name)s"],
    }

    def has_permission(self, request: Request, view: APIView) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        if not hasattr(view, (request.method or "").lower()):
            return True  # a method the endpoint does not offer: let the view answer 405
        named = action_permissions_for(request, view)
        if named is not None:
            return user.has_perms(named)
        return super().has_permission(request, view)

    def has_object_permission(self, request: Request, view: APIView, obj: Model) -> bool:
        return True  # model-wide permissions, already checked in has_permission


def action_permissions_for(request: Request, view: APIView) -> list[str] | None:
    """The permissions the view names for this request's action and method, if any."""
    table: ActionPermissions = getattr(view, "action_permissions", {})
    entry = table.get(getattr(view, "action", None) or "")
    if entry is None:
        return None
    if isinstance(entry, Mapping):
        method = request.method or "GET"
        if method in ("HEAD", "OPTIONS"):
            method = "GET"
        if method not in entry:
            return None
        return list(entry[method])
    return list(entry)


class IsStaff(permissions.BasePermission):
    """Staff users (those who may use the console) and superusers only."""

    message = "Only staff users may use this endpoint."

    def has_permission(self, request: Request, view: APIView) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and (user.is_staff or user.is_superuser))
