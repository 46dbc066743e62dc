import logging
from typing import Any

import pytest

from itsm.logging import RequestIdFilter, request_id
from tests.conftest import make_token

STATIC = "azure/platform-metric-static-threshold-fired.json"


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
