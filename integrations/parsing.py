"""Parse a common-alert-schema body into a typed alert. Pure: no database, no settings.

Tolerant of Azure's own variations (contract, "Behaviour"), strict about the fields we
act on. Every refusal is an `AlertParseError` whose message tells the sender what to fix.
"""

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cmdb.resource_ids import MAX_RESOURCE_ID_LENGTH, normalise_resource_id, subscription_of

COMMON_SCHEMA_ID = "azureMonitorCommonAlertSchema"
SEVERITIES = ("Sev0", "Sev1", "Sev2", "Sev3", "Sev4")
CONDITIONS = ("Fired", "Resolved")
MAX_TARGETS = 500
MAX_ALERT_ID_LENGTH = 1024
MAX_TEXT_LENGTH = 500

ENABLE_COMMON_SCHEMA = (
    "Turn on 'Enable the common alert schema' for this webhook in the Azure Monitor "
    "action group: only the common alert schema is accepted."
)

# Azure sends 0-7 fractional digits, with or without a trailing Z (UTC) or an offset.
_TIMESTAMP = re.compile(
    r"^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(?:\.(\d{1,7}))?(Z|[+-]\d{2}:?\d{2})?$",
    re.IGNORECASE,
)
# A \u0000 escape, not an escaped backslash followed by "u0000".
_NUL_ESCAPE = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")
_SIGNAL_TYPES = {
    "metric": "Metric",
    "log": "Log",
    "activitylog": "Activity Log",
    "resourcehealth": "Resource Health",
    "servicehealth": "Service Health",
}


class AlertParseError(Exception):
    """The body is not an alert we can act on; `message` says why, `code` names the case."""

    def __init__(self, message: str, *, code: str = "invalid_alert") -> None:
        super().__init__(message)
        self.message = message
        self.code = code


@dataclass(frozen=True, slots=True)
class ParsedAlert:
    """The parts of a common-alert-schema alert we store and act on."""

    alert_id: str
    monitor_condition: str
    alert_rule: str | None
    alert_rule_id: str | None
    severity: str | None
    signal_type: str | None
    monitoring_service: str | None
    target_ids: tuple[str, ...]  # as Azure sent them
    configuration_items: tuple[str, ...]
    origin_alert_id: str | None
    fired_at: datetime | None
    resolved_at: datetime | None
    description: str | None
    alert_context: dict[str, Any] | None
    custom_properties: dict[str, Any] | None

    @property
    def is_resolved(self) -> bool:
        return self.monitor_condition == "Resolved"

    @property
    def subscriptions(self) -> frozenset[str]:
        """Every subscription the alert names (alert ID and targets), lower case."""
        subs = {subscription_of(self.alert_id)}
        subs.update(subscription_of(t) for t in self.target_ids)
        subs.discard("")
        return frozenset(subs)

    @property
    def normalised_target_ids(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(normalise_resource_id(t) for t in self.target_ids))


def _object_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # Two values for one key: which one a reader takes is a guess; refuse instead.
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise AlertParseError(
                    f"The body repeats the key {key[:60]!r}.", code="invalid_json"
                )
            seen.add(key)
    return obj


def _reject_constant(value: str) -> None:
    raise AlertParseError(f"The body holds {value}, which is not valid JSON.", code="invalid_json")


def decode_json_body(raw: bytes) -> Any:
    """Decode a UTF-8 JSON body, refusing what strict JSON refuses (NaN, Infinity)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise AlertParseError(
            f"The body is not valid UTF-8 (byte {exc.start}).", code="invalid_json"
        ) from exc
    if text.startswith("\ufeff"):
        text = text[1:]
    if _NUL_ESCAPE.search(text):
        # PostgreSQL stores no NUL in text or jsonb, and no Azure field needs one.
        raise AlertParseError("The body holds a NUL character (\\u0000).", code="invalid_json")
    try:
        return json.loads(
            text, parse_constant=_reject_constant, object_pairs_hook=_object_without_duplicates
        )
    except RecursionError as exc:
        raise AlertParseError("The body is nested too deeply.", code="invalid_json") from exc
    except json.JSONDecodeError as exc:
        raise AlertParseError(
            f"The body is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno}).",
            code="invalid_json",
        ) from exc


def parse_timestamp(value: str) -> datetime:
    """Parse an Azure timestamp; without a zone it is UTC. Raise ValueError if unreadable."""
    m = _TIMESTAMP.match(value.strip())
    if not m:
        raise ValueError(value)
    day, time, fraction, zone = m.groups()
    fraction = (fraction or "0")[:6].ljust(6, "0")
    zone = "+00:00" if not zone or zone.upper() == "Z" else zone
    parsed = datetime.fromisoformat(f"{day}T{time}.{fraction}{zone}")
    return parsed.astimezone(UTC)


def _field(essentials: dict[str, Any], name: str) -> str:
    return f"data.essentials.{name}"


def _optional_str(
    essentials: dict[str, Any], name: str, *, max_length: int = MAX_TEXT_LENGTH
) -> str | None:
    value = essentials.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise AlertParseError(f"{_field(essentials, name)} must be a string.")
    # Informative text: an over-long value is cut, not refused (a refused alert is lost).
    return str(value)[:max_length]


def _optional_time(essentials: dict[str, Any], name: str) -> datetime | None:
    value = essentials.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise AlertParseError(f"{_field(essentials, name)} must be a date-time string.")
    try:
        return parse_timestamp(value)
    except ValueError:
        raise AlertParseError(
            f"{_field(essentials, name)} is not a date-time Azure sends: {value[:60]!r}."
        ) from None


def _string_list(essentials: dict[str, Any], name: str, *, max_items: int) -> tuple[str, ...]:
    value = essentials.get(name)
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise AlertParseError(f"{_field(essentials, name)} must be a list of strings.")
    if len(value) > max_items:
        raise AlertParseError(
            f"{_field(essentials, name)} has {len(value)} entries; "
            f"at most {max_items} are accepted."
        )
    return tuple(value)


def _check_target(target: str) -> str:
    stripped = target.strip()
    if not stripped.startswith("/") or len(stripped) < 2:
        raise AlertParseError(
            f"data.essentials.alertTargetIDs holds {target[:80]!r}, which is not an Azure "
            "resource ID (it must start with '/subscriptions/' or '/providers/')."
        )
    if len(stripped) > MAX_RESOURCE_ID_LENGTH:
        raise AlertParseError(
            "data.essentials.alertTargetIDs holds a resource ID longer than "
            f"{MAX_RESOURCE_ID_LENGTH} characters."
        )
    return stripped


def _normalise_signal_type(value: str | None) -> str | None:
    if value is None:
        return None
    return _SIGNAL_TYPES.get(value.replace(" ", "").lower(), value)


def _optional_object(value: Any, name: str) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise AlertParseError(f"{name} must be an object or null.")
    return value


def _looks_legacy(body: dict[str, Any]) -> bool:
    schema_id = body.get("schemaId")
    return not isinstance(schema_id, str) or schema_id.lower() != COMMON_SCHEMA_ID.lower()


def parse_alert(raw: bytes) -> ParsedAlert:
    """Parse and validate a webhook body; raise AlertParseError with a clear message."""
    body = decode_json_body(raw)
    if not isinstance(body, dict):
        raise AlertParseError(
            f"The body must be a JSON object, not {type(body).__name__}.", code="not_an_object"
        )
    if _looks_legacy(body):
        schema_id = body.get("schemaId")
        named = f"schemaId {schema_id!r}" if isinstance(schema_id, str) else "no schemaId"
        raise AlertParseError(
            f"This is not the common alert schema ({named}). {ENABLE_COMMON_SCHEMA}",
            code="not_common_alert_schema",
        )
    data = body.get("data")
    if not isinstance(data, dict):
        raise AlertParseError("data must be an object.", code="missing_field")
    essentials = data.get("essentials")
    if not isinstance(essentials, dict):
        raise AlertParseError("data.essentials must be an object.", code="missing_field")

    alert_id = essentials.get("alertId")
    if not isinstance(alert_id, str) or not alert_id.strip():
        raise AlertParseError(
            "data.essentials.alertId must be a non-empty string.", code="missing_field"
        )
    alert_id = alert_id.strip()
    if len(alert_id) > MAX_ALERT_ID_LENGTH:
        raise AlertParseError(
            f"data.essentials.alertId must be at most {MAX_ALERT_ID_LENGTH} printable characters."
        )
    condition = essentials.get("monitorCondition")
    if condition not in CONDITIONS:
        raise AlertParseError(
            f"data.essentials.monitorCondition must be 'Fired' or 'Resolved', not {condition!r}."[
                :200
            ],
            code="missing_field" if condition is None else "invalid_alert",
        )
    severity = essentials.get("severity")
    if severity is not None and severity not in SEVERITIES:
        raise AlertParseError(
            f"data.essentials.severity must be one of Sev0..Sev4 or null, not {severity!r}."[:200]
        )
    # Azure spells it alertRuleID in some payloads and alertRuleId in others.
    rule_id_key = "alertRuleID" if "alertRuleID" in essentials else "alertRuleId"
    targets = tuple(
        _check_target(t) for t in _string_list(essentials, "alertTargetIDs", max_items=MAX_TARGETS)
    )
    return ParsedAlert(
        alert_id=alert_id,
        monitor_condition=condition,
        alert_rule=_optional_str(essentials, "alertRule"),
        alert_rule_id=_optional_str(essentials, rule_id_key, max_length=1024),
        severity=severity,
        signal_type=_normalise_signal_type(_optional_str(essentials, "signalType")),
        monitoring_service=_optional_str(essentials, "monitoringService"),
        target_ids=targets,
        configuration_items=_string_list(essentials, "configurationItems", max_items=MAX_TARGETS),
        origin_alert_id=_optional_str(essentials, "originAlertId", max_length=1024),
        fired_at=_optional_time(essentials, "firedDateTime"),
        resolved_at=_optional_time(essentials, "resolvedDateTime"),
        description=_optional_str(essentials, "description", max_length=10_000),
        alert_context=_optional_object(data.get("alertContext"), "data.alertContext"),
        custom_properties=_optional_object(data.get("customProperties"), "data.customProperties"),
    )
