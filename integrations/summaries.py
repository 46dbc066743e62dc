"""Turn a parsed alert into what an operator reads: a title, a description, a portal link.

Pure functions over `ParsedAlert`. Text comes from the sender and is stored as plain
text; templates escape it where it is shown.
"""

import re
from collections.abc import Iterable
from typing import Any

from core.display import datetime_display

from .headlines import condition_line as condition_line
from .headlines import headline, resource_ref
from .parsing import ParsedAlert, alert_portal_url

TITLE_LENGTH = 255
_TAG = re.compile(r"<[^>]+>")
_SPACES = re.compile(r"[ \t]+")


def _text(value: Any, limit: int = 300) -> str:
    """Render a JSON value as one short line (numbers may arrive as strings)."""
    if value is None:
        return ""
    if isinstance(value, dict | list):
        value = ", ".join(str(v) for v in (value.values() if isinstance(value, dict) else value))
    text = _SPACES.sub(" ", str(value).replace("\r", " ").replace("\n", " ")).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _html_to_text(value: Any, limit: int = 2000) -> str:
    text = _TAG.sub(" ", str(value or "")).replace("&nbsp;", " ")
    return _text(text, limit)


def _first_target_name(alert: ParsedAlert) -> str:
    if alert.target_ids:
        return resource_ref(alert.target_ids[0]).name
    return ""


def portal_url(alert: ParsedAlert) -> str:
    """Link to the alert in the Azure portal, for alerts the portal's alert blade knows.

    Parsing refused alert IDs whose link would not fit in `Alert.portal_url`.
    """
    return alert_portal_url(alert.alert_id)


def _metric_lines(ctx: dict[str, Any]) -> list[str]:
    condition = ctx.get("condition") or {}
    lines = []
    window = condition.get("windowSize")
    for crit in condition.get("allOf") or []:
        if not isinstance(crit, dict):
            continue
        if crit.get("searchQuery") is not None:  # Log Alerts V2 criteria
            lines.append(
                f"Query {_text(crit.get('searchQuery'))!s} — {_text(crit.get('timeAggregation'))} "
                f"{_text(crit.get('operator'))} {_text(crit.get('threshold'))}, "
                f"value {_text(crit.get('metricValue'))}" + (f" over {window}" if window else "")
            )
            dims = ", ".join(
                f"{_text(d.get('name'))}={_text(d.get('value'))}"
                for d in crit.get("dimensions") or []
                if isinstance(d, dict)
            )
            if dims:
                lines.append(f"Dimensions: {dims}")
            link = crit.get("linkToFilteredSearchResultsUI") or crit.get("linkToSearchResultsUI")
            if link:
                lines.append(f"Search results: {_text(link, 2000)}")
            continue
        name = crit.get("metricName") or crit.get("webTestName") or "metric"
        what = f"{_text(name)} ({_text(crit.get('timeAggregation'))})"
        if crit.get("threshold") is not None:
            cmp = f"{_text(crit.get('operator'))} {_text(crit.get('threshold'))}"
        else:  # dynamic thresholds
            cmp = (
                f"{_text(crit.get('operator'))} dynamic threshold "
                f"(sensitivity {_text(crit.get('alertSensitivity'))})"
            )
        line = f"{what} {cmp}: value {_text(crit.get('metricValue'))}"
        if window:
            line += f" over {window}"
        lines.append(line)
        dims = ", ".join(
            f"{_text(d.get('name'))}={_text(d.get('value'))}"
            for d in crit.get("dimensions") or []
            if isinstance(d, dict)
        )
        if dims:
            lines.append(f"Dimensions: {dims}")
    if "webTestName" in ctx or ctx.get("conditionType") == "WebtestLocationAvailabilityCriteria":
        for crit in condition.get("allOf") or []:
            if isinstance(crit, dict) and crit.get("webTestName"):
                lines.append(f"Availability test: {_text(crit.get('webTestName'))}")
    return lines


def _log_v1_lines(ctx: dict[str, Any]) -> list[str]:
    lines = []
    if ctx.get("SearchQuery"):
        lines.append(f"Query: {_text(ctx.get('SearchQuery'), 1000)}")
    lines.append(
        f"{_text(ctx.get('AlertType')) or 'Result'}: {_text(ctx.get('ResultCount'))} results "
        f"({_text(ctx.get('Operator'))} {_text(ctx.get('Threshold'))})"
    )
    if ctx.get("SearchIntervalStartTimeUtc"):
        lines.append(
            f"Window: {_text(ctx.get('SearchIntervalStartTimeUtc'))} – "
            f"{_text(ctx.get('SearchIntervalEndtimeUtc'))}"
        )
    link = ctx.get("LinkToFilteredSearchResultsUI") or ctx.get("LinkToSearchResults")
    if link:
        lines.append(f"Search results: {_text(link, 2000)}")
    return lines


def _activity_lines(ctx: dict[str, Any]) -> list[str]:
    props = ctx.get("properties")
    props = props if isinstance(props, dict) else {}
    lines = []
    if props.get("title"):
        lines.append(f"Event: {_text(props.get('title'))}")
    for label, key in (
        ("Service", "service"),
        ("Region", "region"),
        ("Tracking ID", "trackingId"),
        ("Stage", "stage"),
        ("Health", "currentHealthStatus"),
        ("Previous health", "previousHealthStatus"),
        ("Cause", "cause"),
        ("Type", "type"),
    ):
        if props.get(key):
            lines.append(f"{label}: {_text(props.get(key))}")
    if ctx.get("operationName"):
        lines.append(f"Operation: {_text(ctx.get('operationName'))} ({_text(ctx.get('status'))})")
    if ctx.get("caller"):
        lines.append(f"Caller: {_text(ctx.get('caller'))}")
    if props.get("communication"):
        lines.append(f"Communication: {_html_to_text(props.get('communication'))}")
    return lines


def _smart_detector_lines(ctx: dict[str, Any]) -> list[str]:
    lines = []
    for label, key in (
        ("Detector", "SmartDetectorName"),
        ("Detection", "DetectionSummary"),
        ("Detected value", "DetectedValue"),
        ("Normal value", "NormalValue"),
        ("Occurred", "FormattedOccurrenceTime"),
    ):
        if ctx.get(key):
            lines.append(f"{label}: {_text(ctx.get(key))}")
    return lines


def _prometheus_lines(ctx: dict[str, Any]) -> list[str]:
    lines = [f"Expression: {_text(ctx.get('expression'), 1000)}"]
    if ctx.get("expressionValue") is not None:
        lines.append(f"Value: {_text(ctx.get('expressionValue'))}")
    labels = ctx.get("labels")
    if isinstance(labels, dict) and labels:
        lines.append("Labels: " + ", ".join(f"{k}={_text(v)}" for k, v in labels.items()))
    annotations = ctx.get("annotations")
    if isinstance(annotations, dict) and annotations:
        lines.append("Annotations: " + ", ".join(f"{k}={_text(v)}" for k, v in annotations.items()))
    return lines


def _budget_lines(ctx: dict[str, Any]) -> list[str]:
    data = ctx.get("AlertData")
    data = data if isinstance(data, dict) else {}
    lines = []
    for label, key in (
        ("Budget", "BudgetName"),
        ("Threshold type", "ThresholdType"),
        ("Spent", "SpentAmount"),
        ("Forecast", "ForecastedTotalForPeriod"),
        ("Budget amount", "BudgetThreshold"),
        ("Notification threshold", "NotificationThresholdAmount"),
        ("Scope", "Scope"),
        ("Unit", "Unit"),
    ):
        if data.get(key):
            lines.append(f"{label}: {_text(data.get(key))}")
    return lines


def context_lines(alert: ParsedAlert) -> list[str]:
    """Say what crossed which threshold or which query matched, per monitoring service."""
    ctx = alert.alert_context or {}
    service = (alert.monitoring_service or "").lower()
    try:
        if service in ("platform", "application insights") and "condition" in ctx:
            return _metric_lines(ctx)
        if service in ("log alerts v2", "simple log alert") or ctx.get("conditionType") in (
            "LogQueryCriteria",
        ):
            return _metric_lines(ctx)
        if service in ("log analytics", "application insights"):
            return _log_v1_lines(ctx)
        if service.startswith("activity log") or service in ("servicehealth", "resource health"):
            return _activity_lines(ctx)
        if service == "smartdetector":
            return _smart_detector_lines(ctx)
        if service == "prometheus":
            return _prometheus_lines(ctx)
        if service in ("costalerts", "budget") or "AlertData" in ctx:
            return _budget_lines(ctx)
        if "condition" in ctx:
            return _metric_lines(ctx)
    except (AttributeError, TypeError):
        # The context is informative only; an odd shape must not refuse the alert.
        return []
    return []


def incident_title(alert: ParsedAlert) -> str:
    """One line saying what is wrong and where (`headlines`), within 255 characters.

    When the monitoring service's fields are missing: the rule (or the monitoring service
    and description, as for a budget without `AlertData`) and the resource.
    """
    title = headline(alert)
    if title:
        return title
    head = alert.alert_rule or " – ".join(
        part for part in (alert.monitoring_service, alert.description) if part
    )
    head = _text(head, TITLE_LENGTH) or "Azure Monitor alert"
    target = _first_target_name(alert)
    if target and target.lower() not in head.lower():
        head = f"{head} on {target}"
        if len(alert.target_ids) > 1:
            head += f" (+{len(alert.target_ids) - 1})"
    return _text(head, TITLE_LENGTH)


def _lines(pairs: Iterable[tuple[str, Any]]) -> list[str]:
    return [f"{label}: {_text(value, 2000)}" for label, value in pairs if value not in (None, "")]


def incident_description(alert: ParsedAlert) -> str:
    """Several lines an operator can act on: what fired, where, when, and a link."""
    lines = []
    if alert.description:
        lines += [_text(alert.description, 2000), ""]
    lines += _lines(
        (
            ("Alert rule", alert.alert_rule),
            ("Monitoring service", alert.monitoring_service),
            ("Signal type", alert.signal_type),
            ("Severity", alert.severity),
            ("Fired at", datetime_display(alert.fired_at) if alert.fired_at else None),
        )
    )
    for target in alert.target_ids:
        ref = resource_ref(target)
        lines.append(f"Resource: {ref.name} ({ref.ci_class}) {target}")
    if alert.configuration_items:
        lines.append("Configuration items: " + ", ".join(alert.configuration_items))
    details = context_lines(alert)
    if details:
        lines += ["", *details]
    link = portal_url(alert)
    if link:
        lines += ["", f"Azure portal: {link}"]
    lines += ["", f"Alert ID: {alert.alert_id}"]
    return "\n".join(lines).strip()
