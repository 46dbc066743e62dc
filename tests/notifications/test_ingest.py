"""Notifications from the webhook: one job at most per new incident, none for grouped or
held alerts, and statements per delivery that do not grow with rules or channels."""

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core import jobs
from incidents.models import Incident
from integrations import correlation, maintenance
from integrations.models import CorrelationRule, MaintenanceWindow
from notifications.services import notification_channel_create, notification_rule_create
from notifications.subscriber import DISPATCH_JOB
from tests.helpers import STATIC, alert_id, fire, vm_id, with_essentials

ALL_EVENTS = ["incident_opened", "incident_assigned", "incident_resolved"]


@pytest.fixture(autouse=True)
def _fresh_ingest_caches() -> Any:
    correlation.rules_cache_clear()
    maintenance.windows_cache_clear()
    yield
    correlation.rules_cache_clear()
    maintenance.windows_cache_clear()


def add_channels(count: int, *, url: str = "https://hooks.example.test/x") -> None:
    start = 0
    from notifications.models import NotificationChannel

    start = NotificationChannel.objects.count()
    for n in range(start, start + count):
        channel = notification_channel_create(name=f"c{n}", kind="webhook", target=url)
        notification_rule_create(channel=channel, events=ALL_EVENTS, max_priority=5)


def dispatch_jobs_for(number: str) -> list[jobs.JobInfo]:
    pk = Incident.objects.get(number=number).pk
    return [j for j in jobs.jobs_for(DISPATCH_JOB) if j.kwargs["incident_id"] == pk]


def delivery_statements(post_alert: Any) -> int:
    fire(post_alert, STATIC, alert_id())  # the caches (connection, rules) warm
    with CaptureQueriesContext(db_connection) as ctx:
        fire(post_alert, STATIC, alert_id())
    return len(ctx.captured_queries)


@pytest.mark.django_db
def test_webhook_statements_do_not_grow_with_notification_rules(
    post_alert: Any, connection: Any
) -> None:
    add_channels(1)
    with_one = delivery_statements(post_alert)
    add_channels(9)
    assert delivery_statements(post_alert) == with_one


@pytest.mark.django_db
def test_webhook_without_matching_rule_adds_no_statement(post_alert: Any, connection: Any) -> None:
    without = delivery_statements(post_alert)
    channel = notification_channel_create(name="p1", kind="webhook", target="https://h.test/")
    notification_rule_create(channel=channel, events=ALL_EVENTS, max_priority=1)  # STATIC is P4+
    assert delivery_statements(post_alert) == without


@pytest.mark.django_db(transaction=True)
def test_webhook_grouped_storm_notifies_once_with_its_alert_count(
    post_alert: Any, connection: Any, receiver: Any
) -> None:
    hook = receiver(200)
    channel = notification_channel_create(name="storm", kind="slack", target=hook.url)
    notification_rule_create(channel=channel, events=ALL_EVENTS)
    CorrelationRule.objects.create(name="per rule", group_by=["alert_rule"])
    number = fire(post_alert, STATIC, alert_id())
    for n in range(3):
        payload = with_essentials(STATIC, alertId=alert_id(), alertTargetIDs=[vm_id(f"vm-{n}")])
        answer = post_alert(payload)
        assert (answer.json()["status"], answer.json()["incident"]) == ("grouped", number)
    assert len(dispatch_jobs_for(number)) == 1
    jobs.run_worker(wait=False, install_signal_handlers=False)
    [message] = hook.json_bodies()
    assert number in message["text"]
    assert {"type": "mrkdwn", "text": "*Alerts*\n4"} in message["blocks"][1]["fields"]


@pytest.mark.django_db(transaction=True)
def test_webhook_alert_held_by_a_maintenance_window_notifies_nothing(
    post_alert: Any, connection: Any
) -> None:
    channel = notification_channel_create(name="any", kind="webhook", target="https://h.test/")
    notification_rule_create(channel=channel, events=ALL_EVENTS)
    now = timezone.now()
    MaintenanceWindow.objects.create(
        name="patching", starts_at=now - timedelta(hours=2), ends_at=now + timedelta(hours=1)
    )
    before = len(jobs.jobs_for(DISPATCH_JOB))
    fired = (now - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    answer = post_alert(with_essentials(STATIC, alertId=alert_id(), firedDateTime=fired))
    assert answer.json()["status"] == "suppressed", answer.json()
    assert len(jobs.jobs_for(DISPATCH_JOB)) == before
