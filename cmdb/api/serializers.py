"""Configuration item representations for the REST API."""

from typing import Any

from rest_framework import serializers

from ..models import ConfigurationItem
from ..resource_ids import MAX_RESOURCE_ID_LENGTH


class ConfigurationItemSerializer(serializers.ModelSerializer):
    class Meta:
        model = ConfigurationItem
        fields = [
            "id",
            "name",
            "ci_class",
            "azure_resource_id",
            "subscription_id",
            "resource_group",
            "first_seen_at",
            "last_seen_at",
            "created_at",
        ]
        read_only_fields = fields


class ConfigurationItemUpdateSerializer(serializers.Serializer):
    """What a person may change on a CI (not its resource ID, which identifies it)."""

    name = serializers.CharField(max_length=255)
    ci_class = serializers.CharField(
        max_length=255, help_text="The Azure resource type, e.g. microsoft.compute/virtualmachines."
    )
    subscription_id = serializers.CharField(
        max_length=64, allow_blank=True, required=False, default=""
    )
    resource_group = serializers.CharField(
        max_length=90, allow_blank=True, required=False, default=""
    )


class ConfigurationItemCreateSerializer(ConfigurationItemUpdateSerializer):
    """A CI entered by hand. With an Azure resource ID, name, class, subscription and
    resource group default to what the ID says."""

    name = serializers.CharField(max_length=255, allow_blank=True, required=False, default="")
    ci_class = serializers.CharField(
        max_length=255,
        allow_blank=True,
        required=False,
        default="",
        help_text="The Azure resource type, e.g. microsoft.compute/virtualmachines.",
    )
    azure_resource_id = serializers.CharField(
        max_length=MAX_RESOURCE_ID_LENGTH,
        allow_null=True,
        required=False,
        default=None,
        help_text="e.g. /subscriptions/…/resourceGroups/…/providers/Microsoft.Compute/"
        "virtualMachines/vm1; compared case-insensitively, unique.",
    )

    def validate_azure_resource_id(self, value: str | None) -> str | None:
        if value is not None and not value.startswith("/"):
            raise serializers.ValidationError("An Azure resource ID starts with '/'.")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs.get("azure_resource_id"):
            missing = {
                f: ["Required when there is no azure_resource_id."]
                for f in ("name", "ci_class")
                if not attrs.get(f)
            }
            if missing:
                raise serializers.ValidationError(missing)
        return attrs
