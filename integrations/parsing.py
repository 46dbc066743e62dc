"""Parse a common-alert-schema body into a typed alert. Pure: no database, no settings.

Tolerant of Azure's own variations (contract, "Behaviour"), strict about the fields we
act on. Every refusal is an `AlertParseError` whose message tells the sender what to fix.
"""

import json
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any
from urllib.parse import quote

from cmdb.resource_ids import MAX_RESOURCE_ID_BYTES, normalise_resource_id, subscription_of

COMMON_SCHEMA_ID = "azureMonitorCommonAlertSchema"
SEVERITIES = ("Sev0", "Sev1", "Sev2", "Sev3", "Sev4")
CONDITIONS = ("Fired", "Resolved")
MAX_TARGETS = 500

# What the database can store, checked here so that no body that parses fails there
# (docs/azure-setup.md, "What a body may hold"). Identifiers are indexed, and a PostgreSQL
# btree row holds at most ~2700 bytes: they are bounded in UTF-8 bytes, not characters.
MAX_ALERT_ID_BYTES = 1024
MAX_PORTAL_URL_LENGTH = 2000  # Alert.portal_url
MAX_CONFIGURATION_ITEM_NAME = 255  # ConfigurationItem.name: a longer name matches no CI
# Informative text is cut to its column (Alert.<field>), not refused: a refused alert is lost.
TEXT_LIMITS = {
    "alert_rule": 500,
    "alert_rule_id": 1024,
    "signal_type": 50,
    "monitoring_service": 100,
}
MAX_TEXT_LENGTH = 500
MAX_DESCRIPTION_LENGTH = 10_000
MAX_NUMBER_LENGTH = 100  # characters of one JSON number; Azure's fit in a double
PORTAL_ALERT_URL = (
    "https://portal.azure.com/#blade/Microsoft_Azure_Monitoring/AlertDetailsTemplateBlade/alertId/"
)

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
# Might be a surrogate escape (or an escaped backslash before "ud8.."): worth a closer look.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
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


def _check_number_length(value: str) -> None:
    if len(value) > MAX_NUMBER_LENGTH:
        raise AlertParseError(
            f"The body holds a number of {len(value)} characters ({value[:20]}...); "
            f"numbers of at most {MAX_NUMBER_LENGTH} characters are accepted.",
            code="invalid_json",
        )


def _parse_int(value: str) -> int:
    # Python refuses to convert integers over 4,300 digits (a ValueError, not a JSON error).
    _check_number_length(value)
    return int(value)


def _parse_float(value: str) -> float:
    _check_number_length(value)
    number = float(value)
    if not math.isfinite(number):
        raise AlertParseError(
            f"The body holds the number {value}, which is out of range.", code="invalid_json"
        )
    return number


def _has_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # the only characters UTF-8 cannot encode are surrogates
        return True
    return False


def _lone_surrogate_path(body: Any) -> str | None:
    """Where the first string holding a lone UTF-16 surrogate is (a JSON path), if any.

    json.loads turns an escaped pair into one character, but keeps an unpaired `\\ud800`
    as a surrogate, which UTF-8 (and PostgreSQL text and jsonb) cannot hold.
    """
    stack: list[tuple[str, Any]] = [("", body)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str):
            if _has_surrogate(value):
                return path or "the body"
        elif isinstance(value, dict):
            for key in reversed(list(value)):
                if _has_surrogate(key):
                    return f"a key in {path or 'the body'}"
                stack.append((f"{path}.{key}" if path else key, value[key]))
        elif isinstance(value, list):
            stack.extend((f"{path}[{i}]", v) for i, v in reversed(list(enumerate(value))))
    return None


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
        body = json.loads(
            text,
            parse_constant=_reject_constant,
            parse_int=_parse_int,
            parse_float=_parse_float,
            object_pairs_hook=_object_without_duplicates,
        )
    except RecursionError as exc:
        raise AlertParseError("The body is nested too deeply.", code="invalid_json") from exc
    except json.JSONDecodeError as exc:
        raise AlertParseError(
            f"The body is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno}).",
            code="invalid_json",
        ) from exc
    if _SURROGATE_ESCAPE.search(text):
        where = _lone_surrogate_path(body)
        if where is not None:
            where = where if len(where) <= 120 else f"{where[:120]}..."
            raise AlertParseError(
                f"{where} holds a lone UTF-16 surrogate (a \\ud800-\\udfff escape that is not "
                "half of a pair), which is not a character.",
                code="invalid_json",
            )
    return body


class TimestampOutOfRange(ValueError):
    """A readable timestamp that lies outside years 1..9999 once converted to UTC."""


def parse_timestamp(value: str) -> datetime:
    """Parse an Azure timestamp; without a zone it is UTC. Raise ValueError if unreadable.

    TimestampOutOfRange (a ValueError) if it lies outside years 1 to 9999 in UTC, which
    neither Python nor the databases can hold (0001-01-01T00:00:00+14:00 is year 0).
    """
    m = _TIMESTAMP.match(value.strip())
    if not m:
        raise ValueError(value)
    day, time, fraction, zone = m.groups()
    fraction = (fraction or "0")[:6].ljust(6, "0")
    zone = "+00:00" if not zone or zone.upper() == "Z" else zone
    parsed = datetime.fromisoformat(f"{day}T{time}.{fraction}{zone}")
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        raise TimestampOutOfRange(value) from None


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


def _bytes(value: str) -> int:
    return len(value.encode("utf-8"))


def _optional_time(essentials: dict[str, Any], name: str) -> datetime | None:
    value = essentials.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise AlertParseError(f"{_field(essentials, name)} must be a date-time string.")
    try:
        return parse_timestamp(value)
    except TimestampOutOfRange:
        raise AlertParseError(
            f"{_field(essentials, name)} is {value[:60]!r}, which lies outside years 1 to 9999 "
            "once converted to UTC."
        ) from None
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
    # Stored lower case, which may be longer than sent ("İ" is one character, "i̇" two).
    if _bytes(normalise_resource_id(stripped)) > MAX_RESOURCE_ID_BYTES:
        raise AlertParseError(
            "data.essentials.alertTargetIDs holds a resource ID longer than "
            f"{MAX_RESOURCE_ID_BYTES} bytes (in UTF-8, in lower case): {stripped[:80]!r}..."
        )
    return stripped


def _check_configuration_item(name: str) -> str:
    if len(name) > MAX_CONFIGURATION_ITEM_NAME:
        raise AlertParseError(
            "data.essentials.configurationItems holds a name longer than "
            f"{MAX_CONFIGURATION_ITEM_NAME} characters: {name[:80]!r}..."
        )
    return name


# Remembered: parsing checks the link's length, then the description and the alert row each
# write it; quoting the ID byte by byte three times was ~4 % of a new alert's CPU.
@lru_cache(maxsize=256)
def alert_portal_url(alert_id: str) -> str:
    """Link to an alert in the Azure portal, for alerts the portal's alert blade knows."""
    if "/providers/microsoft.alertsmanagement/alerts/" not in alert_id.lower():
        return ""
    return PORTAL_ALERT_URL + quote(alert_id, safe="")


def _check_alert_id(alert_id: str) -> str:
    if _bytes(alert_id) > MAX_ALERT_ID_BYTES:
        raise AlertParseError(
            f"data.essentials.alertId must be at most {MAX_ALERT_ID_BYTES} bytes "
            f"(in UTF-8), not {_bytes(alert_id)}."
        )
    if len(alert_portal_url(alert_id)) > MAX_PORTAL_URL_LENGTH:
        raise AlertParseError(
            "data.essentials.alertId names an Azure Monitor alert but is too long for its "
            f"portal link, which must fit in {MAX_PORTAL_URL_LENGTH} characters "
            "(each '/' and non-ASCII byte takes three)."
        )
    return alert_id


def _cut(value: str | None, max_length: int) -> str | None:
    return None if value is None else value[:max_length]


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
    alert_id = _check_alert_id(alert_id.strip())
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
        alert_rule=_optional_str(essentials, "alertRule", max_length=TEXT_LIMITS["alert_rule"]),
        alert_rule_id=_optional_str(
            essentials, rule_id_key, max_length=TEXT_LIMITS["alert_rule_id"]
        ),
        severity=severity,
        signal_type=_cut(
            _normalise_signal_type(_optional_str(essentials, "signalType")),
            TEXT_LIMITS["signal_type"],
        ),
        monitoring_service=_optional_str(
            essentials, "monitoringService", max_length=TEXT_LIMITS["monitoring_service"]
        ),
        target_ids=targets,
        configuration_items=tuple(
            _check_configuration_item(n)
            for n in _string_list(essentials, "configurationItems", max_items=MAX_TARGETS)
        ),
        origin_alert_id=_optional_str(essentials, "originAlertId", max_length=MAX_ALERT_ID_BYTES),
        fired_at=_optional_time(essentials, "firedDateTime"),
        resolved_at=_optional_time(essentials, "resolvedDateTime"),
        description=_optional_str(essentials, "description", max_length=MAX_DESCRIPTION_LENGTH),
        alert_context=_optional_object(data.get("alertContext"), "data.alertContext"),
        custom_properties=_optional_object(data.get("customProperties"), "data.customProperties"),
    )
