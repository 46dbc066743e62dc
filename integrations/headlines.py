"""What an operator reads at a glance: a title and a condition line, per monitoring service.

Pure functions over `ParsedAlert`. Azure's `alertContext` differs by monitoring service
and any field may be absent, null or of another type than documented: each reader takes
what is there and returns "" when it cannot say anything, so that the caller falls back
(`summaries.incident_title`). Nothing here raises.
"""

import json
import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from cmdb.resource_ids import ResourceRef, parse_resource_id

from .parsing import ParsedAlert

TITLE_LENGTH = 255
CONDITION_LENGTH = 500  # Alert.condition
_SPACES = re.compile(r"\s+")
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")
_DURATION = re.compile(r"^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$", re.IGNORECASE)
# "$11,111.00", "1234.5", "12,50 €": a currency symbol (not a word) around the figure.
_AMOUNT = re.compile(r"^\s*([^\w\s.,-]*)\s*(-?[\d,]*\.?\d+)\s*([^\w\s.,-]*)\s*$")
_OPERATORS = {
    "greaterthan": ">",
    "greaterthanorequal": ">=",
    "greaterorequal": ">=",
    "lessthan": "<",
    "lowerthan": "<",
    "lessthanorequal": "<=",
    "lowerthanorequal": "<=",
    "equal": "=",
    "equals": "=",
    "equalto": "=",
    "notequal": "!=",
    "notequals": "!=",
    "greaterorlessthan": "outside",  # dynamic thresholds, both directions
}


def text(value: Any, limit: int = 200) -> str:
    """One line of plain text from a JSON value; "" for null, lists and objects."""
    if value is None or isinstance(value, dict | list | bool):
        return ""
    line = _SPACES.sub(" ", str(value)).strip()
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _get(obj: Any, *keys: str) -> Any:
    """obj[k1][k2]... where each level is an object; None when a level is missing."""
    for key in keys:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def _objects(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def number(value: Any) -> str:
    """A metric value as an operator writes it: 100, 97.3, 0.125 (strings pass through)."""
    if isinstance(value, bool):
        return ""
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return f"{value:.3f}".rstrip("0").rstrip(".") if abs(value) >= 0.001 else f"{value:g}"
    return text(value, 40)


def operator(value: Any) -> str:
    """GreaterThan, "Greater Than", LowerThan... as a symbol; unknown ones as sent."""
    name = text(value, 40)
    return _OPERATORS.get(name.replace(" ", "").lower(), name)


def duration(value: Any) -> str:
    """PT5M -> 5 min, PT1H -> 1 h, P1D -> 1 d; anything else as sent."""
    raw = text(value, 40)
    m = _DURATION.match(raw)
    if not m or not any(m.groups()):
        return raw
    parts = [f"{n} {unit}" for n, unit in zip(m.groups(), ("d", "h", "min", "s"), strict=True) if n]
    return " ".join(parts)


def amount(value: Any, unit: Any = None) -> str:
    """ "$11,111.00" with unit USD -> "11,111.00 USD"; an unreadable amount as sent."""
    raw = text(value, 60)
    code = text(unit, 10)
    m = _AMOUNT.match(raw)
    if not m:
        return f"{raw} {code}".strip() if raw else ""
    prefix, digits, suffix = m.groups()
    try:
        figure = f"{Decimal(digits.replace(',', '')):,.2f}"
    except InvalidOperation:
        return f"{raw} {code}".strip()
    if code:
        return f"{figure} {code}"
    return f"{prefix}{figure}{suffix}"


def _humane(value: Any) -> str:
    """UserInitiated -> user initiated."""
    return _CAMEL.sub(" ", text(value, 60)).lower()


@lru_cache(maxsize=256)
def resource_ref(resource_id: str) -> ResourceRef:
    """`parse_resource_id`, remembered: the title and the description both parse the targets."""
    return parse_resource_id(resource_id)


def _resource_name(resource_id: Any) -> str:
    if not isinstance(resource_id, str) or not resource_id.strip().startswith("/"):
        return ""
    return resource_ref(resource_id.strip()).name


def target_name(alert: ParsedAlert) -> str:
    """The first target's name, with (+N) for further targets."""
    if not alert.target_ids:
        return ""
    name = _resource_name(alert.target_ids[0])
    if name and len(alert.target_ids) > 1:
        name += f" (+{len(alert.target_ids) - 1})"
    return name


def _on(head: str, where: str) -> str:
    if not head:
        return ""
    if where and where.split(" (+")[0].lower() not in head.lower():
        return f"{head} on {where}"
    return head


def _context(alert: ParsedAlert) -> dict[str, Any]:
    return alert.alert_context if isinstance(alert.alert_context, dict) else {}


def _properties(ctx: dict[str, Any]) -> dict[str, Any]:
    props = ctx.get("properties")
    return props if isinstance(props, dict) else {}


def _json_list(value: Any) -> list[dict[str, Any]]:
    """A list of objects that older payloads send as a JSON string."""
    if isinstance(value, str) and len(value) <= 100_000:
        try:
            value = json.loads(value)
        except ValueError:
            return []
    return _objects(value)


# --- metric alerts (static, dynamic, availability tests) and log search alerts v2 ----------


def _criteria(ctx: dict[str, Any]) -> list[dict[str, Any]]:
    return _objects(_get(ctx, "condition", "allOf"))


def _comparison(crit: dict[str, Any], *, resolved: bool = False) -> str:
    """'97.3 > 80', '78.09 > 0.3 (dynamic)', '7.7 (threshold > 80)' once resolved."""
    value = number(crit.get("metricValue"))
    op = operator(crit.get("operator"))
    threshold = number(crit.get("threshold"))
    dynamic = crit.get("alertSensitivity") is not None and crit.get("searchQuery") is None
    if threshold:
        cmp = f"{op} {threshold}".strip() + (" (dynamic)" if dynamic else "")
    elif op:
        cmp = f"{op} dynamic threshold" if dynamic else op
    else:
        cmp = ""
    if resolved and value and cmp:
        return f"{value} (threshold {cmp})"
    return " ".join(part for part in (value, cmp) if part)


def _metric_title(alert: ParsedAlert, ctx: dict[str, Any]) -> str:
    criteria = _criteria(ctx)
    if not criteria:
        return ""
    crit = criteria[0]
    if crit.get("webTestName") or ctx.get("conditionType") == "WebtestLocationAvailabilityCriteria":
        return _availability_title(alert, crit)
    name = text(crit.get("metricName"), 80)
    if not name:
        return ""
    head = f"{name} {_comparison(crit, resolved=alert.is_resolved)}".strip()
    if len(criteria) > 1:
        head += f" and {len(criteria) - 1} more"
    return _on(head, target_name(alert))


def _availability_title(alert: ParsedAlert, crit: dict[str, Any]) -> str:
    test = text(crit.get("webTestName"), 120) or text(alert.alert_rule, 120)
    failed = number(crit.get("metricValue"))
    threshold = number(crit.get("threshold"))
    if alert.is_resolved:
        head = f"Availability test {test} passing again"
    elif failed:
        head = f"Availability test {test} failing in {failed} locations"
        if threshold:
            head += f" ({operator(crit.get('operator'))} {threshold})"
    else:
        head = f"Availability test {test} failing"
    return _on(head, target_name(alert)) if test else ""


def _dimensions(crit: dict[str, Any]) -> str:
    pairs = [
        f"{text(d.get('name'), 40)}={_resource_name(d.get('value')) or text(d.get('value'), 80)}"
        for d in _objects(crit.get("dimensions"))
        if text(d.get("name"))
    ]
    return ", ".join(pairs[:3]) + (f" (+{len(pairs) - 3})" if len(pairs) > 3 else "")


def _metric_condition(alert: ParsedAlert, ctx: dict[str, Any]) -> str:
    window = duration(_get(ctx, "condition", "windowSize"))
    lines = []
    for crit in _criteria(ctx):
        cmp = _comparison(crit, resolved=alert.is_resolved)
        extras = []
        if crit.get("searchQuery") is not None:
            line = f"{text(crit.get('timeAggregation'), 40) or 'Result'} {cmp}".strip()
            query = text(crit.get("searchQuery"), 80)
            if query:
                extras.append(f"query {query}")
        elif crit.get("webTestName"):
            line = f"Failed locations {cmp}".strip()
        else:
            name = text(crit.get("metricName"), 80)
            if not name:
                continue
            aggregation = text(crit.get("timeAggregation"), 40)
            line = f"{name} ({aggregation}) {cmp}" if aggregation else f"{name} {cmp}"
            sensitivity = text(crit.get("alertSensitivity"), 20)
            if sensitivity:
                extras.append(f"sensitivity {sensitivity}")
        if window:
            line += f" over {window}"
        periods = crit.get("failingPeriods")
        if isinstance(periods, dict) and periods.get("numberOfEvaluationPeriods") is not None:
            extras.append(
                f"{number(periods.get('minFailingPeriodsToAlert'))} of "
                f"{number(periods.get('numberOfEvaluationPeriods'))} periods"
            )
        dims = _dimensions(crit)
        line = ", ".join([line.strip(), *extras]) + (f" [{dims}]" if dims else "")
        lines.append(line)
    if not lines:
        return ""
    line = "; ".join(lines)
    return f"Resolved: {line}" if alert.is_resolved else line


def _log_v2_title(alert: ParsedAlert, ctx: dict[str, Any]) -> str:
    criteria = _criteria(ctx)
    rule = text(alert.alert_rule, 150)
    if not criteria or not rule:
        return ""
    crit = criteria[0]
    what = text(crit.get("timeAggregation"), 40) or "Result"
    cmp = _comparison(crit, resolved=alert.is_resolved)
    if alert.is_resolved:
        rule += " resolved"
    head = f"{rule}: {what} {cmp}".strip() if cmp else rule
    return _on(head, target_name(alert))


# --- log search alerts v1 (Log Analytics, Application Insights) ---------------------------


def _log_v1_comparison(ctx: dict[str, Any]) -> str:
    count = number(ctx.get("ResultCount"))
    if not count:
        return ""
    kind = text(ctx.get("AlertType"), 40)
    noun = "results" if not kind or kind.lower() == "number of results" else "value"
    threshold = number(ctx.get("Threshold"))
    cmp = f"{operator(ctx.get('Operator'))} {threshold}".strip() if threshold else ""
    return f"{noun} {count} {cmp}".strip()


def _log_v1_title(alert: ParsedAlert, ctx: dict[str, Any]) -> str:
    rule = text(alert.alert_rule, 150)
    cmp = _log_v1_comparison(ctx)
    if not rule or not cmp:
        return ""
    return _on(f"{rule}: {cmp}", target_name(alert))


def _log_v1_condition(alert: ParsedAlert, ctx: dict[str, Any]) -> str:
    cmp = _log_v1_comparison(ctx)
    if not cmp:
        return ""
    kind = text(ctx.get("AlertType"), 40) or "Number of results"
    line = f"{kind}: {cmp}"
    minutes = text(ctx.get("SearchIntervalInMinutes") or ctx.get("SearchIntervalDurationMin"))
    if minutes.isdigit():
        hours, rest = divmod(int(minutes), 60)
        line += f" over {duration(f'PT{minutes}M' if rest else f'PT{hours}H')}"
    query = text(ctx.get("SearchQuery"), 80)
    return f"{line}, query {query}" if query else line


# --- activity log: administrative, policy, security, autoscale, recommendation ------------


def _operation(ctx: dict[str, Any]) -> str:
    op = text(ctx.get("operationName"), 150)
    return op[: -len("/action")] if op.lower().endswith("/action") else op


def _activity_where(alert: ParsedAlert, ctx: dict[str, Any]) -> str:
    props = _properties(ctx)
    return (
        target_name(alert)
        or _resource_name(props.get("entity"))
        or _resource_name(props.get("resourceName"))
        or _resource_name(_get(ctx, "authorization", "scope"))
    )


def _policies(props: dict[str, Any]) -> list[dict[str, Any]]:
    return _json_list(props.get("policies"))


def _activity_title(alert: ParsedAlert, ctx: dict[str, Any]) -> str:
    props = _properties(ctx)
    source = text(ctx.get("eventSource"), 40).lower()
    service = (alert.monitoring_service or "").lower()
    where = _activity_where(alert, ctx)
    status = text(ctx.get("status"), 40)
    if source == "security" or service.endswith("security"):
        category = text(props.get("category"), 80) or text(props.get("threatName"), 80)
        threat = text(props.get("threatStatus"), 40)
        if category:
            head = f"Security: {category} {threat}".strip()
            action = text(props.get("actionTaken"), 40)
            if action:
                head += f" ({action.lower()})"
            where = text(props.get("compromisedEntity"), 100) or where
            return _on(head, where)
    if source == "autoscale" or service.endswith("autoscale"):
        old, new = number(props.get("oldInstancesCount")), number(props.get("newInstancesCount"))
        if old and new:
            verb = _operation(ctx).rsplit("/", 1)[-1].lower()
            action = {"scaleup": "scale up", "scaledown": "scale down"}.get(verb, verb or "scale")
            head = f"Autoscale {action} {old} → {new} instances"
            if status and status.lower() != "succeeded":
                head += f" ({status})"
            return _on(head, where)
    if source == "policy" or service.endswith("policy"):
        policies = _policies(props)
        effect = text(policies[0].get("policyDefinitionEffect"), 40) if policies else ""
        assignment = text(policies[0].get("policyAssignmentName"), 80) if policies else ""
        if assignment:
            head = f"Policy {assignment}: {effect or _operation(ctx)} {status}".strip()
            return _on(head, where)
    operation = _operation(ctx)
    if not operation:
        return ""
    return _on(f"{operation} {status}".strip(), where)


def _activity_condition(alert: ParsedAlert, ctx: dict[str, Any]) -> str:
    props = _properties(ctx)
    parts = [f"{_operation(ctx)}: {text(ctx.get('status'), 40)}".strip(": ")]
    source = text(ctx.get("eventSource"), 40).lower()
    if source == "security":
        for label, key in (("threat", "category"), ("file", "filePath"), ("by", "protectionType")):
            if text(props.get(key)):
                parts.append(f"{label} {text(props.get(key), 120)}")
    elif source == "autoscale" and props.get("newInstancesCount") is not None:
        parts.append(
            f"{number(props.get('oldInstancesCount'))} → "
            f"{number(props.get('newInstancesCount'))} instances"
        )
    elif source == "policy":
        for policy in _policies(props)[:2]:
            name = text(policy.get("policyAssignmentName"), 80)
            if name:
                parts.append(f"policy {name} ({text(policy.get('policyDefinitionEffect'), 40)})")
    caller = text(ctx.get("caller"), 120)
    if caller:
        parts.append(f"caller {caller}")
    return ", ".join(p for p in parts if p)


# --- Service Health and Resource Health ----------------------------------------------------


def _impacted(props: dict[str, Any]) -> tuple[list[str], list[str]]:
    """The services and regions a Service Health event names (deduplicated, in order)."""
    services: dict[str, None] = {}
    regions: dict[str, None] = {}
    for entry in _json_list(props.get("impactedServices")):
        name = text(entry.get("ServiceName"), 80)
        if name:
            services[name] = None
        for region in _objects(entry.get("ImpactedRegions")):
            region_name = text(region.get("RegionName"), 60)
            if region_name:
                regions[region_name] = None
    if not services and text(props.get("service"), 80):
        services[text(props.get("service"), 80)] = None
    if not regions and text(props.get("region"), 60):
        regions[text(props.get("region"), 60)] = None
    return list(services), list(regions)


def _few(names: list[str]) -> str:
    return " & ".join(names[:2]) + (f" (+{len(names) - 2})" if len(names) > 2 else "")


def _service_health_title(alert: ParsedAlert, ctx: dict[str, Any]) -> str:
    props = _properties(ctx)
    title = text(props.get("title"), 200) or text(props.get("defaultLanguageTitle"), 200)
    if not title:
        return ""
    services, regions = _impacted(props)
    if all(name.lower() in title.lower() for name in services + regions):
        return title  # the title names them already ("Virtual Machines - West Europe")
    where = ", ".join(part for part in (_few(services), _few(regions)) if part)
    return f"{where}: {title}"


def _service_health_condition(alert: ParsedAlert, ctx: dict[str, Any]) -> str:
    props = _properties(ctx)
    kind = text(props.get("incidentType"), 40) or "Service Health event"
    stage = text(props.get("stage"), 40) or text(ctx.get("status"), 40)
    line = f"{kind}, stage {stage}" if stage else kind
    tracking = text(props.get("trackingId"), 40)
    if tracking:
        line += f", tracking ID {tracking}"
    level = ctx.get("level")
    if isinstance(level, str) and level:
        line += f", level {text(level, 20)}"
    return line


def _resource_health_title(alert: ParsedAlert, ctx: dict[str, Any]) -> str:
    props = _properties(ctx)
    where = target_name(alert) or "Resource"
    health = text(props.get("currentHealthStatus"), 40)
    cause = _humane(props.get("cause"))
    if health:
        return f"{where} {health}" + (f" ({cause})" if cause else "")
    title = text(props.get("title"), 200)
    return f"{where}: {title}" if title else ""


def _resource_health_condition(alert: ParsedAlert, ctx: dict[str, Any]) -> str:
    props = _properties(ctx)
    current = text(props.get("currentHealthStatus"), 40)
    previous = text(props.get("previousHealthStatus"), 40)
    if current and previous:
        line = f"{previous} → {current}"
    elif current:
        line = f"Health {current}"
    else:
        line = "Health not reported"
    cause = _humane(props.get("cause"))
    if cause:
        line += f", {cause}"
    status = text(ctx.get("status"), 40)
    if status:
        line += f" (event {status})"
    title = text(props.get("title"), 200)
    return f"{line}: {title}" if title else line


# --- budgets, smart detectors, Prometheus ---------------------------------------------------


def _budget_figures(ctx: dict[str, Any]) -> tuple[str, Any, Any, str, bool]:
    """(name, amount, budget, unit, forecasted) of a cost alert, amounts as sent."""
    data = ctx.get("AlertData")
    if not isinstance(data, dict):
        return "", None, None, "", False
    forecast = data.get("ForecastedTotalForPeriod")
    forecasted = text(data.get("ThresholdType"), 20).lower() == "forecasted" and bool(
        text(forecast)
    )
    spent = forecast if forecasted else data.get("SpentAmount")
    unit = text(data.get("Unit"), 10)
    return text(data.get("BudgetName"), 120), spent, data.get("BudgetThreshold"), unit, forecasted


def _budget_title(alert: ParsedAlert, ctx: dict[str, Any]) -> str:
    name, spent, budget, unit, forecasted = _budget_figures(ctx)
    # "11,111.00 of 50.00 USD": the unit once, at the end; without one, the amounts' symbols.
    figure = amount(spent, unit).removesuffix(f" {unit}") if unit else amount(spent)
    if not name or not figure:
        return ""
    if forecasted:
        figure = f"forecast {figure}"
    limit = amount(budget, unit) if unit else amount(budget)
    return f"Budget {name}: {figure} of {limit}" if limit else f"Budget {name}: {figure} {unit}"


def _budget_condition(alert: ParsedAlert, ctx: dict[str, Any]) -> str:
    _, spent, budget, unit, forecasted = _budget_figures(ctx)
    figure = amount(spent, unit)
    if not figure:
        return ""
    data = ctx["AlertData"]
    line = f"{'Forecast' if forecasted else 'Spent'} {figure}"
    if amount(budget, unit):
        line += f" of the budget {amount(budget, unit)}"
    notify = amount(data.get("NotificationThresholdAmount"), unit)
    if notify:
        line += f" (alert at {notify})"
    if forecasted:
        actual = amount(data.get("SpentAmount"), unit)
        if actual:
            line += f", spent so far {actual}"
    return line


def _smart_detector_title(alert: ParsedAlert, ctx: dict[str, Any]) -> str:
    detector = text(ctx.get("SmartDetectorName"), 120) or text(alert.alert_rule, 120)
    if not detector:
        return ""
    detected = text(ctx.get("DetectedValue"), 40)
    head = f"{detector}: {detected}" if detected else detector
    return _on(head, target_name(alert))


def _smart_detector_condition(alert: ParsedAlert, ctx: dict[str, Any]) -> str:
    summary = text(ctx.get("DetectionSummary"), 200)
    detected = text(ctx.get("DetectedValue"), 40)
    normal = text(ctx.get("NormalValue"), 80)
    figures = ", ".join(
        part
        for part in (
            f"detected {detected}" if detected else "",
            f"normal {normal}" if normal else "",
        )
        if part
    )
    return ": ".join(part for part in (summary, figures) if part)


def _prometheus_title(alert: ParsedAlert, ctx: dict[str, Any]) -> str:
    labels = ctx.get("labels")
    labels = labels if isinstance(labels, dict) else {}
    name = text(labels.get("alertname"), 150) or text(alert.alert_rule, 150)
    if not name:
        return ""
    if alert.is_resolved:
        name += " resolved"
    value = number(ctx.get("expressionValue"))
    head = f"{name}: {value}" if value else name
    return _on(head, text(labels.get("cluster"), 80) or target_name(alert))


def _prometheus_condition(alert: ParsedAlert, ctx: dict[str, Any]) -> str:
    expression = text(ctx.get("expression"), 300)
    if not expression:
        return ""
    value = number(ctx.get("expressionValue"))
    hold = duration(ctx.get("for"))
    line = f"Value {value}" if value else "Expression"
    if hold:
        line += f" for {hold}"
    line += f": {expression}"
    return f"Resolved: {line}" if alert.is_resolved else line


# --- dispatch ------------------------------------------------------------------------------

Reader = Callable[[ParsedAlert, dict[str, Any]], str]


def _readers(alert: ParsedAlert, ctx: dict[str, Any]) -> tuple[Reader, Reader] | None:
    """The (title, condition) readers for the alert's monitoring service."""
    service = (alert.monitoring_service or "").strip().lower()
    if service == "servicehealth" or service == "service health":
        return _service_health_title, _service_health_condition
    if service in ("resource health", "resourcehealth"):
        return _resource_health_title, _resource_health_condition
    if service.startswith("activity log"):
        return _activity_title, _activity_condition
    if service in ("costalerts", "budget") or isinstance(ctx.get("AlertData"), dict):
        return _budget_title, _budget_condition
    if service == "smartdetector" or service == "smart detector":
        return _smart_detector_title, _smart_detector_condition
    if service == "prometheus":
        return _prometheus_title, _prometheus_condition
    if service in ("log alerts v2", "simple log alert") or ctx.get("conditionType") == (
        "LogQueryCriteria"
    ):
        return _log_v2_title, _metric_condition
    if "ResultCount" in ctx:  # log alerts v1: Log Analytics, Application Insights
        return _log_v1_title, _log_v1_condition
    if "condition" in ctx:  # Platform metrics, availability tests
        return _metric_title, _metric_condition
    return None


def _safely(read: Callable[[], str], limit: int) -> str:
    try:
        line = read()
    except Exception:  # informative only: an odd payload must never refuse an alert
        return ""
    return text(line, limit)


def headline(alert: ParsedAlert) -> str:
    """A title saying what is wrong and where, or "" when the service's fields are missing."""
    ctx = _context(alert)
    readers = _readers(alert, ctx)
    if readers is None:
        return ""
    return _safely(lambda: readers[0](alert, ctx), TITLE_LENGTH)


def condition_line(alert: ParsedAlert) -> str:
    """One line: what crossed which threshold, the health state, or the stage ("" if unknown)."""
    ctx = _context(alert)
    readers = _readers(alert, ctx)
    if readers is None:
        return ""
    return _safely(lambda: readers[1](alert, ctx), CONDITION_LENGTH)
