"""The connection form of the console: the same rules as `seed_connections`, field by field."""

import re
from typing import Any, cast

from django import forms
from django.core.exceptions import ValidationError

from .choices import AZURE_MONITOR_ACTION_GROUP_APP_ID, DEFAULT_REQUIRED_ROLE
from .models import Connection
from .validators import (
    FLAP_INTERVAL_MINUTES_RANGE,
    FLAP_THRESHOLD_RANGE,
    normalise_guid,
    validate_jwks_uri,
)

_SEPARATORS = re.compile(r"[\s,]+")


class LinesField(forms.CharField):
    """A list of strings, typed one per line (commas and spaces separate too)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("widget", forms.Textarea(attrs={"rows": 3, "cols": 60}))
        super().__init__(**kwargs)

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, list | tuple):
            return "\n".join(str(item) for item in value)
        return value

    def to_python(self, value: Any) -> list[str]:  # type: ignore[override]
        if isinstance(value, list | tuple):
            return [str(item) for item in value]
        # CharField gives its empty_value ('' here) for an empty field, never None.
        text = cast(str, super().to_python(value))
        return list(dict.fromkeys(item for item in _SEPARATORS.split(text) if item))


class GuidLinesField(LinesField):
    """GUIDs, one per line; each checked and stored in lower-case canonical form."""

    def clean(self, value: Any) -> list[str]:
        items = super().clean(value)
        guids, errors = [], []
        for number, item in enumerate(items, start=1):
            try:
                guids.append(normalise_guid(item))
            except ValidationError:
                errors.append(f"Line {number}: {item[:60]!r} is not a GUID.")
        if errors:
            raise ValidationError(errors)
        return list(dict.fromkeys(guids))


class ConnectionForm(forms.ModelForm):
    name = forms.CharField(max_length=200, required=False, help_text="Blank: the slug.")
    tenant_id = forms.CharField(
        label="Tenant ID",
        max_length=36,
        help_text="The Directory (tenant) ID of the Entra ID tenant that issues the tokens.",
    )
    audiences = LinesField(
        help_text=(
            "One per line: the Application ID URI (e.g. api://itsm-contoso, the audience of "
            "v1 tokens) and the app registration's client ID (the audience of v2 tokens)."
        ),
    )
    allowed_app_ids = GuidLinesField(
        label="Allowed app IDs",
        initial=[AZURE_MONITOR_ACTION_GROUP_APP_ID],
        help_text=(
            "One per line: the applications that may call. Azure Monitor action groups call "
            f"as {AZURE_MONITOR_ACTION_GROUP_APP_ID}."
        ),
    )
    required_role = forms.CharField(
        max_length=200,
        required=False,
        initial=DEFAULT_REQUIRED_ROLE,
        help_text="The app role the caller's token must carry. Blank turns the check off.",
    )
    jwks_uri = forms.CharField(
        label="JWKS URI",
        max_length=500,
        required=False,
        help_text=(
            "Blank: Entra ID's key set for the tenant. Otherwise an https URL "
            "(http only on 127.0.0.1 or localhost, for development)."
        ),
    )
    allowed_subscriptions = GuidLinesField(
        required=False,
        help_text=(
            "One subscription ID per line. Blank: any subscription of the tenant. Otherwise "
            "alerts about other subscriptions are refused (403)."
        ),
    )
    # Not required: left out (a script posting the form), the default or current value stays.
    flap_threshold = forms.IntegerField(
        min_value=FLAP_THRESHOLD_RANGE[0],
        max_value=FLAP_THRESHOLD_RANGE[1],
        required=False,
        initial=3,
        help_text="From this many firings of one alert rule on one target within the flap "
        "interval, the previous incident is reopened instead of a new one opened.",
    )
    flap_interval_minutes = forms.IntegerField(
        min_value=FLAP_INTERVAL_MINUTES_RANGE[0],
        max_value=FLAP_INTERVAL_MINUTES_RANGE[1],
        required=False,
        initial=60,
        help_text="How far back firings count toward flapping, and how long without a new "
        "firing before an incident is no longer marked flapping.",
    )

    class Meta:
        model = Connection
        fields = [
            "slug",
            "name",
            "enabled",
            "tenant_id",
            "audiences",
            "allowed_app_ids",
            "required_role",
            "jwks_uri",
            "allowed_subscriptions",
            "auto_resolve_after_minutes",
            "flap_threshold",
            "flap_interval_minutes",
        ]

    def clean_tenant_id(self) -> str:
        return normalise_guid(self.cleaned_data["tenant_id"])

    def clean_required_role(self) -> str | None:
        return self.cleaned_data["required_role"].strip() or None

    def clean_jwks_uri(self) -> str | None:
        value = self.cleaned_data["jwks_uri"].strip()
        if not value:
            return None
        validate_jwks_uri(value)
        return value

    def clean_flap_threshold(self) -> int:
        return self._or_default("flap_threshold")

    def clean_flap_interval_minutes(self) -> int:
        return self._or_default("flap_interval_minutes")

    def _or_default(self, name: str) -> int:
        # A new connection's instance holds the model's default, an existing one its value.
        value = self.cleaned_data[name]
        return int(getattr(self.instance, name)) if value is None else value

    def clean(self) -> dict[str, Any]:
        data = cast(dict[str, Any], super().clean())  # a ModelForm's is cleaned_data
        if not (data.get("name") or "").strip():
            data["name"] = data.get("slug") or (self.instance.slug if self.instance.pk else "")
        return data
