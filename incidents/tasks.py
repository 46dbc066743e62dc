"""Background jobs of the incidents app (registered through core.jobs)."""

from datetime import datetime

from core import jobs

from .sla import sla_check

SLA_CHECK_JOB = "incidents.sla_check"


@jobs.periodic("* * * * *", name=SLA_CHECK_JOB)
def sla_check_job(*, scheduled_at: datetime) -> None:
    """Every minute: journal the SLA warnings and breaches due (one indexed query)."""
    sla_check()
