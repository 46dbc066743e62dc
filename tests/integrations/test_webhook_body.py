"""What the webhook does with a body it cannot use: the right status, a JSON error, no incident.

Refusals after authentication (400, 415) are kept as a rejected Delivery, body as received.
"""

import json
from typing import Any

import pytest

from cmdb.models import ConfigurationItem
from incidents.models import Incident, JournalEntry
from integrations.choices import DeliveryOutcome
from integrations.models import Alert, Connection, Delivery
from integrations.parsing import ENABLE_COMMON_SCHEMA
from tests.helpers import FIXTURES, STATIC, load_fixture, with_essentials

STATIC_BYTES = (FIXTURES / STATIC).read_bytes()
ALERTS_MANAGEMENT = "/subscriptions/s/providers/Microsoft.AlertsManagement/alerts/"


def _json(payload: Any) -> bytes:
    return json.dumps(payload).encode()


def _without_data() -> dict[str, Any]:
    payload = load_fixture(STATIC)
    del payload["data"]
    return payload


def _without_essentials() -> dict[str, Any]:
    payload = load_fixture(STATIC)
    del payload["data"]["essentials"]
    return payload


# name -> (body, code)
BAD_BODIES: dict[str, tuple[bytes, str]] = {
    "empty": (b"", "invalid_json"),
    "not-json": (b"alert: CPU high", "invalid_json"),
    "truncated-json": (STATIC_BYTES[: len(STATIC_BYTES) // 2], "invalid_json"),
    "not-utf8": (
        STATIC_BYTES.replace(b"test-metricAlertRule", b"test-\xe9\xff-rule"),
        "invalid_json",
    ),
    "nan": (STATIC_BYTES.replace(b'"Sev4"', b"NaN"), "invalid_json"),
    "list": (_json([load_fixture(STATIC)]), "not_an_object"),
    "string": (b'"alert"', "not_an_object"),
    "number": (b"42", "not_an_object"),
    "null": (b"null", "not_an_object"),
    "legacy-metric-alert": (
        (FIXTURES / "azure/legacy-metric-alert-v2-static.json").read_bytes(),
        "not_common_alert_schema",
    ),
    "legacy-log-alert": (
        (FIXTURES / "azure/legacy-log-alert-v1-number-of-results.json").read_bytes(),
        "not_common_alert_schema",
    ),
    "no-data": (_json(_without_data()), "missing_field"),
    "no-essentials": (_json(_without_essentials()), "missing_field"),
    "no-alert-id": (_json(with_essentials(STATIC, alertId=...)), "missing_field"),
    "empty-alert-id": (_json(with_essentials(STATIC, alertId="")), "missing_field"),
    "no-monitor-condition": (_json(with_essentials(STATIC, monitorCondition=...)), "missing_field"),
    "bad-monitor-condition": (
        _json(with_essentials(STATIC, monitorCondition="Acknowledged")),
        "invalid_alert",
    ),
    "bad-severity": (_json(with_essentials(STATIC, severity="Sev5")), "invalid_alert"),
    "word-severity": (_json(with_essentials(STATIC, severity="high")), "invalid_alert"),
    "targets-not-list": (
        _json(with_essentials(STATIC, alertTargetIDs="/subscriptions/x")),
        "invalid_alert",
    ),
    "target-not-resource-id": (
        _json(with_essentials(STATIC, alertTargetIDs=["test-storageAccount"])),
        "invalid_alert",
    ),
    "configuration-items-not-list": (
        _json(with_essentials(STATIC, configurationItems="vm1")),
        "invalid_alert",
    ),
    "bad-date": (_json(with_essentials(STATIC, firedDateTime="last Tuesday")), "invalid_alert"),
    # What the database could not store (PostgreSQL): refused at parse time, never a 5xx.
    "lone-surrogate": (_json(with_essentials(STATIC, alertRule="rule \ud800")), "invalid_json"),
    "lone-surrogate-in-context": (
        STATIC_BYTES.replace(b'"Transactions"', b'"\\udfff"'),
        "invalid_json",
    ),
    "5000-digit-number": (
        STATIC_BYTES.replace(b'"metricValue": 100', b'"metricValue": ' + b"9" * 5000),
        "invalid_json",
    ),
    "number-out-of-range": (
        STATIC_BYTES.replace(b'"metricValue": 100', b'"metricValue": 1e999'),
        "invalid_json",
    ),
    "date-before-year-1-in-utc": (
        _json(with_essentials(STATIC, firedDateTime="0001-01-01T00:00:00+14:00")),
        "invalid_alert",
    ),
    "date-after-year-9999-in-utc": (
        _json(with_essentials(STATIC, resolvedDateTime="9999-12-31T23:59:59-14:00")),
        "invalid_alert",
    ),
    "portal-link-too-long": (
        _json(with_essentials(STATIC, alertId=ALERTS_MANAGEMENT + "/" * 700)),
        "invalid_alert",
    ),
    "alert-id-over-1024-bytes": (
        _json(with_essentials(STATIC, alertId="/" + "\U0001f600" * 1000)),
        "invalid_alert",
    ),
    "resource-id-over-1024-bytes": (
        _json(with_essentials(STATIC, alertTargetIDs=["/subscriptions/s/" + "\U00010400" * 1000])),
        "invalid_alert",
    ),
}


def assert_no_incident_written() -> None:
    assert not Incident.objects.exists()
    assert not JournalEntry.objects.exists()
    assert not Alert.objects.exists()
    assert not ConfigurationItem.objects.exists()


def assert_refused(response: Any, status: int, code: str, body: bytes) -> Delivery:
    """Check the answer and that exactly one rejected delivery holds the body as sent."""
    assert response.status_code == status
    assert response["Content-Type"].startswith("application/json")
    answer = response.json()
    assert set(answer) == {"detail", "code"}
    assert answer["code"] == code
    assert_no_incident_written()
    delivery = Delivery.objects.get()
    assert delivery.outcome == DeliveryOutcome.REJECTED
    assert delivery.status_code == status
    assert delivery.error == answer["detail"]
    assert bytes(delivery.body) == body
    assert delivery.alert is None
    return delivery


@pytest.mark.django_db
@pytest.mark.parametrize("case", BAD_BODIES, ids=str)
def test_webhook_refuses_bad_body_with_400(
    connection: Connection, post_alert: Any, case: str
) -> None:
    body, code = BAD_BODIES[case]

    response = post_alert(body)

    assert_refused(response, 400, code, body)


@pytest.mark.django_db
def test_webhook_tells_legacy_sender_to_enable_common_schema(
    connection: Connection, post_alert: Any
) -> None:
    detail = post_alert("azure/legacy-activity-log-administrative.json").json()["detail"]

    assert ENABLE_COMMON_SCHEMA in detail
    assert "Enable the common alert schema" in detail


@pytest.mark.django_db
def test_webhook_names_the_field_that_is_wrong(connection: Connection, post_alert: Any) -> None:
    detail = post_alert(with_essentials(STATIC, severity="Sev5")).json()["detail"]

    assert "data.essentials.severity" in detail
    assert "'Sev5'" in detail


@pytest.mark.django_db
def test_webhook_keeps_reported_alert_id_of_nothing_it_could_not_parse(
    connection: Connection, post_alert: Any
) -> None:
    post_alert(b"not json")

    assert Delivery.objects.get().reported_alert_id == ""


@pytest.mark.django_db
@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "application/x-www-form-urlencoded",
        "application/xml",
        "multipart/form-data; boundary=xyz",
        "text/json",
        "",
    ],
)
def test_webhook_refuses_non_json_content_type_with_415(
    connection: Connection, post_alert: Any, content_type: str
) -> None:
    response = post_alert(STATIC_BYTES, content_type=content_type)

    delivery = assert_refused(response, 415, "unsupported_media_type", STATIC_BYTES)
    assert delivery.content_type == content_type


@pytest.mark.django_db
def test_webhook_answers_415_before_400(connection: Connection, post_alert: Any) -> None:
    response = post_alert(b"alert: CPU high", content_type="text/plain")

    assert_refused(response, 415, "unsupported_media_type", b"alert: CPU high")


@pytest.mark.django_db
def test_webhook_answers_401_before_415(connection: Connection, post_alert: Any) -> None:
    response = post_alert(b"alert: CPU high", content_type="text/plain", token="")

    assert response.status_code == 401
    assert not Delivery.objects.exists()
    assert_no_incident_written()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "application/json; charset=utf-8",
        "Application/JSON; charset=UTF-8",
        "application/json;charset=utf-8",
    ],
)
def test_webhook_accepts_json_content_types(
    connection: Connection, post_alert: Any, content_type: str
) -> None:
    response = post_alert(STATIC_BYTES, content_type=content_type)

    assert response.status_code == 201
    assert Delivery.objects.get().content_type == content_type


@pytest.mark.django_db
def test_webhook_refuses_body_over_limit_with_413(
    connection: Connection, post_alert: Any, settings: Any
) -> None:
    settings.WEBHOOK_MAX_BODY_BYTES = len(STATIC_BYTES) - 1

    response = post_alert(STATIC_BYTES)

    assert response.status_code == 413
    answer = response.json()
    assert set(answer) == {"detail", "code"}
    assert answer["code"] == "payload_too_large"
    assert str(len(STATIC_BYTES) - 1) in answer["detail"]
    assert not Delivery.objects.exists()  # refused before authentication: nothing kept
    assert_no_incident_written()


@pytest.mark.django_db
def test_webhook_accepts_body_of_exactly_the_limit(
    connection: Connection, post_alert: Any, settings: Any
) -> None:
    settings.WEBHOOK_MAX_BODY_BYTES = len(STATIC_BYTES)

    assert post_alert(STATIC_BYTES).status_code == 201


@pytest.mark.django_db
def test_webhook_refuses_default_limit_of_one_mebibyte(
    connection: Connection, post_alert: Any
) -> None:
    padded = STATIC_BYTES[:-1] + b" " * (1024 * 1024 - len(STATIC_BYTES) + 1) + b"}"

    response = post_alert(padded)

    assert len(padded) == 1024 * 1024 + 1
    assert response.status_code == 413
    assert_no_incident_written()


@pytest.mark.django_db
def test_webhook_keeps_refused_body_byte_for_byte(connection: Connection, post_alert: Any) -> None:
    body = b'\x00\xff{"schemaId": not JSON at all \r\n'

    post_alert(body)

    assert bytes(Delivery.objects.get().body) == body


@pytest.mark.django_db
def test_webhook_refuses_nul_characters_anywhere_in_the_body(
    connection: Connection, post_alert: Any
) -> None:
    payload = load_fixture(STATIC)
    payload["data"]["alertContext"]["condition"]["allOf"][0]["metricName"] = "cpu\x00"

    response = post_alert(payload)

    assert response.status_code == 400
    assert "NUL" in response.json()["detail"]
    assert not Incident.objects.exists()


@pytest.mark.django_db
def test_webhook_accepts_an_escaped_backslash_before_u0000(
    connection: Connection, post_alert: Any
) -> None:
    payload = with_essentials(STATIC, description="C:\\u0000dir")  # a backslash, then "u0000"

    assert post_alert(payload).status_code == 201
    assert "C:\\u0000dir" in Incident.objects.get().description


@pytest.mark.django_db
def test_webhook_cuts_over_long_text_instead_of_refusing_the_alert(
    connection: Connection, post_alert: Any
) -> None:
    payload = with_essentials(STATIC, alertRule="r" * 2000)

    assert post_alert(payload).status_code == 201
    assert Alert.objects.get().alert_rule == "r" * 500


@pytest.mark.django_db
def test_webhook_refuses_duplicate_keys(connection: Connection, post_alert: Any) -> None:
    body = STATIC_BYTES.replace(b'"severity": "Sev4",', b'"severity": "Sev4", "severity": "Sev0",')
    assert body != STATIC_BYTES

    response = post_alert(body)

    assert response.status_code == 400
    assert "repeats the key 'severity'" in response.json()["detail"]
    assert not Incident.objects.exists()


@pytest.mark.django_db
def test_webhook_refuses_compressed_bodies(connection: Connection, post_alert: Any) -> None:
    import gzip

    response = post_alert(gzip.compress(STATIC_BYTES), headers={"HTTP_CONTENT_ENCODING": "gzip"})

    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_content_encoding"
    assert not Incident.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "body"),
    [
        (
            "deeply nested",
            b'{"schemaId": "azureMonitorCommonAlertSchema", "data": '
            + b"[" * 100_000
            + b"]" * 100_000
            + b"}",
        ),
        (
            "huge array of targets",
            _json(
                with_essentials(
                    STATIC,
                    alertTargetIDs=[f"/subscriptions/s/resourceGroups/rg{i}" for i in range(5000)],
                )
            ),
        ),
        ("huge alert id", _json(with_essentials(STATIC, alertId="/" + "a" * 5000))),
        ("infinity", STATIC_BYTES.replace(b'"metricValue": 100', b'"metricValue": Infinity')),
    ],
)
def test_webhook_refuses_hostile_bodies_cleanly(
    connection: Connection, post_alert: Any, name: str, body: bytes
) -> None:
    response = post_alert(body)

    assert response.status_code == 400, name
    assert response.json()["code"]
    assert not Incident.objects.exists()
    assert not ConfigurationItem.objects.exists()
