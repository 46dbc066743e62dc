"""Sending one notification to one channel; the answer, classified (no database access).

Plain HTTP POSTs with the standard library, as integrations.jwks fetches keys: the
payloads are the services' documented formats (notifications.messages), so a
notification library would add a dependency and hide the status codes our retry
policy needs (docs/architecture.md, "Notifications"). E-mail goes through Django's
mail framework (EMAIL_URL).
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import http.client
import json
import math
import smtplib
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Literal
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import EmailMessage

from .messages import Message, email_body, slack_payload, teams_payload, webhook_body

Verdict = Literal["sent", "retry", "failed"]
SIGNATURE_HEADER = "X-ITSM-Signature"
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


@dataclasses.dataclass(frozen=True)
class SendResult:
    """What one try gave: sent, worth retrying (429, 5xx, timeouts), or failed for good."""

    verdict: Verdict
    status_code: int | None = None
    error: str = ""
    # Seconds the receiver asked us to wait (Retry-After), if it did.
    retry_after: float | None = None


def url_problem(url: str) -> str | None:
    """Why `url` cannot be a channel's target, or None: https, or http on a loopback host."""
    try:
        parts = urlsplit(url.strip())
        host = (parts.hostname or "").lower()
        parts.port  # noqa: B018 (a bad port raises ValueError)
    except ValueError:
        return "Not a valid URL."
    if parts.scheme not in ("https", "http") or not host:
        return "Give an https:// URL."
    if parts.scheme == "http" and host not in LOOPBACK_HOSTS:
        return "Use https:// (plain http only for a loopback host such as 127.0.0.1)."
    return None


def signature(body: bytes, secret: str) -> str:
    """The X-ITSM-Signature value: `sha256=` and the hex HMAC-SHA256 of the body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def send_http(*, kind: str, url: str, secret: str, message: Message) -> SendResult:
    """POST the message to a Teams, Slack or webhook URL; classify the answer."""
    headers = {"Content-Type": "application/json", "User-Agent": "itsm-notifications/1"}
    if kind == "teams":
        body = json.dumps(teams_payload(message)).encode()
    elif kind == "slack":
        body = json.dumps(slack_payload(message)).encode()
    else:
        body = webhook_body(message)
        if secret:
            headers[SIGNATURE_HEADER] = signature(body, secret)
    return _post(url, body, headers)


def _post(url: str, body: bytes, headers: dict[str, str]) -> SendResult:
    problem = url_problem(url)
    if problem:
        return SendResult("failed", error=problem)
    parts = urlsplit(url)
    timeout = settings.NOTIFICATION_TIMEOUT_SECONDS
    conn: http.client.HTTPConnection
    if parts.scheme == "https":
        conn = http.client.HTTPSConnection(parts.hostname or "", parts.port, timeout=timeout)
    else:
        conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=timeout)
    target = parts.path or "/"
    if parts.query:
        target += f"?{parts.query}"
    try:
        conn.request("POST", target, body=body, headers=headers)
        response = conn.getresponse()
        response.read(64 * 1024)  # drained, never kept: it may echo the URL's credentials
        code = response.status
        retry_after = retry_after_seconds(response.getheader("Retry-After"))
    except TimeoutError:
        return SendResult("retry", error="No answer in time.")
    except (OSError, http.client.HTTPException) as exc:
        # Refused, reset, DNS: the receiver may be back later. The type only: the
        # message can name the host of a secret URL.
        return SendResult("retry", error=f"Connection failed ({type(exc).__name__}).")
    finally:
        conn.close()
    if 200 <= code < 300:
        return SendResult("sent", status_code=code)
    if code == 429 or code >= 500:
        return SendResult(
            "retry", status_code=code, error=f"Answered {code}.", retry_after=retry_after
        )
    return SendResult("failed", status_code=code, error=f"Answered {code}; not retried.")


def retry_after_seconds(value: str | None, *, now: datetime | None = None) -> float | None:
    """The seconds a Retry-After header asks us to wait, or None (absent, unreadable).

    RFC 9110 §10.2.3 allows delay-seconds (`120`) or an HTTP date
    (`Wed, 21 Oct 2015 07:28:00 GMT`, counted from `now`, our clock). Never negative: a
    date gone by asks for no wait, so our own backoff applies. The caller bounds both
    forms alike (notifications.services.retry_delay: at most an hour).
    """
    value = (value or "").strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:  # asctime or "-0000": no zone given; HTTP dates are GMT
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if math.isnan(seconds):
        return None
    return max(seconds, 0.0)


def send_email(*, addresses: list[str], message: Message) -> SendResult:
    """Send the message by e-mail (EMAIL_URL's server) from DEFAULT_FROM_EMAIL."""
    mail = EmailMessage(
        subject=message.subject,
        body=email_body(message),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=addresses,
    )
    try:
        mail.send(fail_silently=False)
    except smtplib.SMTPRecipientsRefused:
        return SendResult("failed", error="The server refused every recipient.")
    except smtplib.SMTPResponseException as exc:
        code = exc.smtp_code
        # SMTP: 4xx is "try again later", 5xx is permanent.
        verdict: Verdict = "retry" if 400 <= code < 500 else "failed"
        return SendResult(verdict, status_code=code, error=f"The mail server answered {code}.")
    except (smtplib.SMTPException, OSError) as exc:
        return SendResult("retry", error=f"Mail server unreachable ({type(exc).__name__}).")
    return SendResult("sent")


def parse_addresses(target: str) -> list[str]:
    """An e-mail channel's addresses (its target is a JSON list)."""
    value: Any = json.loads(target)
    return [str(a) for a in value]
