"""What a notification says, in each service's documented format (pure: no I/O).

- Teams: a Workflows webhook ("When a Teams webhook request is received") takes a
  message with one Adaptive Card attachment; Office 365 connectors are retired.
  https://learn.microsoft.com/en-us/connectors/teams/#microsoft-teams-webhook
  https://adaptivecards.io/explorer/ (version 1.4: what Teams renders everywhere).
- Slack: an incoming webhook takes `text` (the notification's fallback) and `blocks`.
  https://api.slack.com/messaging/webhooks, https://api.slack.com/reference/block-kit
- webhook: our own JSON (`event`, `incident` as the API shows it), signed by the caller.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

ADAPTIVE_CARD_VERSION = "1.4"
ADAPTIVE_CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
# Slack refuses a header block's text over 150 characters.
_SLACK_HEADER_MAX = 150


@dataclasses.dataclass(frozen=True)
class Message:
    """One notification, independent of the channel: a headline, facts and a link."""

    event: str
    event_label: str
    headline: str  # "INC0001001 (P1): CPU above 90 % on vm-web-01"
    facts: tuple[tuple[str, str], ...]
    url: str
    # The incident as the API shows it (webhook); None for a test.
    incident: dict[str, Any] | None

    @property
    def subject(self) -> str:
        return f"[ITSM] {self.event_label}: {self.headline}"[:250]

    @property
    def text(self) -> str:
        return f"{self.event_label}: {self.headline}"


def email_body(message: Message) -> str:
    """The plain-text body of the e-mail."""
    lines = [message.text, ""]
    lines += [f"{name}: {value}" for name, value in message.facts]
    lines += ["", f"Open it: {message.url}", ""]
    return "\n".join(lines)


def teams_payload(message: Message) -> dict[str, Any]:
    """A Workflows webhook message carrying one Adaptive Card."""
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": ADAPTIVE_CARD_VERSION,
        "body": [
            {
                "type": "TextBlock",
                "text": message.event_label,
                "size": "Small",
                "isSubtle": True,
                "wrap": True,
            },
            {
                "type": "TextBlock",
                "text": message.headline,
                "size": "Medium",
                "weight": "Bolder",
                "wrap": True,
            },
            {
                "type": "FactSet",
                "facts": [{"title": name, "value": value} for name, value in message.facts],
            },
        ],
        "actions": [{"type": "Action.OpenUrl", "title": "Open in ITSM", "url": message.url}],
    }
    return {
        "type": "message",
        "attachments": [
            {"contentType": ADAPTIVE_CARD_CONTENT_TYPE, "contentUrl": None, "content": card}
        ],
    }


def _mrkdwn(text: str) -> str:
    # Slack's three control characters (https://api.slack.com/reference/surfaces/formatting).
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_payload(message: Message) -> dict[str, Any]:
    """An incoming-webhook message: `text` (fallback, notifications) and Block Kit `blocks`."""
    header = message.event_label[:_SLACK_HEADER_MAX]
    return {
        "text": f"{message.text} {message.url}",
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": header}},
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": f"*<{message.url}|{_mrkdwn(message.headline)}>*",
                },
                "fields": [
                    {"type": "mrkdwn", "text": f"*{_mrkdwn(name)}*\n{_mrkdwn(value)}"}
                    for name, value in message.facts[:10]  # Slack allows 10 fields
                ],
            },
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": "Open in ITSM"},
                        "url": message.url,
                    }
                ],
            },
        ],
    }


def webhook_body(message: Message) -> bytes:
    """The signed webhook's JSON body: the event, the incident as the API shows it, its page."""
    body = {"event": message.event, "incident": message.incident, "url": message.url}
    return json.dumps(body, separators=(",", ":"), sort_keys=True, default=str).encode()
