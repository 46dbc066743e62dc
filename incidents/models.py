"""Incidents: the work items operators resolve, with their journal."""

from functools import reduce
from operator import or_
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models.functions import Cast, Concat, LPad

from core.models import TimeStampedModel

from .choices import (
    OPEN_STATES,
    Impact,
    IncidentState,
    JournalKind,
    Priority,
    ResolutionCode,
    Severity,
    SlaStage,
    Urgency,
)
from .priority import PRIORITY_MATRIX, priority_for

if TYPE_CHECKING:
    from cmdb.models import ConfigurationItem

# INC0001001 is the first incident: the number is derived from the primary key by the
# database itself, so it is unique and needs no counter under concurrent creation.
NUMBER_OFFSET = 1000
NUMBER_PREFIX = "INC"


def incident_pk_from_number(number: str) -> int | None:
    """Return the primary key an incident number stands for, or None if it is not one."""
    number = number.strip().upper()
    if not number.startswith(NUMBER_PREFIX) or not number[3:].isdigit():
        return None
    pk = int(number[3:]) - NUMBER_OFFSET
    return pk if pk > 0 else None


class AssignmentGroup(TimeStampedModel):
    """A team incidents are assigned to (e.g. "Cloud operations")."""

    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True, default="")
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="assignment_groups"
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class IncidentQuerySet(models.QuerySet):
    def open(self) -> "IncidentQuerySet":
        return self.filter(state__in=OPEN_STATES)


class Incident(TimeStampedModel):
    """Something is broken or at risk; opened by Azure Monitor or by a person."""

    number = models.GeneratedField(
        expression=Concat(
            models.Value(NUMBER_PREFIX),
            LPad(
                Cast(models.F("id") + NUMBER_OFFSET, models.CharField(max_length=20)),
                7,
                models.Value("0"),
            ),
        ),
        output_field=models.CharField(max_length=20),
        db_persist=True,
        unique=True,
    )
    title = models.CharField(max_length=255)
    description = models.TextField(blank=True, default="")
    state = models.CharField(max_length=16, choices=IncidentState, default=IncidentState.NEW)
    impact = models.PositiveSmallIntegerField(choices=Impact, default=Impact.MEDIUM)
    urgency = models.PositiveSmallIntegerField(choices=Urgency, default=Urgency.MEDIUM)
    # Derived from impact and urgency in save(); the check constraint keeps it honest.
    priority = models.PositiveSmallIntegerField(choices=Priority, editable=False)
    # Null: Azure sent no severity (budgets).
    severity = models.CharField(  # noqa: DJ001
        max_length=4, choices=Severity, null=True, blank=True
    )
    assignment_group = models.ForeignKey(
        AssignmentGroup, null=True, blank=True, on_delete=models.PROTECT, related_name="incidents"
    )
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="assigned_incidents",
    )
    opened_at = models.DateTimeField(db_index=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    resolution_code = models.CharField(
        max_length=32, choices=ResolutionCode, blank=True, default=""
    )
    resolution_notes = models.TextField(blank=True, default="")
    configuration_items: "models.ManyToManyField[ConfigurationItem, IncidentConfigurationItem]"
    configuration_items = models.ManyToManyField(
        "cmdb.ConfigurationItem",
        through="IncidentConfigurationItem",
        related_name="incidents",
        blank=True,
    )
    # What correlates the messages of one Azure event (a Service Health trackingId, a
    # resource's health), with its connection (integrations.lifecycles); "" for others.
    event_key = models.CharField(max_length=1100, blank=True, default="", db_default="")
    # The open group a correlation rule gathers alerts into (integrations.correlation:
    # connection, rule and the grouped values); "" once the group stops taking alerts.
    group_key = models.CharField(max_length=1100, blank=True, default="", db_default="")
    # How many Azure alerts the incident holds (grouped, merged, followed-up), kept by the
    # services that move alerts so the lists never count rows.
    alert_count = models.PositiveIntegerField(default=0, db_default=0)
    # When its newest alert fired: a group takes a new alert only within its window.
    last_alert_at = models.DateTimeField(null=True, blank=True)
    # A person chose impact or urgency: grouped alerts no longer raise the priority.
    priority_set_by_person = models.BooleanField(default=False, db_default=False)
    # Its alert rule keeps firing and resolving on the same target (integrations.flapping);
    # cleared by a job once the connection's flap interval passes without a new firing.
    is_flapping = models.BooleanField(default=False, db_default=False)
    # SLA clocks (incidents.sla): the targets in force (from the priority, null for
    # incidents older than the clocks), the deadlines (moved on by time spent on hold),
    # when the response clock stopped, since when it is paused, and how far each got.
    sla_respond_minutes = models.PositiveIntegerField(null=True, blank=True)
    sla_resolve_minutes = models.PositiveIntegerField(null=True, blank=True)
    sla_respond_by = models.DateTimeField(null=True, blank=True)
    sla_resolve_by = models.DateTimeField(null=True, blank=True)
    sla_responded_at = models.DateTimeField(null=True, blank=True)
    sla_paused_at = models.DateTimeField(null=True, blank=True)
    sla_paused_seconds = models.PositiveIntegerField(default=0, db_default=0)
    sla_respond_stage = models.CharField(
        max_length=8, choices=SlaStage, default=SlaStage.OK, db_default=SlaStage.OK
    )
    sla_resolve_stage = models.CharField(
        max_length=8, choices=SlaStage, default=SlaStage.OK, db_default=SlaStage.OK
    )
    # When the SLA job must next look at it (a warning or a breach falls due); null
    # while nothing can fall due (paused, stopped, breached).
    sla_due_at = models.DateTimeField(null=True, blank=True)

    objects = IncidentQuerySet.as_manager()

    class Meta:
        ordering = ["-opened_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(state__in=IncidentState.values),
                name="%(app_label)s_%(class)s_state_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(severity__isnull=True) | models.Q(severity__in=Severity.values),
                name="%(app_label)s_%(class)s_severity_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(resolution_code="")
                | models.Q(resolution_code__in=ResolutionCode.values),
                name="%(app_label)s_%(class)s_resolution_code_valid",
            ),
            # Priority is the matrix's answer for impact x urgency, nothing else.
            models.CheckConstraint(
                condition=reduce(
                    or_,
                    (
                        models.Q(impact=i, urgency=u, priority=p)
                        for (i, u), p in PRIORITY_MATRIX.items()
                    ),
                ),
                name="%(app_label)s_%(class)s_priority_matrix",
            ),
            # A resolved or closed incident says when it was resolved.
            models.CheckConstraint(
                condition=~models.Q(state__in=[IncidentState.RESOLVED, IncidentState.CLOSED])
                | models.Q(resolved_at__isnull=False),
                name="%(app_label)s_%(class)s_resolved_has_time",
            ),
            # One open incident per Azure event: concurrent messages of it cannot open two.
            models.UniqueConstraint(
                fields=["event_key"],
                condition=models.Q(state__in=OPEN_STATES) & ~models.Q(event_key=""),
                name="%(app_label)s_%(class)s_one_open_per_event",
            ),
            # One open incident per correlation group: concurrent alerts of a storm
            # cannot open two (the loser's transaction retries and joins).
            models.CheckConstraint(
                condition=models.Q(sla_respond_stage__in=SlaStage.values)
                & models.Q(sla_resolve_stage__in=SlaStage.values),
                name="%(app_label)s_%(class)s_sla_stage_valid",
            ),
            models.UniqueConstraint(
                fields=["group_key"],
                condition=models.Q(state__in=OPEN_STATES) & ~models.Q(group_key=""),
                name="%(app_label)s_%(class)s_one_open_per_group",
            ),
        ]
        indexes = [
            models.Index(fields=["state", "priority"], name="incidents_state_priority"),
            # The console's order (most urgent, then oldest): a page of all incidents, and
            # (partial) of the open ones, comes from an index, whatever the history.
            models.Index(fields=["priority", "opened_at"], name="incidents_priority_opened"),
            models.Index(
                fields=["priority", "opened_at"],
                condition=models.Q(state__in=OPEN_STATES),
                name="incidents_open_priority",
            ),
            # The open incident waiting longest (the dashboard): by opened_at alone, the
            # open ones are the newest, read after every older one (1.7 s at a million).
            models.Index(
                fields=["opened_at", "id"],
                condition=models.Q(state__in=OPEN_STATES),
                name="incidents_open_opened",
            ),
            # "Resolved in the last 24 hours" (the console's filter and the dashboard).
            models.Index(
                fields=["resolved_at"],
                condition=models.Q(resolved_at__isnull=False),
                name="incidents_resolved_at",
            ),
            # Finds an event's latest incident in any state (a resolved one takes its RCA).
            models.Index(
                fields=["event_key", "-id"],
                condition=~models.Q(event_key=""),
                name="incidents_event_key",
            ),
            # The SLA job's one query: the clocks that fall due (incidents.sla).
            models.Index(
                fields=["sla_due_at"],
                condition=models.Q(sla_due_at__isnull=False),
                name="incidents_sla_due",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.number or 'INC (new)'} {self.title}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.priority = priority_for(self.impact, self.urgency)
        super().save(*args, **kwargs)

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES


class IncidentConfigurationItem(models.Model):
    """Links an incident to a configuration item it concerns."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE)
    configuration_item = models.ForeignKey("cmdb.ConfigurationItem", on_delete=models.PROTECT)
    linked_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["incident", "configuration_item"],
                name="%(app_label)s_%(class)s_unique_link",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.incident_id} -> {self.configuration_item_id}"


class JournalEntry(models.Model):
    """One line of an incident's history: who or what changed what, and when."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="journal")
    created_at = models.DateTimeField(db_index=True)
    kind = models.CharField(max_length=16, choices=JournalKind)
    # The person who acted, if a person did; `actor_name` also names system actors.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    actor_name = models.CharField(max_length=150)
    message = models.TextField(blank=True, default="")
    from_state = models.CharField(max_length=16, choices=IncidentState, blank=True, default="")
    to_state = models.CharField(max_length=16, choices=IncidentState, blank=True, default="")

    class Meta:
        verbose_name_plural = "journal entries"
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(kind__in=JournalKind.values),
                name="%(app_label)s_%(class)s_kind_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_name}: {self.get_kind_display()}"


class SlaTarget(TimeStampedModel):
    """How long an incident of one priority may wait for a response and for its resolution."""

    priority = models.PositiveSmallIntegerField(choices=Priority, unique=True)
    respond_minutes = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    resolve_minutes = models.PositiveIntegerField(validators=[MinValueValidator(1)])

    class Meta:
        verbose_name = "SLA target"
        ordering = ["priority"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(priority__in=Priority.values),
                name="%(app_label)s_%(class)s_priority_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(respond_minutes__gte=1, resolve_minutes__gte=1),
                name="%(app_label)s_%(class)s_minutes_positive",
            ),
        ]

    def __str__(self) -> str:
        return (
            f"P{self.priority}: respond {self.respond_minutes} min, "
            f"resolve {self.resolve_minutes} min"
        )
