"""Choices of the notifications app."""

from django.db import models


class ChannelKind(models.TextChoices):
    EMAIL = "email", "E-mail"
    TEAMS = "teams", "Microsoft Teams (Workflows webhook)"
    SLACK = "slack", "Slack (incoming webhook)"
    WEBHOOK = "webhook", "Webhook (signed JSON)"


class AttemptOutcome(models.TextChoices):
    SENT = "sent", "Sent"
    # A 429, a 5xx, a timeout or a refused connection: tried again later.
    RETRYING = "retrying", "Failed, will retry"
    # Another 4xx, a bad address, or the last retry failed: not tried again.
    FAILED = "failed", "Failed, given up"
    # The channel was disabled or deleted before its turn.
    SKIPPED = "skipped", "Skipped"


# The event a test send carries (not a domain event: no incident).
TEST_EVENT = "test"
