"""Vocabularies of the Azure Monitor integration."""

from django.db import models

# The Azure Monitor action group application: the caller of every Secure Webhook.
AZURE_MONITOR_ACTION_GROUP_APP_ID = "461e8683-5575-4561-ac7f-899cc907d62a"
DEFAULT_REQUIRED_ROLE = "ActionGroupsSecureWebhook"
AZURE_MONITOR_ACTOR = "Azure Monitor"


class MonitorCondition(models.TextChoices):
    FIRED = "Fired", "Fired"
    RESOLVED = "Resolved", "Resolved"


class DeliveryOutcome(models.TextChoices):
    CREATED = "created", "Opened an incident"
    RESOLVED = "resolved", "Resolved the alert"
    UPDATED = "updated", "Added to its event's incident"
    IGNORED = "ignored", "A recovery with no open incident, nothing opened"
    DUPLICATE = "duplicate", "Repeat, nothing changed"
    STALE = "stale", "Late or stale, nothing changed"
    GROUPED = "grouped", "Joined an open incident by a correlation rule"
    REOPENED = "reopened", "Flapping: reopened the previous incident"
    SUPPRESSED = "suppressed", "Held back by a maintenance window"
    REJECTED = "rejected", "Refused"


class ResolveOn(models.TextChoices):
    """When a correlation rule's incident resolves, as its member alerts resolve."""

    ALL = "all", "When every member alert is resolved"
    FIRST = "first", "When the first member alert is resolved"
    NEVER = "never", "Never (a person resolves it)"


class GroupBy(models.TextChoices):
    """What a correlation rule groups alerts by (contract: Correlation rules)."""

    ALERT_RULE = "alert_rule", "Alert rule"
    MONITORING_SERVICE = "monitoring_service", "Monitoring service"
    SEVERITY = "severity", "Severity"
    SUBSCRIPTION = "subscription", "Subscription"
    RESOURCE_GROUP = "resource_group", "Resource group"
    RESOURCE_TYPE = "resource_type", "Resource type"
    TARGET = "target", "Target resource"
