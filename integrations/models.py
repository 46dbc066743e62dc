"""Connections to Azure tenants, the alerts they sent, and every delivery as received."""

from django.core.validators import MinValueValidator
from django.db import models

from core.display import datetime_display
from core.models import TimeStampedModel

from .choices import (
    AZURE_MONITOR_ACTION_GROUP_APP_ID,
    DEFAULT_REQUIRED_ROLE,
    DeliveryOutcome,
    MonitorCondition,
)
from .lifecycles import azure_resolves
from .validators import (
    validate_audiences,
    validate_guid,
    validate_guid_list,
    validate_jwks_uri,
)

MAX_ALERT_ID_LENGTH = 1024


def default_allowed_app_ids() -> list[str]:
    return [AZURE_MONITOR_ACTION_GROUP_APP_ID]


class Connection(TimeStampedModel):
    """One Azure tenant + one Entra ID app registration allowed to send alerts.

    The webhook URL is `/api/integrations/azure-monitor/<slug>/`. Tokens must be issued
    by `tenant_id` for one of `audiences`, to a caller in `allowed_app_ids`.
    """

    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    tenant_id = models.CharField("tenant ID", max_length=36, validators=[validate_guid])
    audiences = models.JSONField(
        help_text="Application ID URI (v1 tokens) and/or client ID (v2 tokens).",
        validators=[validate_audiences],
    )
    allowed_app_ids = models.JSONField(
        "allowed app IDs", default=default_allowed_app_ids, validators=[validate_guid_list]
    )
    # Null turns the role check off (contract).
    required_role = models.CharField(  # noqa: DJ001
        max_length=200, null=True, blank=True, default=DEFAULT_REQUIRED_ROLE
    )
    jwks_uri = models.URLField(  # noqa: DJ001 - null means Entra ID's default
        "JWKS URI",
        max_length=500,
        null=True,
        blank=True,
        help_text="Blank: Entra ID's key set for the tenant.",
        validators=[validate_jwks_uri],
    )
    allowed_subscriptions = models.JSONField(
        default=list, blank=True, validators=[validate_guid_list]
    )
    enabled = models.BooleanField(default=True)
    # Resolves an incident of alerts Azure never resolves after this long without a new
    # message (integrations.tasks.auto_resolve); null: never.
    auto_resolve_after_minutes = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text="Resolve incidents Azure never resolves after this many minutes without "
        "a new message. Blank: never.",
    )

    class Meta:
        ordering = ["slug"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(auto_resolve_after_minutes__isnull=True)
                | models.Q(auto_resolve_after_minutes__gte=1),
                name="%(app_label)s_%(class)s_auto_resolve_positive",
            ),
        ]

    def __str__(self) -> str:
        return self.slug

    @property
    def effective_jwks_uri(self) -> str:
        return (
            self.jwks_uri
            or f"https://login.microsoftonline.com/{self.tenant_id}/discovery/v2.0/keys"
        )

    @property
    def accepted_issuers(self) -> list[str]:
        return [
            f"https://sts.windows.net/{self.tenant_id}/",
            f"https://login.microsoftonline.com/{self.tenant_id}/v2.0",
        ]

    @property
    def webhook_path(self) -> str:
        return f"/api/integrations/azure-monitor/{self.slug}/"


class Alert(TimeStampedModel):
    """One Azure Monitor alert (`essentials.alertId`) of one connection, and its incident."""

    connection = models.ForeignKey(Connection, on_delete=models.PROTECT, related_name="alerts")
    alert_id = models.CharField("alert ID", max_length=MAX_ALERT_ID_LENGTH)
    incident = models.ForeignKey(
        "incidents.Incident", on_delete=models.PROTECT, related_name="alerts"
    )
    alert_rule = models.CharField(max_length=500, blank=True, default="")
    alert_rule_id = models.CharField("alert rule ID", max_length=1024, blank=True, default="")
    severity = models.CharField(max_length=4, null=True, blank=True)  # noqa: DJ001
    signal_type = models.CharField(max_length=50, blank=True, default="")
    monitoring_service = models.CharField(max_length=100, blank=True, default="")
    monitor_condition = models.CharField(max_length=8, choices=MonitorCondition)
    target_ids = models.JSONField("target IDs", default=list)
    # The names Azure sent in `configurationItems` (e.g. the machines a log query matched).
    configuration_items = models.JSONField(default=list)
    fired_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    portal_url = models.URLField(max_length=2000, blank=True, default="")
    # What crossed which threshold, the health state or the stage, in one line, computed
    # at ingest (`headlines.condition_line`) so the incident page reads it from the row.
    # db_default: an INSERT that does not name the column (written by hand) still works.
    condition = models.CharField(max_length=500, blank=True, default="", db_default="")
    # A Service Health alert's trackingId (searchable on the incidents); "" for others.
    tracking_id = models.CharField(
        "tracking ID", max_length=200, blank=True, default="", db_default=""
    )

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            # One row per Azure alert: repeats and concurrent deliveries collapse here.
            models.UniqueConstraint(
                fields=["connection", "alert_id"], name="%(app_label)s_%(class)s_unique_alert"
            ),
            models.CheckConstraint(
                condition=models.Q(monitor_condition__in=MonitorCondition.values),
                name="%(app_label)s_%(class)s_condition_valid",
            ),
        ]
        indexes = [
            models.Index(fields=["alert_rule"], name="integrations_alert_rule"),
        ]

    def __str__(self) -> str:
        return self.alert_rule or self.alert_id

    @property
    def azure_resolves(self) -> bool:
        """Whether Azure will send Resolved for this alert (stateful alerts only)."""
        return azure_resolves(self.monitoring_service)


class Delivery(models.Model):
    """One webhook delivery that passed authentication, stored as received.

    Who sent it is recorded from the token's claims; the token itself never is.
    """

    connection = models.ForeignKey(Connection, on_delete=models.PROTECT, related_name="deliveries")
    received_at = models.DateTimeField(db_index=True)
    # Bytes as received: a body that is not UTF-8 or holds NUL bytes is still kept.
    body = models.BinaryField()
    content_type = models.CharField(max_length=200, blank=True, default="")
    caller_app_id = models.CharField("caller app ID", max_length=64, blank=True, default="")
    caller_object_id = models.CharField("caller object ID", max_length=64, blank=True, default="")
    caller_tenant_id = models.CharField("caller tenant ID", max_length=64, blank=True, default="")
    outcome = models.CharField(max_length=16, choices=DeliveryOutcome)
    status_code = models.PositiveSmallIntegerField()
    error = models.TextField(blank=True, default="")
    # The alertId the body named, even when the delivery was refused.
    reported_alert_id = models.CharField(
        "alert ID", max_length=MAX_ALERT_ID_LENGTH, blank=True, default=""
    )
    alert = models.ForeignKey(
        Alert, null=True, blank=True, on_delete=models.SET_NULL, related_name="deliveries"
    )
    # Set when an operator ran a stored delivery through processing again.
    replay_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="replays"
    )

    class Meta:
        verbose_name_plural = "deliveries"
        ordering = ["-received_at", "-pk"]
        permissions = [("replay_delivery", "Can run a stored delivery through processing again")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(outcome__in=DeliveryOutcome.values),
                name="%(app_label)s_%(class)s_outcome_valid",
            ),
        ]
        indexes = [
            models.Index(fields=["connection", "received_at"], name="integrations_delivery_conn"),
        ]

    def __str__(self) -> str:
        return f"{datetime_display(self.received_at)} {self.connection_id} {self.outcome}"

    @property
    def body_text(self) -> str:
        return bytes(self.body).decode("utf-8", errors="replace")
