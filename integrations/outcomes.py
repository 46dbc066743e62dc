"""What processing a delivery can come to, and the HTTP status the contract gives each.

The services return or raise these; the webhook view answers with the status, and the
delivery log records the same status with each delivery, so an operator sees what the
sender was told.
"""

from enum import StrEnum


class Outcome(StrEnum):
    """What an accepted delivery did (the delivery log's outcomes, plus queued)."""

    CREATED = "created"
    RESOLVED = "resolved"
    DUPLICATE = "duplicate"
    STALE = "stale"
    # A follow-up of a Service Health or Resource Health event, journaled on its incident.
    UPDATED = "updated"
    # A Resource Health recovery (or Unknown) with no open incident: nothing opened.
    IGNORED = "ignored"
    # Joined the open incident of its group (a correlation rule).
    GROUPED = "grouped"
    # Flapping: the previous incident of the rule and target reopened instead of a new one.
    REOPENED = "reopened"
    # Held back by a maintenance window: stored, no incident (yet).
    SUPPRESSED = "suppressed"
    # Kept in the local spool while the database is unavailable; processed later.
    QUEUED = "queued"


class RefusalKind(StrEnum):
    """Why a delivery is refused."""

    NOT_ALLOWED = "not_allowed"  # the connection's policy (disabled, subscription)
    UNSUPPORTED = "unsupported"  # a content type or encoding the webhook does not take
    INVALID = "invalid"  # not the common alert schema, or cannot be stored


OUTCOME_STATUS = {
    Outcome.CREATED: 201,
    Outcome.RESOLVED: 200,
    Outcome.DUPLICATE: 200,
    Outcome.STALE: 200,
    Outcome.UPDATED: 200,
    Outcome.IGNORED: 200,
    Outcome.GROUPED: 200,
    Outcome.REOPENED: 200,
    Outcome.SUPPRESSED: 200,
    Outcome.QUEUED: 202,
}
REFUSAL_STATUS = {
    RefusalKind.NOT_ALLOWED: 403,
    RefusalKind.UNSUPPORTED: 415,
    RefusalKind.INVALID: 400,
}
