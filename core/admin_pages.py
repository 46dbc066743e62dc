"""What the console's change pages share: adding to a page's template context in one hook."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse


class ChangeFormContextAdmin(admin.ModelAdmin):
    """A ModelAdmin whose change page's context is extended by `change_form_context`.

    A page (or an app that extends it, by subclassing) overrides `change_form_context`,
    calls `super()` and adds its keys, instead of overriding Django's eight-parameter
    `render_change_form`.
    """

    def change_form_context(self, request: HttpRequest, obj: Any) -> dict[str, Any]:
        """What this page adds to the template's context; `obj` is None on the add page."""
        return {}

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Any = None,
    ) -> HttpResponse:
        context.update(self.change_form_context(request, obj))
        return super().render_change_form(request, context, add, change, form_url, obj)
