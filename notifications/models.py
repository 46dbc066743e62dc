"""Where notifications go (channels), when (rules), and what happened to each try (attempts)."""

from django.db import models
from django.db.models import Q

from core.events import Event
from core.models import TimeStampedModel

from .choices import AttemptOutcome, ChannelKind


class NotificationChannel(TimeStampedModel):
    """One destination: e-mail addresses, a Teams Workflows URL, a Slack webhook or a webhook.

    `target` and `secret` are secrets: the API and the console never show them again
    (the webhook URLs of Teams and Slack carry their own credentials).
    """

    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=16, choices=ChannelKind)
    # A JSON list of addresses (e-mail) or one URL (the others).
    target = models.TextField()
    secret = models.CharField(max_length=255, blank=True, default="")
    enabled = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=ChannelKind.values),
                name="%(app_label)s_%(class)s_kind_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class NotificationRule(TimeStampedModel):
    """Send `events` of incidents of priority `max_priority` or higher to `channel`.

    `assignment_groups` empty: incidents of any group (or none).
    """

    channel = models.ForeignKey(NotificationChannel, on_delete=models.CASCADE, related_name="rules")
    events = models.JSONField(default=list)
    max_priority = models.PositiveSmallIntegerField(default=5)
    assignment_groups = models.ManyToManyField(
        "incidents.AssignmentGroup", blank=True, related_name="notification_rules"
    )
    enabled = models.BooleanField(default=True)

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(max_priority__gte=1, max_priority__lte=5),
                name="%(app_label)s_%(class)s_max_priority_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{', '.join(self.events) or 'no events'} (P{self.max_priority}+) -> {self.channel}"


class NotificationAttempt(models.Model):
    """One try to send one notification to one channel, kept whatever its outcome.

    `message_key` names the notification (one event of one incident, or one test send);
    its tries are numbered. One success at most per notification and channel: a rerun
    job finds it and sends nothing.
    """

    message_key = models.CharField(max_length=64)
    number = models.PositiveSmallIntegerField()
    incident = models.ForeignKey(
        "incidents.Incident",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="notification_attempts",
    )
    # Kept when the channel is deleted: the history of the incident stays.
    channel = models.ForeignKey(
        NotificationChannel, null=True, on_delete=models.SET_NULL, related_name="attempts"
    )
    channel_name = models.CharField(max_length=100)
    channel_kind = models.CharField(max_length=16, choices=ChannelKind)
    event = models.CharField(max_length=32)
    outcome = models.CharField(max_length=16, choices=AttemptOutcome)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    # What went wrong, in words; never the target, the secret or the answer's body.
    error = models.CharField(max_length=500, blank=True, default="")
    created_at = models.DateTimeField(db_index=True)
    retry_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["incident", "-created_at"], name="notifications_attempt_incident"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(outcome__in=AttemptOutcome.values),
                name="%(app_label)s_%(class)s_outcome_valid",
            ),
            models.CheckConstraint(
                condition=Q(event__in=[*Event.values, "test"]),
                name="%(app_label)s_%(class)s_event_valid",
            ),
            # A job run twice (a lost worker) cannot record the same try twice.
            models.UniqueConstraint(
                fields=["message_key", "channel", "number"],
                name="%(app_label)s_%(class)s_one_per_try",
            ),
            # Nothing is sent twice: one success per notification and channel.
            models.UniqueConstraint(
                fields=["message_key", "channel"],
                condition=Q(outcome="sent"),
                name="%(app_label)s_%(class)s_one_success",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event} -> {self.channel_name}: {self.outcome}"
