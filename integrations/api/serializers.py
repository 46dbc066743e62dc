"""Representations of connections, alerts and deliveries, and the webhook's answers."""

from rest_framework import serializers

from incidents.models import Incident

from ..choices import DeliveryOutcome
from ..models import Alert, Connection, Delivery
from ..validators import ConnectionSpecSerializer


class WebhookAnswerSerializer(serializers.Serializer):
    """What the webhook (and a delivery replay) answers when it accepts an alert."""

    status = serializers.ChoiceField(
        choices=[
            *(c for c in DeliveryOutcome.values if c != DeliveryOutcome.REJECTED),
            "queued",  # 202: kept in the spool while the database is down
        ]
    )
    incident = serializers.CharField(
        allow_null=True, help_text="The incident number (null while queued)."
    )
    incident_state = serializers.CharField(
        required=False, help_text="The incident's state (absent while queued)."
    )
    alert_id = serializers.CharField(help_text="The alert's essentials.alertId.")

    class Meta:
        ref_name = "WebhookAnswer"


class ConnectionSerializer(serializers.ModelSerializer):
    """A connection as the API shows it (it holds no secret)."""

    webhook_url = serializers.SerializerMethodField(
        help_text="The URL to give the action group's Secure Webhook action."
    )
    last_delivery_at = serializers.DateTimeField(
        read_only=True, allow_null=True, help_text="When the last delivery arrived, if any."
    )
    audiences = serializers.ListField(child=serializers.CharField(), read_only=True)
    allowed_app_ids = serializers.ListField(child=serializers.CharField(), read_only=True)
    allowed_subscriptions = serializers.ListField(child=serializers.CharField(), read_only=True)

    class Meta:
        model = Connection
        fields = [
            "slug",
            "name",
            "tenant_id",
            "audiences",
            "allowed_app_ids",
            "required_role",
            "jwks_uri",
            "allowed_subscriptions",
            "enabled",
            "auto_resolve_after_minutes",
            "flap_threshold",
            "flap_interval_minutes",
            "webhook_url",
            "last_delivery_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_webhook_url(self, connection: Connection) -> str:
        request = self.context["request"]
        return request.build_absolute_uri(connection.webhook_path)


class ConnectionReplaceSerializer(ConnectionSpecSerializer):
    """Documentation only: a PUT body is a connection spec whose slug may be left out
    (the URL names it). Validation is `ConnectionSpecSerializer`'s, the one shared with
    `seed_connections`."""

    slug = serializers.SlugField(
        max_length=64, required=False, help_text="If given, the slug in the URL."
    )


class AlertSerializer(serializers.ModelSerializer):
    connection: serializers.SlugRelatedField[Connection] = serializers.SlugRelatedField(
        slug_field="slug", read_only=True
    )
    incident: serializers.SlugRelatedField[Incident] = serializers.SlugRelatedField(
        slug_field="number",
        read_only=True,
        allow_null=True,
        help_text="The incident number (null while a maintenance window holds the alert).",
    )
    target_ids = serializers.ListField(
        child=serializers.CharField(), read_only=True, help_text="Azure resource IDs."
    )
    configuration_items = serializers.ListField(
        child=serializers.CharField(), read_only=True, help_text="The names Azure sent."
    )
    severity = serializers.CharField(read_only=True, allow_null=True, help_text="Sev0 … Sev4.")
    portal_url = serializers.CharField(
        read_only=True, help_text="The alert in the Azure portal, or empty."
    )
    azure_resolves = serializers.BooleanField(
        read_only=True,
        help_text="Whether Azure will send Resolved for this alert (stateful alerts); "
        "activity-log alerts, budgets and log alerts v1 never resolve.",
    )

    class Meta:
        model = Alert
        fields = [
            "id",
            "alert_id",
            "connection",
            "incident",
            "alert_rule",
            "alert_rule_id",
            "severity",
            "signal_type",
            "monitoring_service",
            "monitor_condition",
            "target_ids",
            "configuration_items",
            "fired_at",
            "resolved_at",
            "portal_url",
            "azure_resolves",
            "tracking_id",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class DeliverySerializer(serializers.ModelSerializer):
    """A delivery without its body (the list)."""

    connection: serializers.SlugRelatedField[Connection] = serializers.SlugRelatedField(
        slug_field="slug", read_only=True
    )
    alert_id = serializers.CharField(
        source="reported_alert_id", read_only=True, help_text="The alertId the body named."
    )
    alert: serializers.PrimaryKeyRelatedField[Alert] = serializers.PrimaryKeyRelatedField(
        read_only=True, allow_null=True, help_text="The alert's id (null when refused)."
    )
    incident = serializers.SerializerMethodField(help_text="The alert's incident number.")
    replay_of: serializers.PrimaryKeyRelatedField[Delivery] = serializers.PrimaryKeyRelatedField(
        read_only=True, allow_null=True, help_text="The delivery this one replayed."
    )

    class Meta:
        model = Delivery
        fields = [
            "id",
            "connection",
            "received_at",
            "content_type",
            "caller_app_id",
            "caller_object_id",
            "caller_tenant_id",
            "outcome",
            "status_code",
            "error",
            "alert_id",
            "alert",
            "incident",
            "replay_of",
        ]
        read_only_fields = fields

    def get_incident(self, delivery: Delivery) -> str | None:
        # alert__incident is select_related by the selector: no query here.
        # An alert held back by a maintenance window has no incident yet.
        incident = delivery.alert.incident if delivery.alert else None
        return incident.number if incident else None


class DeliveryDetailSerializer(DeliverySerializer):
    """A delivery with its body, as text (bytes that are not UTF-8 are replaced)."""

    body = serializers.CharField(source="body_text", read_only=True)

    class Meta(DeliverySerializer.Meta):
        fields = [*DeliverySerializer.Meta.fields, "body"]
        read_only_fields = fields
