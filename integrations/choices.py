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
    REJECTED = "rejected", "Refused"
