"""Background jobs of the notifications app (registered through core.jobs)."""

from core import jobs

from .services import SEND_JOB, notification_dispatch, notification_send
from .subscriber import DISPATCH_JOB


@jobs.job(DISPATCH_JOB, attempts=5)
def dispatch(*, incident_id: int, event: str, message_key: str) -> None:
    """Enqueue the sends of one event of one incident (the rules decide which channels)."""
    notification_dispatch(incident_id=incident_id, event=event, message_key=message_key)


# The retries of a refused or unanswered send are the service's own (each try a new job
# with its own delay); these attempts only cover a crash around the send (database away).
@jobs.job(SEND_JOB, attempts=3)
def send(
    *, message_key: str, channel_id: int, incident_id: int | None, event: str, number: int
) -> None:
    """Try once to send one notification to one channel."""
    notification_send(
        message_key=message_key,
        channel_id=channel_id,
        incident_id=incident_id,
        event=event,
        number=number,
    )
