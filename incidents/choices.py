"""Vocabularies of the incident domain."""

from django.db import models


class IncidentState(models.TextChoices):
    NEW = "new", "New"
    IN_PROGRESS = "in_progress", "In progress"
    ON_HOLD = "on_hold", "On hold"
    RESOLVED = "resolved", "Resolved"
    CLOSED = "closed", "Closed"
    CANCELED = "canceled", "Canceled"


OPEN_STATES = (IncidentState.NEW, IncidentState.IN_PROGRESS, IncidentState.ON_HOLD)


class Impact(models.IntegerChoices):
    HIGH = 1, "1 - High"
    MEDIUM = 2, "2 - Medium"
    LOW = 3, "3 - Low"


class Urgency(models.IntegerChoices):
    HIGH = 1, "1 - High"
    MEDIUM = 2, "2 - Medium"
    LOW = 3, "3 - Low"


class Priority(models.IntegerChoices):
    CRITICAL = 1, "1 - Critical"
    HIGH = 2, "2 - High"
    MODERATE = 3, "3 - Moderate"
    LOW = 4, "4 - Low"
    PLANNING = 5, "5 - Planning"


class Severity(models.TextChoices):
    # Azure Monitor's own values, stored as Azure spells them (the API filters on them).
    SEV0 = "Sev0", "Sev0 - Critical"
    SEV1 = "Sev1", "Sev1 - Error"
    SEV2 = "Sev2", "Sev2 - Warning"
    SEV3 = "Sev3", "Sev3 - Informational"
    SEV4 = "Sev4", "Sev4 - Verbose"


class ResolutionCode(models.TextChoices):
    SOLVED = "solved", "Solved"
    WORKAROUND = "workaround", "Workaround"
    NOT_REPRODUCIBLE = "not_reproducible", "Not reproducible"
    DUPLICATE = "duplicate", "Duplicate"
    RESOLVED_BY_SOURCE = "resolved_by_source", "Resolved by source (Azure Monitor)"


class JournalKind(models.TextChoices):
    OPENED = "opened", "Opened"
    STATE_CHANGED = "state_changed", "State changed"
    ASSIGNED = "assigned", "Assignment changed"
    WORK_NOTE = "work_note", "Work note"
    UPDATED = "updated", "Fields changed"
    SOURCE_UPDATE = "source_update", "Update from the source"
    GROUPED = "grouped", "Alert grouped"
    MERGED = "merged", "Merged"
    SPLIT = "split", "Split"
    FLAPPING = "flapping", "Flapping"
    MAINTENANCE = "maintenance", "Maintenance window"
    SLA = "sla", "SLA"


class SlaStage(models.TextChoices):
    """How far an SLA clock got: each stage is journaled once (incidents.sla)."""

    OK = "ok", "Within target"
    WARNED = "warned", "Warned (75 %)"
    BREACHED = "breached", "Breached"
