"""Connections to Azure tenants, the alerts they sent, and every delivery as received."""

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models

from core.display import datetime_display
from core.models import TimeStampedModel

from .choices import (
    AZURE_MONITOR_ACTION_GROUP_APP_ID,
    DEFAULT_REQUIRED_ROLE,
    DeliveryOutcome,
    MonitorCondition,
    ResolveOn,
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
    # Flapping (integrations.flapping): the firing of an alert rule on a target that
    # reaches `flap_threshold` firings within `flap_interval_minutes` reopens the previous
    # incident instead of opening another.
    flap_threshold = models.PositiveSmallIntegerField(
        default=3,
        validators=[MinValueValidator(2)],
        help_text="Firings of one alert rule on one target, within the flap interval, "
        "from which the previous incident is reopened instead of a new one opened.",
    )
    flap_interval_minutes = models.PositiveIntegerField(
        default=60,
        validators=[MinValueValidator(1)],
        help_text="How far back firings count toward flapping, and how long without a new "
        "firing before an incident is no longer marked flapping.",
    )

    class Meta:
        ordering = ["slug"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(auto_resolve_after_minutes__isnull=True)
                | models.Q(auto_resolve_after_minutes__gte=1),
                name="%(app_label)s_%(class)s_auto_resolve_positive",
            ),
            models.CheckConstraint(
                condition=models.Q(flap_threshold__gte=2, flap_interval_minutes__gte=1),
                name="%(app_label)s_%(class)s_flapping_valid",
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


class CorrelationRule(TimeStampedModel):
    """Groups alerts that match it into one open incident per group (contract).

    Rules are tried by `position`, the first match wins; `match` lists (empty: anything,
    compared case-insensitively) say which alerts, `group_by` what makes a group.
    """

    name = models.CharField(max_length=200, unique=True)
    position = models.PositiveIntegerField(default=100)
    enabled = models.BooleanField(default=True)
    # Null: alerts of every connection.
    connection = models.ForeignKey(
        Connection,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="correlation_rules",
    )
    # {"monitoring_services", "severities", "alert_rules", "subscriptions",
    #  "resource_groups", "resource_types"}: lists of strings.
    match = models.JSONField(default=dict, blank=True)
    group_by = models.JSONField(default=list)  # a subset of GroupBy's values
    window_minutes = models.PositiveIntegerField(default=10, validators=[MinValueValidator(1)])
    max_age_minutes = models.PositiveIntegerField(default=120, validators=[MinValueValidator(1)])
    resolve_on = models.CharField(max_length=8, choices=ResolveOn, default=ResolveOn.ALL)

    class Meta:
        ordering = ["position", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(resolve_on__in=ResolveOn.values),
                name="%(app_label)s_%(class)s_resolve_on_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(window_minutes__gte=1, max_age_minutes__gte=1),
                name="%(app_label)s_%(class)s_minutes_positive",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class MaintenanceWindow(TimeStampedModel):
    """Planned work: alerts it covers open no incident while it lasts (contract).

    `scope` lists (empty: anything) say which alerts: `subscriptions`, `resource_groups`,
    `resource_ids` (the resource or anything under it), `configuration_items` (names),
    `alert_rules`. When it ends, the alerts it held that still fire open incidents.
    """

    name = models.CharField(max_length=200)
    reason = models.TextField(blank=True, default="")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField(db_index=True)
    # Null: alerts of every connection.
    connection = models.ForeignKey(
        Connection,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="maintenance_windows",
    )
    scope = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # When the end-of-window job opened incidents for what it still held (once).
    released_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-starts_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_at__gt=models.F("starts_at")),
                name="%(app_label)s_%(class)s_ends_after_start",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Alert(TimeStampedModel):
    """One Azure Monitor alert (`essentials.alertId`) of one connection, and its incident.

    An alert held back by a maintenance window has no incident until the window ends.
    """

    connection = models.ForeignKey(Connection, on_delete=models.PROTECT, related_name="alerts")
    alert_id = models.CharField("alert ID", max_length=MAX_ALERT_ID_LENGTH)
    incident = models.ForeignKey(
        "incidents.Incident",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="alerts",
    )
    # The window that held it back (its incident, if any, opened when the window ended).
    maintenance_window = models.ForeignKey(
        MaintenanceWindow,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="alerts",
    )
    # The rule that grouped it (its incident's group is the rule's).
    correlation_rule = models.ForeignKey(
        CorrelationRule,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="alerts",
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
    # Its alert rule and first target (integrations.flapping), for alerts Azure resolves;
    # "" for the others.
    flap_key = models.CharField(max_length=64, blank=True, default="", db_default="")

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
            # Azure's alert ID alone (the API's `alert_id=` and the search): the unique
            # constraint starts with the connection.
            models.Index(fields=["alert_id"], name="integrations_alert_alert_id"),
            # The recent firings of one rule on one target (flapping), newest first.
            models.Index(
                fields=["connection", "flap_key", "-fired_at"],
                condition=~models.Q(flap_key=""),
                name="integrations_alert_flap",
            ),
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


class AssignmentRule(TimeStampedModel):
    """Sets the assignment group of incidents Azure opens, when their alert matches (contract).

    Rules are tried by `position`, the first match wins (integrations.routing); `match`
    lists as correlation rules' plus `ci_classes` (empty: anything, case-insensitive).
    """

    name = models.CharField(max_length=200, unique=True)
    position = models.PositiveIntegerField(default=100)
    enabled = models.BooleanField(default=True)
    # Null: alerts of every connection.
    connection = models.ForeignKey(
        Connection,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="assignment_rules",
    )
    # {"monitoring_services", "severities", "alert_rules", "subscriptions",
    #  "resource_groups", "resource_types", "ci_classes"}: lists of strings.
    match = models.JSONField(default=dict, blank=True)
    assignment_group = models.ForeignKey(
        "incidents.AssignmentGroup", on_delete=models.PROTECT, related_name="assignment_rules"
    )

    class Meta:
        ordering = ["position", "pk"]

    def __str__(self) -> str:
        return self.name
