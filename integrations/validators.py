"""Validation of connection settings, shared by the model, `seed_connections` and the API."""

import uuid
from typing import Any, cast
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from rest_framework import serializers

from .choices import AZURE_MONITOR_ACTION_GROUP_APP_ID, DEFAULT_REQUIRED_ROLE

LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")
# Bounds of the flapping settings (the API, `seed_connections` and the console).
FLAP_THRESHOLD_RANGE = (2, 1000)
FLAP_INTERVAL_MINUTES_RANGE = (1, 10_080)  # a week


def normalise_guid(value: Any) -> str:
    """Return a GUID in its lower-case canonical form, or raise ValidationError."""
    if not isinstance(value, str):
        raise ValidationError("must be a GUID string")
    try:
        parsed = uuid.UUID(value.strip())
    except ValueError:
        raise ValidationError(f"{value[:60]!r} is not a GUID") from None
    return str(parsed)


def validate_guid(value: str) -> None:
    normalise_guid(value)


def validate_guid_list(value: Any) -> None:
    if not isinstance(value, list):
        raise ValidationError("must be a list of GUIDs")
    for item in value:
        normalise_guid(item)


def validate_audiences(value: Any) -> None:
    if not isinstance(value, list) or not value:
        raise ValidationError("must be a non-empty list of strings")
    for item in value:
        if not isinstance(item, str) or not item.strip():
            raise ValidationError("every audience must be a non-empty string")


def validate_jwks_uri(value: str) -> None:
    """Key sets come over https; plain http only from this machine (development, tests)."""
    URLValidator(schemes=["https", "http"])(value)
    parts = urlsplit(value)
    if parts.scheme == "http" and parts.hostname not in LOOPBACK_HOSTS:
        raise ValidationError("must be an https URL (http is allowed only on loopback hosts)")


def _django_validator(func: Any) -> Any:
    """Run a Django validator inside a DRF field, turning its error into DRF's."""

    def run(value: Any) -> None:
        try:
            func(value)
        except ValidationError as exc:
            raise serializers.ValidationError(exc.messages) from None

    return run


class StrictBooleanField(serializers.BooleanField):
    """Only JSON true/false: "yes" or 1 in a configuration file is a mistake, not a yes."""

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            raise serializers.ValidationError("must be true or false")
        return data


class GuidField(serializers.Field):
    def to_internal_value(self, data: Any) -> str:
        try:
            return normalise_guid(data)
        except ValidationError as exc:
            raise serializers.ValidationError(exc.messages) from None

    def to_representation(self, value: str) -> str:
        return value


class ConnectionSpecSerializer(serializers.Serializer):
    """One connection as `seed_connections` (and the API) take it (contract: Connections)."""

    slug = serializers.SlugField(max_length=64)
    name = serializers.CharField(max_length=200, required=False)
    tenant_id = GuidField()
    audiences = serializers.ListField(
        child=serializers.CharField(max_length=300), allow_empty=False
    )
    allowed_app_ids = serializers.ListField(
        child=GuidField(), required=False, default=[AZURE_MONITOR_ACTION_GROUP_APP_ID]
    )
    required_role = serializers.CharField(
        max_length=200, allow_null=True, required=False, default=DEFAULT_REQUIRED_ROLE
    )
    jwks_uri = serializers.CharField(
        max_length=500,
        allow_null=True,
        required=False,
        default=None,
        validators=[_django_validator(validate_jwks_uri)],
    )
    allowed_subscriptions = serializers.ListField(child=GuidField(), required=False, default=list)
    enabled = StrictBooleanField(required=False, default=True)
    # Resolves incidents of alerts Azure never resolves after this long without a new
    # message; null (the default): never.
    auto_resolve_after_minutes = serializers.IntegerField(
        min_value=1, max_value=525_600, allow_null=True, required=False, default=None
    )
    # Flapping (integrations.flapping): the firing that makes `flap_threshold` firings of
    # one rule on one target within `flap_interval_minutes` reopens the previous incident.
    flap_threshold = serializers.IntegerField(
        min_value=FLAP_THRESHOLD_RANGE[0],
        max_value=FLAP_THRESHOLD_RANGE[1],
        required=False,
        default=3,
    )
    flap_interval_minutes = serializers.IntegerField(
        min_value=FLAP_INTERVAL_MINUTES_RANGE[0],
        max_value=FLAP_INTERVAL_MINUTES_RANGE[1],
        required=False,
        default=60,
    )

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise serializers.ValidationError({"non_field_errors": ["must be a JSON object"]})
        errors = {
            name: ["is not a connection field"] for name in sorted(set(data) - set(self.fields))
        }
        try:
            values = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            detail = cast(dict[str, Any], exc.detail)  # a serializer's errors: per field
            raise serializers.ValidationError({**detail, **errors}) from None
        if errors:
            raise serializers.ValidationError(errors)
        return values

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs.setdefault("name", attrs["slug"])
        attrs["audiences"] = list(dict.fromkeys(a.strip() for a in attrs["audiences"]))
        return attrs
