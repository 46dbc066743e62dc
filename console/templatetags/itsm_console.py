"""`{% console_dashboard %}`: the figures on the console's home page (console.dashboard)."""

from typing import Any

from django import template

from console.dashboard import dashboard_for

register = template.Library()


@register.inclusion_tag("admin/console/dashboard.html", takes_context=True)
def console_dashboard(context: template.Context) -> dict[str, Any]:
    request = context.get("request")
    if request is None:
        return {"dashboard": None}
    return {"dashboard": dashboard_for(user=request.user)}
