"""Notifications sent by the jobs to real local receivers: Teams, Slack, webhook, SMTP.

The jobs run through the job engine (in memory on SQLite, in PostgreSQL otherwise), on
the worker's threads, so these tests commit (transaction=True).
"""

import hashlib
import hmac
import json
from typing import Any

import pytest

from core import jobs
from core.events import Event
from incidents.models import Incident
from incidents.services import incident_assign, incident_create, incident_resolve
from notifications.choices import AttemptOutcome
from notifications.models import NotificationAttempt, NotificationChannel
from notifications.services import (
    SEND_JOB,
    notification_channel_create,
    notification_rule_create,
    notification_send,
)
from notifications.subscriber import DISPATCH_JOB
from tests.helpers import STATIC, alert_id, fire, make_user

pytestmark = pytest.mark.django_db(transaction=True)

ALL = [Event.INCIDENT_OPENED, Event.INCIDENT_ASSIGNED, Event.INCIDENT_RESOLVED]


def drain() -> None:
    """Run every due job (and the retries they make due) in this process."""
    jobs.run_worker(wait=False, install_signal_handlers=False)


def channel_for(kind: str, target: Any, *, secret: str = "", events: Any = ALL, **rule: Any):
    channel = notification_channel_create(
        name=f"{kind}-{alert_id()[-8:]}", kind=kind, target=target, secret=secret
    )
    notification_rule_create(channel=channel, events=list(events), **rule)
    return channel


def open_incident(**kwargs: Any) -> Incident:
    values = {"impact": 1, "urgency": 1, **kwargs}
    return incident_create(actor=make_user("operator"), title="Checkout is down", **values)


def attempts(channel: NotificationChannel) -> list[tuple[int, str, int | None]]:
    return [
        (a.number, a.outcome, a.status_code)
        for a in NotificationAttempt.objects.filter(channel=channel).order_by("number")
    ]


def jobs_of(name: str, incident: Incident) -> list[jobs.JobInfo]:
    # In memory (SQLite), the engine keeps the jobs of earlier tests too.
    return [j for j in jobs.jobs_for(name) if j.kwargs.get("incident_id") == incident.pk]


def page_url(incident: Incident) -> str:
    return f"https://itsm.example.test/admin/incidents/incident/{incident.pk}/change/"


def test_notification_p1_alert_reaches_teams_slack_webhook_and_email(
    post_alert: Any, connection: Any, receiver: Any, smtp_receiver: Any
) -> None:
    teams, slack, hook = receiver(202), receiver(200), receiver(204)
    channel_for("teams", teams.url, max_priority=1)
    channel_for("slack", slack.url, max_priority=1)
    channel_for("webhook", hook.url, secret="s3cret", max_priority=1)
    channel_for("email", ["oncall@example.test", "lead@example.test"], max_priority=1)

    number = fire(post_alert, STATIC, alert_id(), severity="Sev0")
    incident = Incident.objects.get(number=number)
    assert incident.priority == 1
    drain()

    [card_message] = teams.json_bodies()
    assert card_message["type"] == "message"
    [attachment] = card_message["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert (card["type"], card["version"]) == ("AdaptiveCard", "1.4")
    assert card["body"]
    assert all("type" in block for block in card["body"])
    assert number in json.dumps(card["body"])
    assert card["actions"] == [
        {"type": "Action.OpenUrl", "title": "Open in ITSM", "url": page_url(incident)}
    ]

    [slack_message] = slack.json_bodies()
    assert number in slack_message["text"]
    assert page_url(incident) in slack_message["text"]
    assert [b["type"] for b in slack_message["blocks"]] == ["header", "section", "actions"]
    assert page_url(incident) in json.dumps(slack_message["blocks"])

    [(path, headers, body)] = hook.requests
    assert path == "/hook?sig=abc"
    expected = "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert headers["X-ITSM-Signature"] == expected
    sent = json.loads(body)
    assert (sent["event"], sent["incident"]["number"]) == ("incident_opened", number)
    assert sent["incident"]["priority"] == 1
    assert sent["url"] == page_url(incident)

    [(recipients, mail)] = smtp_receiver.messages
    assert recipients == ["oncall@example.test", "lead@example.test"]
    assert mail["From"] == "itsm@example.test"
    assert number in mail["Subject"]
    assert page_url(incident) in mail.get_payload()

    shown = NotificationAttempt.objects.filter(incident=incident)
    assert sorted(a.channel_kind for a in shown) == ["email", "slack", "teams", "webhook"]
    assert {a.outcome for a in shown} == {AttemptOutcome.SENT}


def test_notification_429_then_200_is_retried_and_sent_once(receiver: Any) -> None:
    hook = receiver((429, "0"), 200)
    channel = channel_for("webhook", hook.url)
    open_incident()
    drain()
    assert len(hook.requests) == 2
    assert attempts(channel) == [(1, "retrying", 429), (2, "sent", 200)]


def test_notification_500_three_times_is_given_up_and_shown(receiver: Any) -> None:
    hook = receiver(500)
    channel = channel_for("slack", hook.url)
    incident = open_incident()
    drain()
    assert len(hook.requests) == 3  # NOTIFICATION_MAX_ATTEMPTS
    assert attempts(channel) == [(1, "retrying", 500), (2, "retrying", 500), (3, "failed", 500)]
    last = NotificationAttempt.objects.get(channel=channel, number=3)
    assert "Given up after 3 tries" in last.error
    assert last.retry_at is None
    incident.refresh_from_db()
    assert incident.state == "new"  # the incident is not touched


def test_notification_receiver_that_never_answers_times_out_and_is_retried(
    silent_receiver: Any, post_alert: Any, connection: Any
) -> None:
    channel = channel_for("teams", silent_receiver.url)
    number = fire(post_alert, STATIC, alert_id(), severity="Sev0")
    drain()
    assert [a[1] for a in attempts(channel)] == ["retrying", "retrying", "failed"]
    assert all(
        "No answer in time" in a.error for a in NotificationAttempt.objects.filter(channel=channel)
    )
    assert Incident.objects.get(number=number).state == "new"


def test_notification_other_4xx_is_given_up_at_once(receiver: Any) -> None:
    hook = receiver(404)
    channel = channel_for("webhook", hook.url)
    open_incident()
    drain()
    assert len(hook.requests) == 1
    assert attempts(channel) == [(1, "failed", 404)]


def test_notification_send_run_again_after_success_sends_nothing(receiver: Any) -> None:
    hook = receiver(200)
    channel = channel_for("webhook", hook.url)
    incident = open_incident()
    drain()
    [sent] = NotificationAttempt.objects.filter(channel=channel)
    for number in (1, 2):  # the same try again (a lost worker), or a later one
        again = notification_send(
            message_key=sent.message_key,
            channel_id=channel.pk,
            incident_id=incident.pk,
            event=sent.event,
            number=number,
        )
        assert again is None
    assert len(hook.requests) == 1


def test_notification_assigned_and_resolved_are_sent_as_their_events(receiver: Any) -> None:
    hook = receiver(200)
    channel_for("webhook", hook.url)
    incident = open_incident()
    drain()
    operator = make_user("operator", "ops-2")
    incident_assign(incident=incident, actor=operator, assigned_to=operator, assignment_group=None)
    drain()
    incident_resolve(incident=incident, actor=operator, resolution_code="solved")
    drain()
    events = [body["event"] for body in hook.json_bodies()]
    assert events == ["incident_opened", "incident_assigned", "incident_resolved"]


def test_notification_rule_filters_priority_and_events(receiver: Any) -> None:
    p1_only, resolved_only = receiver(200), receiver(200)
    channel_for("webhook", p1_only.url, max_priority=1)
    channel_for("webhook", resolved_only.url, events=[Event.INCIDENT_RESOLVED])
    incident = open_incident(impact=3, urgency=3)  # P5
    drain()
    assert p1_only.requests == []
    assert resolved_only.requests == []
    assert jobs_of(DISPATCH_JOB, incident) == []  # the change enqueued nothing


def test_notification_rule_assignment_groups_decided_in_the_job(receiver: Any) -> None:
    from incidents.models import AssignmentGroup

    web, db = AssignmentGroup.objects.create(name="web"), AssignmentGroup.objects.create(name="db")
    for_web, for_db = receiver(200), receiver(200)
    channel_for("webhook", for_web.url, assignment_groups=[web])
    channel_for("webhook", for_db.url, assignment_groups=[db])
    open_incident(assignment_group=web)
    drain()
    assert len(for_web.requests) == 2  # opened and assigned
    assert for_db.requests == []


def test_notification_disabled_channel_gets_nothing(receiver: Any) -> None:
    hook = receiver(200)
    channel = channel_for("webhook", hook.url)
    NotificationChannel.objects.filter(pk=channel.pk).update(enabled=False)
    incident = open_incident()
    drain()
    assert hook.requests == []
    assert jobs_of(SEND_JOB, incident) == []


def test_notification_target_and_secret_are_never_logged(
    receiver: Any, caplog: pytest.LogCaptureFixture
) -> None:
    hook = receiver(500, 404)
    caplog.set_level("DEBUG")
    channel_for("webhook", hook.url, secret="very-secret-key")
    open_incident()
    drain()
    assert len(hook.requests) == 2
    assert "sig=abc" not in caplog.text
    assert hook.url.split("/hook")[0] not in caplog.text
    assert "very-secret-key" not in caplog.text


def test_notification_events_of_one_incident_wait_as_one_job(settings: Any) -> None:
    settings.NOTIFICATION_COALESCE_SECONDS = 60
    channel_for("webhook", "https://hooks.example.test/x")
    incident = open_incident()
    operator = make_user("operator", "ops-3")
    for _ in range(3):
        incident_assign(
            incident=incident, actor=operator, assigned_to=operator, assignment_group=None
        )
    waiting = jobs_of(DISPATCH_JOB, incident)
    assert sorted(j.kwargs["event"] for j in waiting) == ["incident_assigned", "incident_opened"]
    assert all(j.status == "todo" and j.run_after is not None for j in waiting)
