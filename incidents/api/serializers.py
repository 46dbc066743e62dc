"""Incident representations for the REST API (contract: REST API, read side)."""

from django.contrib.auth import get_user_model
from rest_framework import serializers

from ..choices import ResolutionCode
from ..models import AssignmentGroup, Incident, JournalEntry


class LinkedConfigurationItemSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    azure_resource_id = serializers.CharField(allow_null=True)
    ci_class = serializers.CharField()


class IncidentAlertSerializer(serializers.Serializer):
    alert_id = serializers.CharField()
    alert_rule = serializers.CharField()
    monitoring_service = serializers.CharField()
    signal_type = serializers.CharField()
    monitor_condition = serializers.CharField()
    fired_at = serializers.DateTimeField(allow_null=True)
    resolved_at = serializers.DateTimeField(allow_null=True)
    configuration_items = serializers.ListField(child=serializers.CharField())


class IncidentSerializer(serializers.ModelSerializer):
    assignment_group = serializers.SlugRelatedField(slug_field="name", read_only=True)
    assigned_to = serializers.SlugRelatedField(slug_field="username", read_only=True)
    connection = serializers.SerializerMethodField()
    configuration_items = LinkedConfigurationItemSerializer(many=True, read_only=True)
    alerts = IncidentAlertSerializer(many=True, read_only=True)

    class Meta:
        model = Incident
        fields = [
            "number",
            "title",
            "description",
            "state",
            "impact",
            "urgency",
            "priority",
            "severity",
            "opened_at",
            "resolved_at",
            "closed_at",
            "assignment_group",
            "assigned_to",
            "resolution_code",
            "resolution_notes",
            "connection",
            "configuration_items",
            "alerts",
        ]
        read_only_fields = fields

    def get_connection(self, incident: Incident) -> str | None:
        # Alerts and their connections are prefetched by the selector: no query here.
        alerts = list(incident.alerts.all())
        return alerts[0].connection.slug if alerts else None


class IncidentAssignSerializer(serializers.Serializer):
    """Either field may be left out to keep its current value; null clears it."""

    assigned_to = serializers.SlugRelatedField(
        slug_field="username",
        queryset=get_user_model().objects.filter(is_active=True),
        allow_null=True,
        required=False,
    )
    assignment_group = serializers.SlugRelatedField(
        slug_field="name", queryset=AssignmentGroup.objects.all(), allow_null=True, required=False
    )


class IncidentHoldSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=2000)


class IncidentResolveSerializer(serializers.Serializer):
    resolution_code = serializers.ChoiceField(choices=ResolutionCode.choices)
    resolution_notes = serializers.CharField(
        max_length=10_000, allow_blank=True, required=False, default=""
    )


class IncidentReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=2000, allow_blank=True, required=False, default="")


class JournalEntrySerializer(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor_name", read_only=True)

    class Meta:
        model = JournalEntry
        fields = ["id", "created_at", "kind", "actor", "message", "from_state", "to_state"]
        read_only_fields = fields


class WorkNoteCreateSerializer(serializers.Serializer):
    message = serializers.CharField(max_length=10_000)
