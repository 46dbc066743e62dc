"""Retry-After in both of RFC 9110's forms: delay-seconds and an HTTP date.

Parsed by notifications.transport (`retry_after_seconds`), bounded by the services'
backoff (`retry_delay`), and read from a real loopback receiver's 503.
"""

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest

from core import jobs
from incidents.services import incident_create
from notifications.models import NotificationAttempt
from notifications.services import notification_channel_create, notification_rule_create
from notifications.transport import retry_after_seconds, send_http
from tests.helpers import make_user
from tests.notifications.test_messages import MESSAGE

NOW = datetime(2026, 12, 1, 21, 0, tzinfo=UTC)


def http_date(at: datetime) -> str:
    return format_datetime(at, usegmt=True)  # "Tue, 01 Dec 2026 21:02:00 GMT"


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("120", 120.0),
        (" 7 ", 7.0),
        ("-5", 0.0),  # never negative
        (http_date(NOW + timedelta(minutes=2)), 120.0),
        (http_date(NOW - timedelta(minutes=2)), 0.0),  # gone by: our own backoff applies
        ("Tuesday, 01-Dec-26 21:01:30 GMT", 90.0),  # RFC 850, obsolete but allowed
        ("Tue Dec  1 21:00:45 2026", 45.0),  # asctime: no zone, GMT
        ("Tue, 01 Dec 2026 21:00:10 -0000", 10.0),
    ],
)
def test_retry_after_seconds_reads_delay_seconds_and_http_dates(value: str, seconds: float) -> None:
    assert retry_after_seconds(value, now=NOW) == seconds


@pytest.mark.parametrize("value", [None, "", "soon", "nan", "Tue, 99 Dec 2026 21:00:00 GMT"])
def test_retry_after_seconds_ignores_what_it_cannot_read(value: str | None) -> None:
    assert retry_after_seconds(value, now=NOW) is None


def test_send_http_reads_a_503s_retry_after_date(receiver: Any) -> None:
    hook = receiver((503, http_date(datetime.now(UTC) + timedelta(minutes=10))))

    result = send_http(kind="webhook", url=hook.url, secret="", message=MESSAGE)

    assert (result.verdict, result.status_code) == ("retry", 503)
    assert result.retry_after is not None
    assert 595 <= result.retry_after <= 600  # the date has whole seconds


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("ahead", "waited"), [(timedelta(minutes=10), 600), (timedelta(days=1), 3600)]
)
def test_notification_503_with_a_retry_after_date_waits_until_then_at_most_an_hour(
    receiver: Any, ahead: timedelta, waited: int
) -> None:
    hook = receiver((503, http_date(datetime.now(UTC) + ahead)), 200)
    channel = notification_channel_create(name="hook", kind="webhook", target=hook.url)
    notification_rule_create(channel=channel, events=["incident_opened"])
    incident_create(actor=make_user("operator"), title="Checkout is down", impact=1, urgency=1)
    jobs.run_worker(wait=False, install_signal_handlers=False)

    [attempt] = NotificationAttempt.objects.filter(channel=channel)
    assert (attempt.outcome, attempt.status_code) == ("retrying", 503)
    assert attempt.retry_at is not None
    assert waited - 6 <= (attempt.retry_at - attempt.created_at).total_seconds() <= waited
    assert len(hook.requests) == 1  # the retry waits for its time
