"""What notifications say (pure), and the demo's receiver."""

import hashlib
import hmac
import json

from notifications.management.commands.notification_receiver import describe
from notifications.messages import Message, slack_payload, teams_payload, webhook_body
from notifications.transport import signature, url_problem

MESSAGE = Message(
    event="incident_opened",
    event_label="Incident opened",
    headline="INC0001001 (P1): <CPU> & more",
    facts=(("Priority", "P1"),),
    url="https://itsm.example.test/admin/incidents/incident/1/change/",
    incident={"number": "INC0001001"},
)


def test_slack_payload_escapes_its_control_characters() -> None:
    section = slack_payload(MESSAGE)["blocks"][1]["text"]["text"]
    assert "&lt;CPU&gt; &amp; more" in section


def test_url_problem_allows_https_and_loopback_http_only() -> None:
    assert url_problem("https://example.test/x") is None
    assert url_problem("http://[::1]:8025/") is None
    assert url_problem("http://example.test/x") is not None
    assert url_problem("http://127.0.0.1:notaport/") is not None


def test_signature_is_the_hex_hmac_sha256_of_the_body() -> None:
    expected = hmac.new(b"k", b"{}", hashlib.sha256).hexdigest()
    assert signature(b"{}", "k") == f"sha256={expected}"


def test_notification_receiver_describes_each_format() -> None:
    assert describe(json.dumps(teams_payload(MESSAGE)).encode()).startswith("Teams card:")
    assert describe(json.dumps(slack_payload(MESSAGE)).encode()).startswith("Slack:")
    assert describe(webhook_body(MESSAGE)).startswith("webhook: incident_opened INC0001001")
