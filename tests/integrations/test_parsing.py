"""Parsing the common alert schema (pure, no database), and the summaries built from it."""

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from integrations.parsing import AlertParseError, ParsedAlert, parse_alert
from integrations.summaries import incident_description, incident_title, portal_url
from tests.helpers import (
    ALERTS_MANAGEMENT,
    AZURE,
    ESSENTIALS_ONLY,
    FIXTURES,
    STATIC,
    load_fixture,
    with_essentials,
)

COMPLETE_SAMPLES = sorted(p for p in AZURE.glob("*.json") if not p.name.startswith("legacy-")) + [
    AZURE / "third-party" / "prometheus-fired.json"
]
LEGACY_SAMPLES = sorted(AZURE.glob("legacy-*.json"))

ACTIVITY = "azure/activity-log-administrative-fired.json"


def _name(path: Path) -> str:
    return str(path.relative_to(AZURE))


def parse(payload: dict[str, Any]) -> ParsedAlert:
    return parse_alert(json.dumps(payload).encode())


def parse_error(payload: dict[str, Any] | bytes) -> AlertParseError:
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    with pytest.raises(AlertParseError) as caught:
        parse_alert(raw)
    return caught.value


def with_context(fragment: str, **essentials: Any) -> dict[str, Any]:
    """A complete payload: published essentials plus a published alertContext fragment."""
    payload = {
        "schemaId": "azureMonitorCommonAlertSchema",
        "data": {
            **load_fixture(ESSENTIALS_ONLY),
            **load_fixture(f"azure/alertcontext-fragments/{fragment}"),
        },
    }
    payload["data"]["essentials"].update(essentials)
    return payload


# --- every published sample ---------------------------------------------------------------


def test_parse_alert_samples_cover_every_monitoring_service() -> None:
    services = {
        json.loads(p.read_bytes())["data"]["essentials"]["monitoringService"]
        for p in COMPLETE_SAMPLES
    }

    assert services >= {
        "Platform",
        "Log Alerts V2",
        "Log Analytics",
        "Activity Log - Administrative",
        "Resource Health",
        "ServiceHealth",
        "SmartDetector",
        "CostAlerts",
        "Prometheus",
    }
    assert len(LEGACY_SAMPLES) >= 10


@pytest.mark.parametrize("path", COMPLETE_SAMPLES, ids=_name)
def test_parse_alert_reads_published_sample(path: Path) -> None:
    raw = path.read_bytes()
    data = json.loads(raw)["data"]
    essentials = data["essentials"]

    alert = parse_alert(raw)

    assert alert.alert_id == essentials["alertId"]
    assert alert.monitor_condition == essentials["monitorCondition"]
    assert alert.alert_rule == essentials.get("alertRule")
    assert alert.severity == essentials.get("severity")
    assert alert.monitoring_service == essentials["monitoringService"]
    assert alert.target_ids == tuple(essentials.get("alertTargetIDs") or ())
    assert alert.configuration_items == tuple(essentials.get("configurationItems") or ())
    assert alert.alert_context == data.get("alertContext")
    assert alert.custom_properties == data.get("customProperties")
    assert alert.fired_at is not None
    assert alert.fired_at.tzinfo is UTC
    assert alert.is_resolved == (essentials["monitorCondition"] == "Resolved")
    if alert.is_resolved:
        assert alert.resolved_at is not None
        assert alert.resolved_at > alert.fired_at


@pytest.mark.parametrize("path", LEGACY_SAMPLES, ids=_name)
def test_parse_alert_refuses_legacy_schema_with_hint(path: Path) -> None:
    error = parse_error(path.read_bytes())

    assert error.code == "not_common_alert_schema"
    assert "Enable the common alert schema" in error.message
    assert "action group" in error.message


def test_parse_alert_names_the_schema_it_refused() -> None:
    error = parse_error(load_fixture("azure/legacy-metric-alert-v2-static.json"))

    assert "'AzureMonitorMetricAlert'" in error.message


# --- Azure's own variations are accepted ----------------------------------------------------


@pytest.mark.parametrize(
    ("sent", "normalised"),
    [
        ("Activity Log", "Activity Log"),
        ("ActivityLog", "Activity Log"),
        ("Resource Health", "Resource Health"),
        ("ResourceHealth", "Resource Health"),
        ("Service Health", "Service Health"),
        ("Metric", "Metric"),
        ("Log", "Log"),
        (None, None),
    ],
)
def test_parse_alert_accepts_both_signal_type_spellings(
    sent: str | None, normalised: str | None
) -> None:
    assert parse(with_essentials(ACTIVITY, signalType=sent)).signal_type == normalised


@pytest.mark.parametrize("key", ["alertRuleID", "alertRuleId"])
def test_parse_alert_accepts_both_alert_rule_id_spellings(key: str) -> None:
    rule_id = load_fixture("azure/platform-metric-resolved.json")["data"]["essentials"][
        "alertRuleId"
    ]
    payload = with_essentials("azure/platform-metric-resolved.json", alertRuleId=...)
    payload["data"]["essentials"][key] = rule_id

    assert parse(payload).alert_rule_id == rule_id


def test_parse_alert_reads_absent_alert_rule_id_as_none() -> None:
    assert (
        parse(load_fixture("azure/platform-metric-resolved-no-alertruleid.json")).alert_rule_id
        is None
    )


@pytest.mark.parametrize(
    ("sent", "microsecond"),
    [
        ("2025-04-15T18:17:12Z", 0),
        ("2025-04-15T18:17:12.8Z", 800000),
        ("2025-04-15T18:17:12.85Z", 850000),
        ("2025-04-15T18:17:12.851Z", 851000),
        ("2025-04-15T18:17:12.8512Z", 851200),
        ("2025-04-15T18:17:12.85123Z", 851230),
        ("2025-04-15T18:17:12.851234Z", 851234),
        ("2025-04-15T18:17:12.8512345Z", 851234),  # Azure's 7 digits: the 7th is dropped
        ("2025-04-15T18:17:12.8512345", 851234),  # no zone: UTC
        ("2025-04-15T18:17:12", 0),
        ("2025-04-15T18:17:12.851+00:00", 851000),
        ("2025-04-15T20:17:12.851+02:00", 851000),
        ("2025-04-15t18:17:12.851z", 851000),
    ],
)
def test_parse_alert_reads_azure_timestamps_as_utc(sent: str, microsecond: int) -> None:
    alert = parse(with_essentials(STATIC, firedDateTime=sent, resolvedDateTime=sent))

    expected = datetime(2025, 4, 15, 18, 17, 12, microsecond, tzinfo=UTC)
    assert alert.fired_at == expected
    assert alert.resolved_at == expected
    assert alert.fired_at.utcoffset().total_seconds() == 0


@pytest.mark.parametrize("value", [None, ""])
def test_parse_alert_reads_missing_timestamp_as_none(value: str | None) -> None:
    assert parse(with_essentials(STATIC, firedDateTime=value)).fired_at is None


def test_parse_alert_accepts_absent_custom_properties() -> None:
    payload = load_fixture("azure/platform-metric-resolved.json")
    del payload["data"]["customProperties"]

    assert parse(payload).custom_properties is None


def test_parse_alert_accepts_null_custom_properties() -> None:
    payload = load_fixture("azure/platform-metric-resolved.json")
    payload["data"]["customProperties"] = None

    assert parse(payload).custom_properties is None


def test_parse_alert_keeps_custom_properties() -> None:
    alert = parse(load_fixture("azure/platform-metric-resolved.json"))

    assert alert.custom_properties == {"Key1": "Value1", "Key2": "Value2"}


def test_parse_alert_accepts_null_severity_and_targets() -> None:
    alert = parse(with_essentials(STATIC, severity=None, alertTargetIDs=None))

    assert alert.severity is None
    assert alert.target_ids == ()
    assert alert.normalised_target_ids == ()


def test_parse_alert_accepts_budget_nulls() -> None:
    alert = parse(load_fixture("azure/budget-costalerts-actual-fired.json"))

    assert alert.alert_rule is None
    assert alert.severity is None
    assert alert.signal_type is None
    assert alert.target_ids == ()
    assert alert.configuration_items == ("budgets",)


def test_parse_alert_accepts_numbers_sent_for_strings() -> None:
    alert = parse(with_essentials(STATIC, alertRule=42, description=1.5))

    assert alert.alert_rule == "42"
    assert alert.description == "1.5"


def test_parse_alert_accepts_byte_order_mark() -> None:
    raw = "\ufeff".encode() + (AZURE / "platform-metric-static-threshold-fired.json").read_bytes()

    assert parse_alert(raw).alert_rule == "test-metricAlertRule"


def test_parse_alert_strips_alert_id_and_targets() -> None:
    sample = load_fixture(STATIC)["data"]["essentials"]
    target = sample["alertTargetIDs"][0]

    alert = parse(
        with_essentials(STATIC, alertId=f"  {sample['alertId']} ", alertTargetIDs=[f" {target} "])
    )

    assert alert.alert_id == sample["alertId"]
    assert alert.target_ids == (target,)


def test_parse_alert_lists_each_target_once_when_normalised() -> None:
    target = load_fixture(STATIC)["data"]["essentials"]["alertTargetIDs"][0]

    alert = parse(with_essentials(STATIC, alertTargetIDs=[target, target.upper() + "/"]))

    assert alert.normalised_target_ids == (target.lower(),)


def test_parse_alert_names_every_subscription_in_lower_case() -> None:
    other = "/subscriptions/BBBB1111-0000-0000-0000-000000000000/resourceGroups/rg"
    alert = parse(load_fixture(STATIC))
    alert_two = parse(
        with_essentials(
            STATIC,
            alertTargetIDs=[*load_fixture(STATIC)["data"]["essentials"]["alertTargetIDs"], other],
        )
    )

    assert alert.subscriptions == {"aaaa0a0a-bb1b-cc2c-dd3d-eeeeee4e4e4e"}
    assert alert_two.subscriptions == {
        "aaaa0a0a-bb1b-cc2c-dd3d-eeeeee4e4e4e",
        "bbbb1111-0000-0000-0000-000000000000",
    }


# --- strict refusals ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"this is not JSON",
        b'{"schemaId": "azureMonitorCommonAlertSchema", "data": ',
        b"\xff\xfe{}",
        b'{"schemaId": "azureMonitorCommonAlertSchema", "data": {"essentials": {"x": NaN}}}',
        b'{"schemaId": "azureMonitorCommonAlertSchema", "data": {"essentials": {"x": Infinity}}}',
        b'{"schemaId": "azureMonitorCommonAlertSchema", "data": {"essentials": {"x": -Infinity}}}',
        b"[" * 100_000,
    ],
    ids=["empty", "text", "truncated", "not-utf8", "nan", "infinity", "minus-infinity", "deep"],
)
def test_parse_alert_refuses_what_is_not_json(raw: bytes) -> None:
    assert parse_error(raw).code == "invalid_json"


def test_parse_alert_says_where_invalid_utf8_is() -> None:
    assert "byte 2" in parse_error(b'{"\xff": 1}').message


@pytest.mark.parametrize("raw", [b"[]", b"[{}]", b'"text"', b"42", b"null", b"true"])
def test_parse_alert_refuses_what_is_not_an_object(raw: bytes) -> None:
    assert parse_error(raw).code == "not_an_object"


def test_parse_alert_refuses_top_level_list_of_alerts() -> None:
    error = parse_error(json.dumps([load_fixture(STATIC)]).encode())

    assert error.code == "not_an_object"
    assert "list" in error.message


def test_parse_alert_refuses_missing_schema_id_as_legacy() -> None:
    payload = load_fixture(STATIC)
    del payload["schemaId"]

    error = parse_error(payload)

    assert error.code == "not_common_alert_schema"
    assert "no schemaId" in error.message


@pytest.mark.parametrize("data", [..., None, [], "data"], ids=["absent", "null", "list", "str"])
def test_parse_alert_refuses_missing_data(data: Any) -> None:
    payload = load_fixture(STATIC)
    if data is ...:
        del payload["data"]
    else:
        payload["data"] = data

    error = parse_error(payload)

    assert error.code == "missing_field"
    assert "data" in error.message


@pytest.mark.parametrize(
    "essentials", [..., None, [], "essentials"], ids=["absent", "null", "list", "str"]
)
def test_parse_alert_refuses_missing_essentials(essentials: Any) -> None:
    payload = load_fixture(STATIC)
    if essentials is ...:
        del payload["data"]["essentials"]
    else:
        payload["data"]["essentials"] = essentials

    error = parse_error(payload)

    assert error.code == "missing_field"
    assert "data.essentials" in error.message


@pytest.mark.parametrize("alert_id", [..., None, "", "   ", 42, ["x"]])
def test_parse_alert_refuses_missing_or_empty_alert_id(alert_id: Any) -> None:
    error = parse_error(with_essentials(STATIC, alertId=alert_id))

    assert error.code == "missing_field"
    assert "data.essentials.alertId" in error.message


def test_parse_alert_refuses_overlong_alert_id() -> None:
    error = parse_error(with_essentials(STATIC, alertId="/subscriptions/x/" + "a" * 1100))

    assert "data.essentials.alertId" in error.message


@pytest.mark.parametrize(
    ("condition", "code"),
    [
        (..., "missing_field"),
        (None, "missing_field"),
        ("Active", "invalid_alert"),
        ("fired", "invalid_alert"),
        ("RESOLVED", "invalid_alert"),
        ("", "invalid_alert"),
        (1, "invalid_alert"),
    ],
)
def test_parse_alert_refuses_bad_monitor_condition(condition: Any, code: str) -> None:
    error = parse_error(with_essentials(STATIC, monitorCondition=condition))

    assert error.code == code
    assert "data.essentials.monitorCondition" in error.message
    assert "'Fired' or 'Resolved'" in error.message


@pytest.mark.parametrize("severity", ["Sev5", "high", "sev1", "", 2, ["Sev1"]])
def test_parse_alert_refuses_severity_out_of_range(severity: Any) -> None:
    error = parse_error(with_essentials(STATIC, severity=severity))

    assert error.code == "invalid_alert"
    assert "data.essentials.severity" in error.message
    assert "Sev0..Sev4" in error.message


@pytest.mark.parametrize(
    "targets",
    [
        "/subscriptions/aaaa0a0a-bb1b-cc2c-dd3d-eeeeee4e4e4e",
        [42],
        [None],
        [["/subscriptions/x"]],
        {"id": "/subscriptions/x"},
    ],
    ids=["string", "number", "null-entry", "nested-list", "object"],
)
def test_parse_alert_refuses_targets_that_are_not_a_list_of_strings(targets: Any) -> None:
    error = parse_error(with_essentials(STATIC, alertTargetIDs=targets))

    assert error.code == "invalid_alert"
    assert "data.essentials.alertTargetIDs must be a list of strings" in error.message


@pytest.mark.parametrize(
    "target",
    ["subscriptions/aaaa0a0a-bb1b-cc2c-dd3d-eeeeee4e4e4e", "test-VM", "", "   ", "/"],
)
def test_parse_alert_refuses_target_that_is_not_a_resource_id(target: str) -> None:
    error = parse_error(with_essentials(STATIC, alertTargetIDs=[target]))

    assert error.code == "invalid_alert"
    assert "not an Azure resource ID" in error.message


def test_parse_alert_refuses_too_many_targets() -> None:
    targets = [f"/subscriptions/s/resourceGroups/rg{i}" for i in range(501)]

    assert "at most 500" in parse_error(with_essentials(STATIC, alertTargetIDs=targets)).message


@pytest.mark.parametrize("items", ["test-VM", [1], [None], {"name": "test-VM"}])
def test_parse_alert_refuses_configuration_items_that_are_not_a_list(items: Any) -> None:
    error = parse_error(with_essentials(STATIC, configurationItems=items))

    assert error.code == "invalid_alert"
    assert "data.essentials.configurationItems must be a list of strings" in error.message


@pytest.mark.parametrize(
    "value",
    [
        "yesterday",
        "2025-13-01T00:00:00Z",
        "2025-02-30T10:00:00Z",
        "2025-04-15T25:00:00Z",
        "2025-04-15T18:17:12.12345678Z",
        "15/04/2025 18:17",
        1744741032,
        ["2025-04-15T18:17:12Z"],
    ],
)
def test_parse_alert_refuses_unparseable_date(value: Any) -> None:
    error = parse_error(with_essentials(STATIC, firedDateTime=value))

    assert error.code == "invalid_alert"
    assert "data.essentials.firedDateTime" in error.message


def test_parse_alert_refuses_unparseable_resolved_date() -> None:
    error = parse_error(with_essentials(STATIC, resolvedDateTime="soon"))

    assert "data.essentials.resolvedDateTime" in error.message


@pytest.mark.parametrize("field", ["alertRule", "description", "monitoringService", "signalType"])
def test_parse_alert_refuses_text_field_of_wrong_type(field: str) -> None:
    error = parse_error(with_essentials(STATIC, **{field: {"text": "x"}}))

    assert error.code == "invalid_alert"
    assert f"data.essentials.{field} must be a string" in error.message


def test_parse_alert_refuses_nul_character() -> None:
    assert "NUL" in parse_error(with_essentials(STATIC, alertRule="rule\x00")).message


@pytest.mark.parametrize("part", ["alertContext", "customProperties"])
def test_parse_alert_refuses_context_that_is_not_an_object(part: str) -> None:
    payload = load_fixture(STATIC)
    payload["data"][part] = ["not", "an", "object"]

    assert f"data.{part} must be an object or null" in parse_error(payload).message


# --- only what the database can store -------------------------------------------------------
# PostgreSQL refuses lone surrogates in text, indexes rows of at most ~2700 bytes, and
# stores years 1..9999 (Python's datetime); every value is bounded or refused here.


def _with_text_in_context(raw_value: str) -> bytes:
    """The static sample with a metric name spelt as raw JSON (escapes kept as sent)."""
    raw = (FIXTURES / STATIC).read_text()
    assert '"Transactions"' in raw
    return raw.replace('"Transactions"', raw_value).encode()


@pytest.mark.parametrize(
    ("raw_value", "where"),
    [
        ('"\\ud800"', "data.alertContext.condition.allOf[0].metricName"),
        ('"cpu \\udfff"', "data.alertContext.condition.allOf[0].metricName"),
        ('"\\udc00\\ud800"', "data.alertContext.condition.allOf[0].metricName"),
        ('{"\\ud83d": 1}', "data.alertContext.condition.allOf[0].metricName"),
    ],
    ids=["lead", "trail", "reversed-pair", "in-a-key"],
)
def test_parse_alert_refuses_lone_surrogate_naming_where(raw_value: str, where: str) -> None:
    error = parse_error(_with_text_in_context(raw_value))

    assert error.code == "invalid_json"
    assert "lone UTF-16 surrogate" in error.message
    assert where in error.message


def test_parse_alert_keeps_surrogate_message_short_whatever_the_keys() -> None:
    error = parse_error(_with_text_in_context('{"' + "k" * 5000 + '": "\\ud800"}'))

    assert error.message.startswith("data.alertContext.condition.allOf[0].metricName.kkk")
    assert len(error.message) < 400


def test_parse_alert_refuses_lone_surrogate_in_essentials() -> None:
    error = parse_error(with_essentials(STATIC, alertRule="rule \ud800"))

    assert "data.essentials.alertRule" in error.message


def test_parse_alert_accepts_escaped_surrogate_pair_and_escaped_backslash() -> None:
    alert = parse_alert(_with_text_in_context('"cpu \\ud83d\\ude00 \\\\ud800"'))

    assert "cpu \U0001f600 \\ud800" in incident_description(alert)


@pytest.mark.parametrize(
    "number",
    ["9" * 5000, "-" + "9" * 5000, "1" * 101, "1e999", "-1e999", "0." + "0" * 200 + "1"],
    ids=["5000-digits", "negative", "101-digits", "float-overflow", "negative-overflow", "long"],
)
def test_parse_alert_refuses_number_it_cannot_hold(number: str) -> None:
    error = parse_error(_with_text_in_context(number))

    assert error.code == "invalid_json"
    assert "number" in error.message
    assert len(error.message) < 300


@pytest.mark.parametrize("number", ["9" * 100, "1.5e308", "-0.000001", "12345678901234567890"])
def test_parse_alert_accepts_numbers_within_range(number: str) -> None:
    assert parse_alert(_with_text_in_context(number)).alert_context


@pytest.mark.parametrize(
    "value",
    [
        "0001-01-01T00:00:00+14:00",
        "0001-01-01T13:59:59.9999999+14:00",
        "9999-12-31T23:59:59-14:00",
        "9999-12-31T10:00:00-14:00",
        "9999-12-31 23:59:59-0001",
    ],
)
def test_parse_alert_refuses_date_outside_the_calendar_in_utc(value: str) -> None:
    error = parse_error(with_essentials(STATIC, firedDateTime=value))

    assert error.code == "invalid_alert"
    assert "data.essentials.firedDateTime" in error.message
    assert "years 1 to 9999" in error.message


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0001-01-01T00:00:00Z", datetime(1, 1, 1, tzinfo=UTC)),
        ("0001-01-01T14:00:00+14:00", datetime(1, 1, 1, tzinfo=UTC)),
        ("9999-12-31T23:59:59.9999999Z", datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)),
        ("9999-12-31T09:59:59-14:00", datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)),
    ],
)
def test_parse_alert_accepts_dates_at_the_edges_of_the_calendar(
    value: str, expected: datetime
) -> None:
    assert parse(with_essentials(STATIC, resolvedDateTime=value)).resolved_at == expected


def test_parse_alert_bounds_alert_id_in_bytes() -> None:
    fits = "/" + "a" * 1023
    four_byte = "/" + "\U0001f600" * 256  # 1,025 bytes, 257 characters

    assert parse(with_essentials(STATIC, alertId=fits)).alert_id == fits
    error = parse_error(with_essentials(STATIC, alertId=four_byte))
    assert error.code == "invalid_alert"
    assert "data.essentials.alertId" in error.message
    assert "1024 bytes" in error.message


def test_parse_alert_refuses_alert_id_whose_portal_link_is_too_long() -> None:
    # 700 bytes, but every "/" takes three characters in the link.
    alert_id = ALERTS_MANAGEMENT + "/" * (700 - len(ALERTS_MANAGEMENT))

    error = parse_error(with_essentials(STATIC, alertId=alert_id))

    assert "data.essentials.alertId" in error.message
    assert "portal link" in error.message
    assert "2000" in error.message


def test_parse_alert_accepts_alert_id_whose_portal_link_just_fits() -> None:
    prefix_length = len(portal_url(parse(with_essentials(STATIC, alertId=ALERTS_MANAGEMENT))))
    room = 2000 - prefix_length
    alert_id = ALERTS_MANAGEMENT + "/" * (room // 3) + "a" * (room % 3)

    assert len(portal_url(parse(with_essentials(STATIC, alertId=alert_id)))) == 2000


@pytest.mark.parametrize(
    "target",
    [
        "/subscriptions/s/" + "\U0001f600" * 300,  # 1,217 bytes
        "/subscriptions/s/" + "\u0130" * 400,  # 817 bytes as sent, 1,217 in lower case
        "/subscriptions/s/" + "a" * 1100,
    ],
    ids=["four-byte", "grows-in-lower-case", "ascii"],
)
def test_parse_alert_bounds_resource_id_in_bytes_once_normalised(target: str) -> None:
    error = parse_error(with_essentials(STATIC, alertTargetIDs=[target]))

    assert error.code == "invalid_alert"
    assert "data.essentials.alertTargetIDs" in error.message
    assert "1024 bytes" in error.message


def test_parse_alert_refuses_configuration_item_name_longer_than_a_ci_name() -> None:
    error = parse_error(with_essentials(STATIC, configurationItems=["vm1", "v" * 256]))

    assert error.code == "invalid_alert"
    assert "data.essentials.configurationItems" in error.message
    assert "255 characters" in error.message


def test_parse_alert_cuts_informative_text_to_its_column() -> None:
    alert = parse(
        with_essentials(
            STATIC,
            alertRule="r" * 600,
            alertRuleID="i" * 1100,
            signalType="s" * 80,
            monitoringService="m" * 150,
        )
    )

    assert (alert.alert_rule, alert.alert_rule_id) == ("r" * 500, "i" * 1024)
    assert (alert.signal_type, alert.monitoring_service) == ("s" * 50, "m" * 100)


def test_parse_alert_limits_fit_the_columns_and_their_indexes() -> None:
    from cmdb.models import ConfigurationItem
    from integrations import parsing
    from integrations.models import Alert, Delivery

    def max_length(model: Any, name: str) -> int:
        return model._meta.get_field(name).max_length

    assert max_length(Alert, "alert_id") >= parsing.MAX_ALERT_ID_BYTES
    assert max_length(Delivery, "reported_alert_id") >= parsing.MAX_ALERT_ID_BYTES
    assert max_length(ConfigurationItem, "azure_resource_id") >= parsing.MAX_RESOURCE_ID_BYTES
    assert max_length(Alert, "portal_url") >= parsing.MAX_PORTAL_URL_LENGTH
    for field, limit in parsing.TEXT_LIMITS.items():
        assert limit <= max_length(Alert, field), field
    assert max_length(ConfigurationItem, "name") >= parsing.MAX_CONFIGURATION_ITEM_NAME
    # Indexed: a btree row holds at most ~2700 bytes (four bytes per character at worst).
    assert parsing.MAX_ALERT_ID_BYTES < 2600
    assert parsing.MAX_RESOURCE_ID_BYTES < 2600
    assert parsing.TEXT_LIMITS["alert_rule"] * 4 < 2600


# --- summaries: title, description, portal link ------------------------------------------


def summary(payload: dict[str, Any]) -> tuple[str, str]:
    alert = parse(payload)
    return incident_title(alert), incident_description(alert)


def test_incident_title_names_metric_value_threshold_and_resource() -> None:
    title, description = summary(load_fixture(STATIC))

    assert title == "Transactions 100 > 0 on test-storageAccount"
    assert description.startswith("Alertruledescription\n\nAlert rule: test-metricAlertRule\n")
    assert "Severity: Sev4" in description
    assert "Fired at: 2025-04-15 18:17 UTC" in description  # the console's one format
    assert (
        "Resource: test-storageAccount (microsoft.storage/storageaccounts) "
        "/subscriptions/aaaa0a0a-bb1b-cc2c-dd3d-eeeeee4e4e4e/resourcegroups/test-RG/providers/"
        "microsoft.storage/storageaccounts/test-storageAccount"
    ) in description
    assert "Transactions (Total) GreaterThan 0: value 100 over PT5M" in description
    assert "Dimensions: ApiName=GetBlob" in description
    assert description.endswith(
        "Alert ID: /subscriptions/aaaa0a0a-bb1b-cc2c-dd3d-eeeeee4e4e4e/providers/"
        "Microsoft.AlertsManagement/alerts/eeeeeeee-4444-5555-6666-ffffffffffff"
    )


def test_incident_description_reads_threshold_sent_as_string() -> None:
    _, description = summary(load_fixture("azure/platform-metric-dynamic-threshold-fired.json"))

    assert "Transactions (Average) GreaterThan 0.3: value 78.09 over PT15M" in description


def test_incident_description_reads_dynamic_threshold_fragment() -> None:
    _, description = summary(with_context("platform-metric-dynamic.json"))

    # Azure sends the threshold it computed, as a string.
    assert "Egress (Total) GreaterThan 47658: value 50101 over PT5M" in description


def test_incident_description_names_availability_test() -> None:
    _, description = summary(load_fixture("azure/platform-availability-test-fired.json"))

    assert "Availability test: test-availabilityTest-test-applicationInsights" in description


def test_incident_description_shows_log_alert_v2_query() -> None:
    title, description = summary(load_fixture("azure/log-alerts-v2-fired.json"))

    assert title == "test-logAlertRule-v2: Count 3 > 0 on test-logAnalyticsWorkspace"
    assert "Monitoring service: Log Alerts V2" in description
    assert "Query Heartbeat — Count GreaterThan 0, value 3.0 over PT1H" in description
    assert "Dimensions: Computer=test-computer" in description
    assert "Configuration items: test-computer" in description
    assert "Search results: https://portal.azure.com#@" in description


def test_incident_description_shows_log_analytics_v1_result() -> None:
    title, description = summary(
        load_fixture("azure/log-analytics-v1-number-of-results-fired.json")
    )

    assert title == "test-logAlertRule-v1-numResults: results 1 > 0 on test-logAnalyticsWorkspace"
    assert "Query: Heartbeat" in description
    assert "Number of results: 1 results (Greater Than 0)" in description


def test_incident_description_shows_application_insights_v1_result() -> None:
    payload = with_context(
        "application-insights-v1.json",
        monitoringService="Application Insights",
        signalType="Log",
        alertRule="failed requests",
    )

    _, description = summary(payload)

    assert 'Query: requests | where resultCode == "500"' in description
    assert "2 results (Less Than 10000.0)" in description


def test_incident_description_shows_simple_log_alert() -> None:
    _, description = summary(
        with_context("simple-log-alert.json", monitoringService="Simple Log Alert")
    )

    assert "Query " in description


def test_incident_description_names_activity_log_operation_and_caller() -> None:
    title, description = summary(load_fixture(ACTIVITY))

    assert title == "Microsoft.Compute/virtualMachines/restart Succeeded on test-VM"
    assert "Monitoring service: Activity Log - Administrative" in description
    assert "Signal type: Activity Log" in description
    assert "Operation: Microsoft.Compute/virtualMachines/restart/action (Succeeded)" in description
    assert "Caller: user@contoso.com" in description
    assert "Azure portal:" not in description  # an activity log alert ID is not a portal alert


def test_incident_description_reads_service_health_event() -> None:
    title, description = summary(load_fixture("azure/service-health-fired.json"))

    assert title == "AzureServiceName, Global: TestActionGroup-TestServiceHealthAlert"
    assert "Event: TestActionGroup-TestServiceHealthAlert" in description
    assert "Tracking ID: TEST-TTT" in description
    assert "Region: Global" in description
    assert "(microsoft.resources/subscriptions)" in description


def test_incident_description_strips_html_from_service_health_communication() -> None:
    _, description = summary(load_fixture("azure/service-health-fired-2021-variant.json"))
    communication = next(
        line for line in description.splitlines() if line.startswith("Communication:")
    )

    assert "Summary of impact" in communication
    assert "<" not in communication
    assert "&nbsp;" not in communication


def test_incident_description_reads_service_health_numeric_enums() -> None:
    _, description = summary(
        with_context("service-health-numeric-enums.json", monitoringService="ServiceHealth")
    )

    assert "Alert ID:" in description


def test_incident_description_reads_resource_health_change() -> None:
    title, description = summary(load_fixture("azure/resource-health-fired.json"))

    assert title == "test-VM Unavailable (user initiated)"
    assert "Health: Unavailable" in description
    assert "Previous health: Available" in description
    assert "Cause: UserInitiated" in description


def test_incident_description_reads_smart_detector_finding() -> None:
    title, description = summary(load_fixture("azure/smart-detector-fired.json"))

    assert (
        title == "Dependency Performance Degradation Detector: 0.45 sec on test-applicationInsights"
    )
    assert "Detector: Dependency Performance Degradation Detector" in description
    assert "Detected value: 0.45 sec" in description
    assert "Normal value: 0.27 sec (over the last 7 days)" in description


def test_incident_description_reads_prometheus_expression_and_labels() -> None:
    title, description = summary(load_fixture("azure/third-party/prometheus-fired.json"))

    assert title == "Average node CPU utilization is greater than 80%: 12.7m on aks0001"
    assert "Expression: ( (1 - rate(node_cpu_seconds_total" in description
    assert "Value: 12.7m" in description
    assert "cluster=aks0001" in description


def test_incident_description_reads_prometheus_fragment_annotations() -> None:
    _, description = summary(with_context("prometheus.json", monitoringService="Prometheus"))

    assert "Expression: sql_up > 0" in description
    assert "Annotations: summary=alert on SQL availability" in description


@pytest.mark.parametrize(
    "name",
    [
        "azure/budget-costalerts-actual-fired.json",
        "azure/budget-costalerts-forecasted-fired.json",
        "azure/budget-costalerts-test-delivery-confirmation.json",
    ],
)
def test_incident_title_of_budget_names_budget_and_spend(name: str) -> None:
    essentials = load_fixture(name)["data"]["essentials"]

    title, description = summary(load_fixture(name))

    assert essentials["alertRule"] is None
    assert title.startswith("Budget Test_")
    assert title.endswith(" of 50.00 USD")
    assert "Alert rule:" not in description
    assert "Monitoring service: CostAlerts" in description
    assert "Configuration items: budgets" in description
    assert "Budget amount: $50.00" in description


def test_incident_title_of_budget_without_figures_falls_back_to_service_and_description() -> None:
    payload = load_fixture("azure/budget-costalerts-actual-fired.json")
    payload["data"]["alertContext"] = None
    essentials = payload["data"]["essentials"]

    assert summary(payload)[0] == f"CostAlerts – {essentials['description']}"[:255]


def test_incident_title_without_rule_or_description_names_service() -> None:
    payload = with_essentials("azure/budget-costalerts-actual-fired.json", description=None)
    payload["data"]["alertContext"] = None

    assert summary(payload)[0] == "CostAlerts"
    payload["data"]["essentials"]["monitoringService"] = None
    assert summary(payload)[0] == "Azure Monitor alert"


def test_incident_title_counts_further_targets() -> None:
    target = load_fixture(STATIC)["data"]["essentials"]["alertTargetIDs"][0]
    others = [f"{target}-{i}" for i in range(3)]

    title, description = summary(with_essentials(STATIC, alertTargetIDs=[target, *others]))

    assert title == "Transactions 100 > 0 on test-storageAccount (+3)"
    assert description.count("Resource: ") == 4


def test_incident_title_does_not_repeat_resource_named_in_rule() -> None:
    title, _ = summary(load_fixture("azure/platform-availability-test-fired.json"))

    assert title == (
        "Availability test test-availabilityTest-test-applicationInsights "
        "failing in 5 locations (> 2)"
    )


def test_incident_title_fits_in_one_line_of_255_characters() -> None:
    payload = with_essentials(STATIC, alertRule="CPU\nhigh\r\n  " + "x" * 480)
    payload["data"]["alertContext"] = None  # the rule's own name: the fallback title

    title, _ = summary(payload)

    assert len(title) <= 255
    assert "\n" not in title
    assert title.startswith("CPU high x")
    assert title.endswith("…")


def test_incident_description_survives_odd_alert_context() -> None:
    payload = copy.deepcopy(load_fixture(STATIC))
    payload["data"]["alertContext"] = {"condition": "not an object", "conditionType": 3}

    title, description = summary(payload)

    assert title == "test-metricAlertRule on test-storageAccount"
    assert "Alert ID:" in description


def test_portal_url_links_alerts_management_alert() -> None:
    alert = parse(load_fixture("azure/platform-metric-resolved.json"))

    url = portal_url(alert)

    assert url == (
        "https://portal.azure.com/#blade/Microsoft_Azure_Monitoring/AlertDetailsTemplateBlade/"
        "alertId/%2Fsubscriptions%2F%3Csubscription%20ID%3E%2Fproviders%2F"
        "Microsoft.AlertsManagement%2Falerts%2Faaaa0a0a-bb1b-cc2c-dd3d-eeeeee4e4e4e"
    )
    assert url.endswith(quote(alert.alert_id, safe=""))
    assert f"Azure portal: {url}" in incident_description(alert)


@pytest.mark.parametrize(
    "name",
    [ACTIVITY, "azure/budget-costalerts-actual-fired.json"],
)
def test_portal_url_is_empty_for_alerts_the_portal_blade_does_not_know(name: str) -> None:
    assert portal_url(parse(load_fixture(name))) == ""
