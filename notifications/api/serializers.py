"""Notification channels, rules and attempts in the REST API (contract: notifications).

A channel's `target` and `secret` are write-only: answers say only whether a secret is set.
"""

from typing import Any

from rest_framework import serializers

from core.api import RefuseUnknownFields, SlugRelatedField
from core.events import Event
from incidents.models import AssignmentGroup

from ..choices import ChannelKind
from ..models import NotificationAttempt, NotificationChannel, NotificationRule


class NotificationChannelSerializer(serializers.ModelSerializer):
    has_secret = serializers.SerializerMethodField()

    class Meta:
        model = NotificationChannel
        fields = ["id", "name", "kind", "enabled", "has_secret", "created_at", "updated_at"]
        read_only_fields = fields

    def get_has_secret(self, channel: NotificationChannel) -> bool:
        return bool(channel.secret)


class _Target(serializers.JSONField):
    """A list of e-mail addresses, or one URL (the service checks which fits the kind)."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, str) or (
            isinstance(data, list) and all(isinstance(a, str) for a in data)
        ):
            if len(str(data)) > 10_000:
                raise serializers.ValidationError("Too long.")
            return data
        raise serializers.ValidationError("A list of addresses, or a URL.")


class NotificationChannelCreateSerializer(RefuseUnknownFields, serializers.Serializer):
    name = serializers.CharField(max_length=100)
    kind = serializers.ChoiceField(choices=ChannelKind.choices)
    target = _Target(
        write_only=True,
        help_text="E-mail: a list of addresses. Teams, Slack, webhook: the URL (https, or "
        "http on a loopback host). Write-only: never shown again.",
    )
    secret = serializers.CharField(
        max_length=255,
        write_only=True,
        required=False,
        default="",
        allow_blank=True,
        help_text="webhook: the HMAC-SHA256 key of X-ITSM-Signature. Write-only.",
    )
    enabled = serializers.BooleanField(required=False, default=True)


class NotificationChannelUpdateSerializer(RefuseUnknownFields, serializers.Serializer):
    name = serializers.CharField(max_length=100, required=False)
    target = _Target(write_only=True, required=False)
    secret = serializers.CharField(
        max_length=255, write_only=True, required=False, allow_blank=True
    )
    enabled = serializers.BooleanField(required=False)


class NotificationRuleSerializer(serializers.ModelSerializer):
    channel: serializers.SlugRelatedField = serializers.SlugRelatedField(
        slug_field="name", read_only=True
    )
    assignment_groups: serializers.SlugRelatedField = serializers.SlugRelatedField(
        slug_field="name", many=True, read_only=True
    )
    events = serializers.ListField(child=serializers.ChoiceField(choices=Event.choices))

    class Meta:
        model = NotificationRule
        fields = [
            "id",
            "channel",
            "events",
            "max_priority",
            "assignment_groups",
            "enabled",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class NotificationRuleWriteSerializer(RefuseUnknownFields, serializers.Serializer):
    channel = SlugRelatedField(slug_field="name", queryset=NotificationChannel.objects.all())
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=Event.choices), min_length=1, max_length=20
    )
    max_priority = serializers.IntegerField(min_value=1, max_value=5, required=False, default=5)
    assignment_groups = serializers.ListField(
        child=SlugRelatedField(slug_field="name", queryset=AssignmentGroup.objects.all()),
        required=False,
        default=list,
        max_length=100,
        help_text="Names of assignment groups; empty: incidents of any group.",
    )
    enabled = serializers.BooleanField(required=False, default=True)


class NotificationAttemptSerializer(serializers.ModelSerializer):
    channel = serializers.CharField(source="channel_name")
    kind = serializers.CharField(source="channel_kind")
    attempt = serializers.IntegerField(source="number")

    class Meta:
        model = NotificationAttempt
        fields = [
            "id",
            "event",
            "channel",
            "kind",
            "attempt",
            "outcome",
            "status_code",
            "error",
            "created_at",
            "retry_at",
        ]
        read_only_fields = fields
