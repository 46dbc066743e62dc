from rest_framework import serializers

from ..models import ConfigurationItem


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
