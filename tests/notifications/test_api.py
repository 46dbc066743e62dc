"""The notification API: channels and rules (staff), secrets write-only, a channel's test,
an incident's notification attempts."""

import json
from typing import Any

import pytest

from incidents.models import AssignmentGroup
from incidents.services import incident_create
from notifications.models import NotificationAttempt, NotificationChannel
from notifications.services import notification_channel_create
from tests.helpers import assert_constant_queries, client_as, make_staff, make_user, results

pytestmark = pytest.mark.django_db

CHANNELS = "/api/notification-channels/"
RULES = "/api/notification-rules/"


@pytest.fixture
def staff() -> Any:
    return client_as("superuser")


def test_notification_channel_create_never_shows_target_or_secret_again(staff: Any) -> None:
    answer = staff.post(
        CHANNELS,
        {
            "name": "ops hook",
            "kind": "webhook",
            "target": "https://hooks.example.test/T0/secret-part",
            "secret": "hmac-key",
        },
        format="json",
    )
    assert answer.status_code == 201, answer.json()
    body = answer.json()
    assert body["has_secret"] is True
    assert body["kind"] == "webhook"
    for seen in (
        answer.content,
        staff.get(CHANNELS).content,
        staff.get(f"{CHANNELS}{body['id']}/").content,
    ):
        assert b"secret-part" not in seen
        assert b"hmac-key" not in seen
        assert b'"target"' not in seen
    stored = NotificationChannel.objects.get(pk=body["id"])
    assert (stored.target, stored.secret) == (
        "https://hooks.example.test/T0/secret-part",
        "hmac-key",
    )


@pytest.mark.parametrize(
    ("kind", "target", "ok"),
    [
        ("teams", "https://prod-01.westeurope.logic.azure.com/workflows/x", True),
        ("slack", "http://hooks.slack.com/services/x", False),
        ("webhook", "http://127.0.0.1:9000/x", True),
        ("webhook", "http://localhost:9000/x", True),
        ("webhook", "ftp://example.test/x", False),
        ("email", ["oncall@example.test"], True),
        ("email", ["not an address"], False),
        ("email", "https://example.test/", False),
        ("teams", ["https://example.test/"], False),
    ],
)
def test_notification_channel_target_must_fit_its_kind(
    staff: Any, kind: str, target: Any, ok: bool
) -> None:
    answer = staff.post(CHANNELS, {"name": "c", "kind": kind, "target": target}, format="json")
    assert answer.status_code == (201 if ok else 400), answer.json()


def test_notification_channel_update_replaces_target_and_keeps_kind(staff: Any) -> None:
    channel = notification_channel_create(name="c", kind="slack", target="https://a.example.test/")
    answer = staff.patch(
        f"{CHANNELS}{channel.pk}/",
        {"target": "https://b.example.test/", "enabled": False},
        format="json",
    )
    assert answer.status_code == 200, answer.json()
    channel.refresh_from_db()
    assert (channel.target, channel.enabled) == ("https://b.example.test/", False)
    refused = staff.patch(f"{CHANNELS}{channel.pk}/", {"kind": "teams"}, format="json")
    assert refused.status_code == 400


def test_notification_channels_are_for_staff_only() -> None:
    for role in ("operator", "viewer"):
        assert client_as(role).get(CHANNELS).status_code == 403
        assert client_as(role).get(RULES).status_code == 403


def test_notification_rule_create_names_channel_and_groups(staff: Any) -> None:
    notification_channel_create(name="ops", kind="email", target=["a@example.test"])
    AssignmentGroup.objects.create(name="web")
    answer = staff.post(
        RULES,
        {
            "channel": "ops",
            "events": ["incident_opened", "sla_breached"],
            "max_priority": 2,
            "assignment_groups": ["web"],
        },
        format="json",
    )
    assert answer.status_code == 201, answer.json()
    body = answer.json()
    assert (body["channel"], body["events"], body["max_priority"], body["assignment_groups"]) == (
        "ops",
        ["incident_opened", "sla_breached"],
        2,
        ["web"],
    )
    bad = staff.post(RULES, {"channel": "ops", "events": ["paged"]}, format="json")
    assert bad.status_code == 400
    changed = staff.patch(f"{RULES}{body['id']}/", {"assignment_groups": []}, format="json")
    assert changed.json()["assignment_groups"] == []


def test_notification_channel_test_sends_now_and_says_how_it_went(
    staff: Any, receiver: Any
) -> None:
    ok, broken = receiver(200), receiver(403)
    good = notification_channel_create(name="good", kind="slack", target=ok.url)
    bad = notification_channel_create(name="bad", kind="teams", target=broken.url)
    answer = staff.post(f"{CHANNELS}{good.pk}/test/")
    assert answer.status_code == 200
    assert (answer.json()["outcome"], answer.json()["status_code"]) == ("sent", 200)
    [message] = ok.json_bodies()
    assert "blocks" in message
    assert "This channel works" in message["text"]
    refused = staff.post(f"{CHANNELS}{bad.pk}/test/").json()
    assert (refused["outcome"], refused["status_code"]) == ("failed", 403)
    assert NotificationAttempt.objects.filter(event="test").count() == 2


def test_notification_channel_test_email_through_real_smtp(staff: Any, smtp_receiver: Any) -> None:
    channel = notification_channel_create(name="mail", kind="email", target=["x@example.test"])
    assert staff.post(f"{CHANNELS}{channel.pk}/test/").json()["outcome"] == "sent"
    [(recipients, mail)] = smtp_receiver.messages
    assert recipients == ["x@example.test"]
    assert "Test notification" in mail["Subject"]


def _attempt(incident: Any, channel: Any, number: int, outcome: str) -> NotificationAttempt:
    from django.utils import timezone

    return NotificationAttempt.objects.create(
        message_key=f"k{incident.pk}",
        number=number,
        incident=incident,
        channel=channel,
        channel_name=channel.name,
        channel_kind=channel.kind,
        event="incident_opened",
        outcome=outcome,
        status_code=500 if outcome != "sent" else 200,
        created_at=timezone.now(),
    )


def test_incident_notifications_lists_every_attempt_for_who_may_read_incidents() -> None:
    incident = incident_create(actor=make_user("operator"), title="t", impact=1, urgency=1)
    channel = notification_channel_create(name="c", kind="slack", target="https://a.example.test/")
    _attempt(incident, channel, 1, "retrying")
    _attempt(incident, channel, 2, "sent")
    url = f"/api/incidents/{incident.number}/notifications/"
    rows = results(client_as("viewer").get(url))
    assert [(r["attempt"], r["outcome"], r["channel"], r["kind"]) for r in rows] == [
        (2, "sent", "c", "slack"),
        (1, "retrying", "c", "slack"),
    ]
    assert "target" not in json.dumps(rows)
    assert client_as("nobody").get(url).status_code == 403
    assert client_as("viewer").get("/api/incidents/INC9999999/notifications/").status_code == 404


def test_incident_notifications_queries_do_not_grow_with_attempts() -> None:
    incident = incident_create(actor=make_user("operator"), title="t", impact=1, urgency=1)
    channel = notification_channel_create(name="c", kind="slack", target="https://a.example.test/")
    numbers = iter(range(1, 100))

    def add() -> None:
        _attempt(incident, channel, next(numbers), "retrying")

    add()  # an empty page reads less
    url = f"/api/incidents/{incident.number}/notifications/"
    assert_constant_queries(client_as("viewer"), url, add)


def test_notification_lists_queries_do_not_grow() -> None:
    client = client_as("superuser")
    names = iter(range(100))

    def add() -> None:
        from notifications.services import notification_rule_create

        channel = notification_channel_create(
            name=f"c{next(names)}", kind="slack", target="https://a.example.test/"
        )
        rule = notification_rule_create(channel=channel, events=["incident_opened"])
        rule.assignment_groups.add(AssignmentGroup.objects.create(name=f"g{channel.pk}"))

    add()  # an empty page reads less
    assert_constant_queries(client, CHANNELS, add)
    assert_constant_queries(client, RULES, add)


def test_notification_admin_pages_never_render_target_or_secret(receiver: Any) -> None:
    from django.test import Client

    channel = notification_channel_create(
        name="hook", kind="webhook", target="https://h.example.test/secret-part", secret="k3y"
    )
    admin = Client()
    admin.force_login(make_staff("boss", is_superuser=True))
    page = admin.get(f"/admin/notifications/notificationchannel/{channel.pk}/change/")
    assert page.status_code == 200
    assert b"secret-part" not in page.content
    assert b"k3y" not in page.content
    incident = incident_create(actor=make_user("operator"), title="t", impact=1, urgency=1)
    _attempt(incident, channel, 1, "failed")
    shown = admin.get(f"/admin/incidents/incident/{incident.pk}/change/")
    assert shown.status_code == 200
    assert b'id="notifications"' in shown.content
    assert b"Failed, given up" in shown.content


def test_notification_admin_adds_a_channel_and_a_rule_through_the_services() -> None:
    from django.test import Client

    admin = Client()
    admin.force_login(make_staff("boss2", is_superuser=True))
    added = admin.post(
        "/admin/notifications/notificationchannel/add/",
        {
            "name": "mail",
            "kind": "email",
            "new_target": "a@example.test, b@example.test",
            "enabled": "on",
        },
    )
    assert added.status_code == 302, added.content
    channel = NotificationChannel.objects.get(name="mail")
    assert json.loads(channel.target) == ["a@example.test", "b@example.test"]
    refused = admin.post(
        "/admin/notifications/notificationchannel/add/",
        {"name": "bad", "kind": "slack", "new_target": "http://example.test/", "enabled": "on"},
        follow=True,
    )
    assert not NotificationChannel.objects.filter(name="bad").exists()
    assert any("https" in m.message for m in refused.context["messages"])
    rule = admin.post(
        "/admin/notifications/notificationrule/add/",
        {
            "channel": channel.pk,
            "events": '["incident_opened"]',
            "max_priority": 2,
            "enabled": "on",
        },
    )
    assert rule.status_code == 302, rule.content
    assert channel.rules.get().events == ["incident_opened"]
