"""The incident page's Merge and Split (operators), and the list's alert count.

Mixed into integrations.admin.IncidentAdmin: merging and splitting move Azure alerts,
which this app owns. Each is a small form page; the change goes through
integrations.merging, whose refusals are shown as messages on the form.
"""

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import quote
from django.contrib.auth.base_user import AbstractBaseUser
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.text import Truncator

from core.display import datetime_display
from core.exceptions import ApplicationError
from incidents.choices import OPEN_STATES
from incidents.models import Incident, incident_pk_from_number

from .merging import incident_merge, incident_split
from .models import Alert

if TYPE_CHECKING:
    from incidents.admin import IncidentAdmin

    _Base = IncidentAdmin
else:
    _Base = object

FORM_TEMPLATE = "admin/integrations/incident/restructure_form.html"


def _alerts(n: int) -> str:
    return "1 alert" if n == 1 else f"{n} alerts"


class MergeForm(forms.Form):
    into = forms.CharField(
        label="Merge into",
        max_length=20,
        help_text="The number of the incident that takes this one's alerts (INC…). This "
        "incident is then canceled as its duplicate.",
    )

    def __init__(self, *args: Any, incident: Incident, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.incident = incident

    def clean_into(self) -> Incident:
        number = self.cleaned_data["into"].strip().upper()
        pk = incident_pk_from_number(number)
        found = Incident.objects.filter(pk=pk).first() if pk is not None else None
        if found is None:
            raise forms.ValidationError(f"No incident {number}.")
        return found


def _alert_label(alert: Alert) -> str:
    when = datetime_display(alert.fired_at) if alert.fired_at else "not fired"
    targets = ", ".join(t.rsplit("/", 1)[-1] for t in alert.target_ids[:3])
    what = alert.alert_rule or alert.monitoring_service or alert.alert_id
    return Truncator(f"{what} on {targets or '—'} · {alert.severity or '—'} · {when}").chars(150)


class SplitForm(forms.Form):
    alerts = forms.MultipleChoiceField(
        label="Alerts to split out",
        widget=forms.CheckboxSelectMultiple,
        help_text="They move to a new incident; at least one alert must stay here.",
    )

    def __init__(self, *args: Any, alerts: list[Alert], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = cast(forms.MultipleChoiceField, self.fields["alerts"])
        field.choices = [(str(a.pk), _alert_label(a)) for a in alerts]


class IncidentMergeSplitMixin(_Base):
    """Adds Merge and Split to the incident page, and an "Alerts" column to the list."""

    def get_list_display(self, request: HttpRequest) -> Any:
        columns = list(super().get_list_display(request))
        if "alert_count_column" not in columns:
            at = columns.index("severity_short") + 1 if "severity_short" in columns else 2
            columns.insert(at, "alert_count_column")
        return columns

    @admin.display(description="Alerts", ordering="alert_count")
    def alert_count_column(self, obj: Incident) -> int:
        return obj.alert_count

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        return [
            path(
                "<path:object_id>/merge/",
                wrap(self.merge_view),
                name="integrations_incident_merge",
            ),
            path(
                "<path:object_id>/split/",
                wrap(self.split_view),
                name="integrations_incident_split",
            ),
            *super().get_urls(),
        ]

    def restructure_links(self, request: HttpRequest, incident: Incident) -> list[dict[str, str]]:
        """The page's Merge and Split links, for those who may change it while it is open."""
        if incident.state not in OPEN_STATES or not self.has_change_permission(request, incident):
            return []
        links = [
            {
                "name": "merge",
                "label": "Merge into…",
                "url": reverse("admin:integrations_incident_merge", args=[quote(incident.pk)]),
            }
        ]
        if incident.alert_count > 1:
            links.append(
                {
                    "name": "split",
                    "label": "Split alerts out…",
                    "url": reverse("admin:integrations_incident_split", args=[quote(incident.pk)]),
                }
            )
        return links

    def _form_page(
        self, request: HttpRequest, incident: Incident, form: forms.Form, *, title: str, verb: str
    ) -> TemplateResponse:
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"{title}: {incident.number}",
            "heading": title,
            "verb": verb,
            "form": form,
            "original": incident,
            "cancel_url": self._page_url(incident),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, FORM_TEMPLATE, context)

    @staticmethod
    def _page_url(incident: Incident) -> str:
        return reverse("admin:incidents_incident_change", args=[quote(incident.pk)])

    def merge_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        incident = self._incident_to_change(request, object_id)
        form = MergeForm(request.POST if request.method == "POST" else None, incident=incident)

        def merge() -> tuple[str, Incident]:
            result = incident_merge(
                incident=incident,
                into=form.cleaned_data["into"],
                actor=cast(AbstractBaseUser, request.user),
            )
            said = (
                f"{result.source.number} merged into {result.target.number} "
                f"({_alerts(result.alerts_moved)} moved); it is canceled as a duplicate."
            )
            return said, result.target

        return self._restructure(
            request, incident, form, merge, title="Merge into another incident", verb="Merge"
        )

    def split_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        incident = self._incident_to_change(request, object_id)
        alerts = list(Alert.objects.filter(incident=incident).order_by("fired_at", "pk"))
        form = SplitForm(request.POST if request.method == "POST" else None, alerts=alerts)

        def split() -> tuple[str, Incident]:
            result = incident_split(
                incident=incident,
                alert_pks=[int(pk) for pk in form.cleaned_data["alerts"]],
                actor=cast(AbstractBaseUser, request.user),
            )
            said = (
                f"{_alerts(result.alerts_moved)} of {result.source.number} split out into "
                f"{result.incident.number}."
            )
            return said, result.incident

        return self._restructure(
            request,
            incident,
            form,
            split,
            title="Split alerts out into a new incident",
            verb="Split",
        )

    def _restructure(
        self,
        request: HttpRequest,
        incident: Incident,
        form: forms.Form,
        act: Callable[[], tuple[str, Incident]],
        *,
        title: str,
        verb: str,
    ) -> HttpResponse:
        """A merge or split page: once the form is valid, `act` calls the service and says
        what it did and which incident to show; a refusal is said on the form's page."""
        if form.is_valid():
            try:
                said, shown = act()
            except ApplicationError as exc:
                self.message_user(request, exc.message, messages.ERROR)
            else:
                self.message_user(request, said, messages.SUCCESS)
                return HttpResponseRedirect(self._page_url(shown))
        return self._form_page(request, incident, form, title=title, verb=verb)

    def change_form_context(self, request: HttpRequest, obj: Incident | None) -> dict[str, Any]:
        context = super().change_form_context(request, obj)
        if obj is not None and obj.pk is not None:
            context["restructure_links"] = self.restructure_links(request, obj)
        return context
