import logging
import sys
from typing import Any

import pytest

from core.logging import RequestIdFilter, SingleLineFormatter, request_id
from tests.helpers import STATIC, make_token, with_essentials


@pytest.mark.django_db
def test_request_id_is_echoed_or_made(client: Any) -> None:
    assert client.get("/healthz", HTTP_X_REQUEST_ID="abc-123")["X-Request-ID"] == "abc-123"
    made = client.get("/healthz", HTTP_X_REQUEST_ID="bad id\nwith newline")["X-Request-ID"]
    assert len(made) == 32
    assert made.isalnum()


def test_request_id_filter_marks_records() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "m", (), None)
    token = request_id.set("r-1")
    try:
        RequestIdFilter().filter(record)
    finally:
        request_id.reset(token)
    assert record.request_id == "r-1"


@pytest.mark.django_db
def test_webhook_logs_the_delivery_and_never_the_token(
    connection: Any, post_alert: Any, signing_key: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    token = make_token(signing_key)
    post_alert(STATIC, token=token)
    post_alert(STATIC, token=token + "x")
    post_alert(b"{", token=token)
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "webhook.accepted connection=contoso alert_id=/subscriptions/" in text
    assert "outcome=created" in text
    assert "webhook.unauthenticated connection=contoso" in text
    assert "webhook.refused connection=contoso alert_id=- status=400" in text
    assert token not in text
    assert token.split(".")[2] not in text


def _stdout_handler() -> logging.Handler:
    """The handler LOGGING configures (Django applied it at setup)."""
    return next(h for h in logging.getLogger().handlers if h.name == "stdout")


def _record(msg: str, *args: Any, exc_info: Any = None) -> logging.LogRecord:
    record = logging.LogRecord("itsm.test", logging.INFO, __file__, 1, msg, args, exc_info)
    record.request_id = "r-1"
    return record


def test_logging_uses_the_single_line_formatter() -> None:
    assert isinstance(_stdout_handler().formatter, SingleLineFormatter)


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("a\nb", "a\\nb"),
        ("a\r\nb", "a\\r\\nb"),
        ("a\x1b[31mb", "a\\x1b[31mb"),
        ("a\x00b\x7fc", "a\\x00b\\x7fc"),
        ("a\x85b", "a\\x85b"),
        ("a\u2028b\u2029c", "a\\u2028b\\u2029c"),
        ("a\tb ü 😀", "a\tb ü 😀"),
    ],
    ids=["lf", "crlf", "escape", "nul-del", "c1-next-line", "unicode-separators", "printable"],
)
def test_single_line_formatter_escapes_line_breaks_and_controls(value: str, shown: str) -> None:
    line = SingleLineFormatter("%(message)s").format(_record("event alert_id=%s", value))

    assert line == f"event alert_id={shown}"


def test_single_line_formatter_keeps_a_traceback_on_its_line() -> None:
    try:
        raise ValueError("bad\n2026-01-01 00:00:00,000 INFO forged")
    except ValueError:
        record = _record("event failed", exc_info=sys.exc_info())

    line = _stdout_handler().format(record)

    assert "\n" not in line
    assert "\\nTraceback (most recent call last):" in line
    assert "ValueError: bad\\n2026-01-01" in line


@pytest.mark.django_db
def test_webhook_log_line_cannot_be_forged_by_an_alert_id(
    connection: Any, post_alert: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="integrations")
    forged = "/subscriptions/s/alert-1\n2026-01-01 00:00:00,000 INFO integrations forged=yes"
    payload = with_essentials(STATIC, alertId=forged, alertRule="rule\r\nINFO forged too")

    assert post_alert(payload).status_code == 201

    handler = _stdout_handler()
    lines = [handler.format(r) for r in caplog.records if r.name.startswith("integrations")]
    accepted = [line for line in lines if "webhook.accepted" in line]
    assert len(accepted) == 1
    assert "alert_id=/subscriptions/s/alert-1\\n2026-01-01 00:00:00,000 INFO" in accepted[0]
    assert all("\n" not in line and "\r" not in line for line in lines)
