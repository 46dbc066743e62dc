"""Titles and condition lines per monitoring service (pure), on every sample and on odd shapes."""

import copy
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from integrations import headlines
from integrations.parsing import ParsedAlert, parse_alert
from integrations.summaries import condition_line, incident_title
from tests.helpers import (
    AZURE,
    BUDGET,
    ESSENTIALS_ONLY,
    LOG_V2,
    RESOURCE_HEALTH,
    STATIC,
    load_fixture,
    with_essentials,
)

SERVICE_HEALTH = "azure/service-health-active.json"

# sample -> (title, condition line)
EXPECTED: dict[str, tuple[str, str]] = {
    "activity-log-administrative-fired.json": (
        "Microsoft.Compute/virtualMachines/restart Succeeded on test-VM",
        "Microsoft.Compute/virtualMachines/restart: Succeeded, caller user@contoso.com",
    ),
    "budget-costalerts-actual-fired.json": (
        "Budget Test_actual_cost_budget: 11,111.00 of 50.00 USD",
        "Spent 11,111.00 USD of the budget 50.00 USD (alert at 25.00 USD)",
    ),
    "budget-costalerts-forecasted-fired.json": (
        "Budget Test_forcasted_budget: forecast 1,111.11 of 50.00 USD",
        "Forecast 1,111.11 USD of the budget 50.00 USD (alert at 50.00 USD), "
        "spent so far 999.99 USD",
    ),
    "budget-costalerts-test-delivery-confirmation.json": (
        "Budget Test_forcasted_budget: forecast 1,111.11 of 50.00 USD",
        "Forecast 1,111.11 USD of the budget 50.00 USD (alert at 50.00 USD), "
        "spent so far 999.99 USD",
    ),
    "log-alerts-v2-fired-resource-logs.json": (
        "AcmeRule: Count 0 < 1 on testvm",
        "Count 0 < 1 over 10 min, query Heartbeat, 1 of 1 periods [ResourceId=testvm]",
    ),
    "log-alerts-v2-fired.json": (
        "test-logAlertRule-v2: Count 3 > 0 on test-logAnalyticsWorkspace",
        "Count 3 > 0 over 1 h, query Heartbeat, 1 of 1 periods [Computer=test-computer]",
    ),
    "log-analytics-v1-metric-measurement-fired.json": (
        "test-logAlertRule-v1-metricMeasurement: value 2 > 0 on test-logAnalyticsWorkspace",
        "Metric measurement: value 2 > 0 over 24 h, "
        "query Heartbeat | summarize AggregatedValue=count() by bin(TimeGenerated, 5m)",
    ),
    "log-analytics-v1-number-of-results-fired.json": (
        "test-logAlertRule-v1-numResults: results 1 > 0 on test-logAnalyticsWorkspace",
        "Number of results: results 1 > 0 over 24 h, query Heartbeat",
    ),
    "platform-availability-test-fired.json": (
        "Availability test test-availabilityTest-test-applicationInsights "
        "failing in 5 locations (> 2)",
        "Failed locations 5 > 2 over 5 min",
    ),
    "platform-metric-dynamic-threshold-fired.json": (
        "Transactions 78.09 > 0.3 (dynamic) on test-storageAccount",
        "Transactions (Average) 78.09 > 0.3 (dynamic) over 15 min, sensitivity Low, 3 of 3 periods",
    ),
    "platform-metric-resolved-no-alertruleid.json": (
        "Percentage CPU 7.727 (threshold > 25) on wcus-r2-gen2",
        "Resolved: Percentage CPU (Average) 7.727 (threshold > 25) over 5 min "
        "[ResourceId=b1b1b1b1-cccc-dddd-eeee-f2f2f2f2f2f2]",
    ),
    "platform-metric-resolved.json": (
        "Percentage CPU 7.727 (threshold > 25) on wcus-r2-gen2",
        "Resolved: Percentage CPU (Average) 7.727 (threshold > 25) over 5 min "
        "[ResourceId=a0a0a0a0-bbbb-cccc-dddd-e1e1e1e1e1e1]",
    ),
    "platform-metric-static-threshold-fired.json": (
        "Transactions 100 > 0 on test-storageAccount",
        "Transactions (Total) 100 > 0 over 5 min [ApiName=GetBlob]",
    ),
    "resource-health-available.json": (
        "test-VM Available",
        "Degraded → Available (event Resolved): "
        "There aren't any known Azure platform problems affecting this virtual machine",
    ),
    "resource-health-degraded.json": (
        "test-VM Degraded (platform initiated)",
        "Unavailable → Degraded, platform initiated (event Updated): Degraded performance",
    ),
    "resource-health-fired.json": (
        "test-VM Unavailable (user initiated)",
        "Available → Unavailable, user initiated (event Active): Rebooted by user",
    ),
    "resource-health-unknown.json": (
        "test-VM Unknown (platform initiated)",
        "Available → Unknown, platform initiated (event Active): Health unknown",
    ),
    "resource-health-updated-null.json": (
        "test-VM: Rebooted by user",
        "Health not reported, user initiated (event Updated): Rebooted by user",
    ),
    "service-health-active.json": (
        "SQL Database, West Europe: Connectivity issues",
        "Incident, stage Active, tracking ID TEST-TTT",
    ),
    "service-health-fired-2021-variant.json": (
        "Azure Service Name, Global: Test Action Group - Test Service Health Alert",
        "Incident, stage Resolved, tracking ID ABC1-DEF",
    ),
    "service-health-fired.json": (
        "AzureServiceName, Global: TestActionGroup-TestServiceHealthAlert",
        "Incident, stage Resolved, tracking ID TEST-TTT",
    ),
    "service-health-maintenance-complete.json": (
        "Planned maintenance: Virtual Machines - West Europe",
        "Maintenance, stage Complete, tracking ID TEST-MMM",
    ),
    "service-health-maintenance-planned.json": (
        "Planned maintenance: Virtual Machines - West Europe",
        "Maintenance, stage Planned, tracking ID TEST-MMM",
    ),
    "service-health-rca.json": (
        "SQL Database, West Europe: Post Incident Review (PIR) - Connectivity issues",
        "Incident, stage RCA, tracking ID TEST-TTT",
    ),
    "service-health-resolved.json": (
        "SQL Database, West Europe: Connectivity issues",
        "Incident, stage Resolved, tracking ID TEST-TTT",
    ),
    "service-health-update.json": (
        "SQL Database, West Europe: Connectivity issues",
        "Incident, stage Active, tracking ID TEST-TTT",
    ),
    "smart-detector-fired.json": (
        "Dependency Performance Degradation Detector: 0.45 sec on test-applicationInsights",
        "A degradation in the dependency duration over the last 24 hours: "
        "detected 0.45 sec, normal 0.27 sec (over the last 7 days)",
    ),
    "third-party/prometheus-fired.json": (
        "Average node CPU utilization is greater than 80%: 12.7m on aks0001",
        'Value 12.7m for 5 min: ( (1 - rate(node_cpu_seconds_total{job="node", mode="idle"}'
        "[5m]) ) / ignoring(cpu) group_left count without (cpu)( node_cpu_seconds_total"
        '{job="node", mode="idle"}) ) < .8',
    ),
}


def parse(payload: dict[str, Any]) -> ParsedAlert:
    return parse_alert(json.dumps(payload).encode())


def read(payload: dict[str, Any]) -> tuple[str, str]:
    alert = parse(payload)
    return incident_title(alert), condition_line(alert)


def with_context(fragment: str, service: str, **essentials: Any) -> dict[str, Any]:
    """Published essentials plus a published alertContext fragment, as one payload."""
    payload = {
        "schemaId": "azureMonitorCommonAlertSchema",
        "data": {
            **load_fixture(ESSENTIALS_ONLY),
            **load_fixture(f"azure/alertcontext-fragments/{fragment}"),
        },
    }
    payload["data"]["essentials"].update(monitoringService=service, **essentials)
    return payload


def with_context_changes(name: str, **changes: Any) -> dict[str, Any]:
    payload = copy.deepcopy(load_fixture(name))
    payload["data"]["alertContext"].update(changes)
    return payload


def with_properties(name: str, **changes: Any) -> dict[str, Any]:
    payload = copy.deepcopy(load_fixture(name))
    payload["data"]["alertContext"]["properties"].update(changes)
    return payload


def with_criterion(name: str, **changes: Any) -> dict[str, Any]:
    payload = copy.deepcopy(load_fixture(name))
    payload["data"]["alertContext"]["condition"]["allOf"][0].update(changes)
    return payload


# --- every sample -----------------------------------------------------------------------------


def test_expected_headlines_cover_every_complete_fixture() -> None:
    on_disk = {
        str(p.relative_to(AZURE))
        for p in [*AZURE.glob("*.json"), *AZURE.glob("third-party/*.json")]
        if not p.name.startswith("legacy-")
    }

    assert on_disk == set(EXPECTED)


@pytest.mark.parametrize("name", EXPECTED, ids=str)
def test_incident_title_and_condition_line_of_sample(name: str) -> None:
    title, condition = read(load_fixture(f"azure/{name}"))

    assert (title, condition) == EXPECTED[name]


@pytest.mark.parametrize(
    ("fragment", "service", "title", "condition"),
    [
        (
            "activity-log-policy.json",
            "Activity Log - Policy",
            "Policy SecurityCenterBuiltIn: AuditIfNotExists Succeeded on ai-orion-int-fe",
            "Microsoft.Authorization/policies/audit: Succeeded, "
            "policy SecurityCenterBuiltIn (AuditIfNotExists), caller <GUID>",
        ),
        (
            "activity-log-autoscale.json",
            "Activity Log - Autoscale",
            "Autoscale scale up 9 → 10 instances on ai-orion-int-fe",
            "Microsoft.Insights/AutoscaleSettings/Scaleup: Succeeded, 9 → 10 instances, "
            "caller Microsoft.Insights/autoscaleSettings",
        ),
        (
            "activity-log-security.json",
            "Activity Log - Security",
            "Security: Virus Quarantined (blocked) on testVM",
            "Microsoft.Security/locations/alerts/activate: Active, threat Virus, "
            "file C:\\AlertGeneration\\test.eicar, by Windows Defender",
        ),
        (
            "application-insights-v1.json",
            "Application Insights",
            "Contoso IT Metric Alert: value 2 < 10000 on ai-orion-int-fe",
            "Metric measurement: value 2 < 10000 over 15 min, query requests | where resultCode "
            '== "500" | summarize AggregatedValue = Count by bin…',
        ),
        (
            "simple-log-alert.json",
            "Simple Log Alert",
            "Contoso IT Metric Alert: Result 1 on ai-orion-int-fe",
            "Result 1, query exceptions | where timestamp > ago(5m) | project timestamp, "
            "operation_Name, pro…",
        ),
        (
            "platform-metric-dynamic.json",
            "Platform",
            "Egress 50101 > 47658 (dynamic) on ai-orion-int-fe",
            "Egress (Total) 50101 > 47658 (dynamic) over 5 min, sensitivity High, 1 of 1 periods",
        ),
        (
            "platform-metric-availability-test.json",
            "Platform",
            "Availability test myAvailabilityTest-myApplication failing in 5 locations (> 2) "
            "on ai-orion-int-fe",
            "Failed locations 5 > 2 over 5 min",
        ),
        (
            "prometheus.json",
            "Prometheus",
            "Contoso IT Metric Alert: 0 on myCluster1",
            "Value 0 for 2 min: sql_up > 0",
        ),
        (
            "service-health-numeric-enums.json",
            "ServiceHealth",
            "Azure Synapse Analytics, East US: Azure Synapse Analytics Scheduled Maintenance "
            "Pending",
            "Maintenance, stage Planned, tracking ID <GUID>",
        ),
        (
            "service-health.json",
            "ServiceHealth",
            "Azure Synapse Analytics, East US: Azure Synapse Analytics Scheduled Maintenance "
            "Pending",
            "Maintenance, stage Planned, tracking ID <GUID>, level Informational",
        ),
    ],
    ids=lambda value: value if isinstance(value, str) and value.endswith(".json") else "",
)
def test_incident_title_and_condition_line_of_published_fragment(
    fragment: str, service: str, title: str, condition: str
) -> None:
    assert read(with_context(fragment, service)) == (title, condition)


# --- metric and log alerts --------------------------------------------------------------------


def test_incident_title_counts_further_criteria_and_targets() -> None:
    payload = copy.deepcopy(load_fixture(STATIC))
    essentials = payload["data"]["essentials"]
    target = essentials["alertTargetIDs"][0]
    essentials["alertTargetIDs"] = [target, f"{target}-2"]
    criteria = payload["data"]["alertContext"]["condition"]["allOf"]
    criteria.append({**criteria[0], "metricName": "Egress", "metricValue": 5.5, "dimensions": []})

    title, condition = read(payload)

    assert title == "Transactions 100 > 0 and 1 more on test-storageAccount (+1)"
    assert condition == (
        "Transactions (Total) 100 > 0 over 5 min [ApiName=GetBlob]; "
        "Egress (Total) 5.5 > 0 over 5 min"
    )


@pytest.mark.parametrize(
    ("operator", "symbol"),
    [
        ("GreaterThanOrEqual", ">="),
        ("LessThan", "<"),
        ("LowerThan", "<"),
        ("LessThanOrEqual", "<="),
        ("Equals", "="),
        ("NotEquals", "!="),
        ("Greater Than", ">"),
        ("Sideways", "Sideways"),
    ],
)
def test_incident_title_writes_operator_as_symbol(operator: str, symbol: str) -> None:
    title, _ = read(with_criterion(STATIC, operator=operator))

    assert title == f"Transactions 100 {symbol} 0 on test-storageAccount"


def test_incident_title_reads_dynamic_threshold_in_both_directions_without_figure() -> None:
    title, condition = read(
        with_criterion(
            "azure/platform-metric-dynamic-threshold-fired.json",
            operator="GreaterOrLessThan",
            threshold=None,
        )
    )

    assert title == "Transactions 78.09 outside dynamic threshold on test-storageAccount"
    assert condition.startswith("Transactions (Average) 78.09 outside dynamic threshold over")


@pytest.mark.parametrize(
    ("value", "shown"),
    [(97.3, "97.3"), (3.0, "3"), (0.125, "0.125"), (1 / 3, "0.333"), (0.00012, "0.00012")],
)
def test_incident_title_writes_metric_value_as_an_operator_would(value: float, shown: str) -> None:
    title, _ = read(with_criterion(STATIC, metricValue=value, metricName="Percentage CPU"))

    assert title == f"Percentage CPU {shown} > 0 on test-storageAccount"


def test_incident_title_of_resolved_alerts_says_so() -> None:
    availability = with_essentials(
        "azure/platform-availability-test-fired.json", monitorCondition="Resolved"
    )
    log_v2 = with_essentials(LOG_V2, monitorCondition="Resolved")
    prometheus = with_essentials(
        "azure/third-party/prometheus-fired.json", monitorCondition="Resolved"
    )

    assert read(availability)[0] == (
        "Availability test test-availabilityTest-test-applicationInsights passing again"
    )
    assert read(log_v2) == (
        "test-logAlertRule-v2 resolved: Count 3 (threshold > 0) on test-logAnalyticsWorkspace",
        "Resolved: Count 3 (threshold > 0) over 1 h, query Heartbeat, 1 of 1 periods "
        "[Computer=test-computer]",
    )
    assert read(prometheus)[0].endswith("80% resolved: 12.7m on aks0001")
    assert read(prometheus)[1].startswith("Resolved: Value 12.7m for 5 min: ")


def test_incident_title_of_availability_test_without_value_or_name() -> None:
    failing = with_criterion("azure/platform-availability-test-fired.json", metricValue=None)
    nameless = with_criterion(
        "azure/platform-availability-test-fired.json", webTestName=None, metricName=None
    )
    nameless["data"]["essentials"]["alertRule"] = None

    assert read(failing)[0] == (
        "Availability test test-availabilityTest-test-applicationInsights failing"
    )
    assert read(nameless)[0] == "Platform – Alertruledescription on test-applicationInsights"


def test_condition_line_shows_at_most_three_dimensions_with_resource_names() -> None:
    dims = [{"name": f"d{i}", "value": str(i)} for i in range(5)]

    _, condition = read(with_criterion(STATIC, dimensions=dims))

    assert condition.endswith("[d0=0, d1=1, d2=2 (+2)]")


def test_condition_line_of_log_v1_counts_minutes_that_are_not_whole_hours() -> None:
    payload = with_context_changes(
        "azure/log-analytics-v1-number-of-results-fired.json",
        SearchIntervalInMinutes="90",
        SearchQuery=None,
        AlertType=None,
    )

    assert condition_line(parse(payload)) == "Number of results: results 1 > 0 over 90 min"


# --- Service Health and Resource Health -------------------------------------------------------


def test_incident_title_of_service_health_names_several_services_and_regions() -> None:
    impacted = [
        {"ServiceName": "SQL Database", "ImpactedRegions": [{"RegionName": "West Europe"}]},
        {
            "ServiceName": "App Service",
            "ImpactedRegions": [{"RegionName": "North Europe"}, {"RegionName": "West Europe"}],
        },
        {"ServiceName": "Storage", "ImpactedRegions": "not a list"},
        "not an object",
    ]

    title, _ = read(with_properties(SERVICE_HEALTH, impactedServices=impacted))

    assert title == (
        "SQL Database & App Service (+1), West Europe & North Europe: Connectivity issues"
    )


@pytest.mark.parametrize(
    ("impacted", "title"),
    [
        (
            json.dumps([{"ServiceName": "Key Vault", "ImpactedRegions": [{"RegionName": "UK"}]}]),
            "Key Vault, UK: Connectivity issues",
        ),
        ("{not json", "SQL Database, West Europe: Connectivity issues"),  # service, region
        (None, "SQL Database, West Europe: Connectivity issues"),
    ],
)
def test_incident_title_of_service_health_reads_impacted_services_sent_as_json_text(
    impacted: Any, title: str
) -> None:
    assert read(with_properties(SERVICE_HEALTH, impactedServices=impacted))[0] == title


def test_incident_title_of_service_health_without_title_falls_back_to_rule() -> None:
    payload = with_properties(SERVICE_HEALTH, title=None, defaultLanguageTitle=None)

    title, condition = read(payload)

    assert title == "test-ServiceHealthAlertRule on aaaa0a0a-bb1b-cc2c-dd3d-eeeeee4e4e4e"
    assert condition == "Incident, stage Active, tracking ID TEST-TTT"


def test_condition_line_of_service_health_without_type_or_stage() -> None:
    payload = with_properties(SERVICE_HEALTH, incidentType=None, stage=None, trackingId=7)
    payload["data"]["alertContext"]["status"] = None

    assert condition_line(parse(payload)) == "Service Health event, tracking ID 7"


def test_incident_title_of_resource_health_without_target_or_health() -> None:
    payload = with_essentials(RESOURCE_HEALTH, alertTargetIDs=None)
    payload["data"]["alertContext"]["properties"] = {"currentHealthStatus": "Degraded"}
    silent = with_properties(RESOURCE_HEALTH, currentHealthStatus=None, title=None)

    assert read(payload) == ("Resource Degraded", "Health Degraded (event Active)")
    assert read(silent)[0] == "test-ResourceHealthAlertRule on test-VM"


# --- budgets ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spent", "unit", "title"),
    [
        ("$11,111.00", "USD", "Budget Test_actual_cost_budget: 11,111.00 of 50.00 USD"),
        ("1234567.5", "EUR", "Budget Test_actual_cost_budget: 1,234,567.50 of 50.00 EUR"),
        ("€12.5", None, "Budget Test_actual_cost_budget: €12.50 of $50.00"),
        ("about 12", "USD", "Budget Test_actual_cost_budget: about 12 of 50.00 USD"),
        (12, "USD", "Budget Test_actual_cost_budget: 12.00 of 50.00 USD"),
    ],
)
def test_incident_title_of_budget_writes_amounts_with_thousands_separators(
    spent: Any, unit: Any, title: str
) -> None:
    payload = copy.deepcopy(load_fixture(BUDGET))
    payload["data"]["alertContext"]["AlertData"].update(SpentAmount=spent, Unit=unit)

    assert read(payload)[0] == title


def test_incident_title_of_budget_without_budget_amount() -> None:
    payload = copy.deepcopy(load_fixture(BUDGET))
    payload["data"]["alertContext"]["AlertData"].update(
        BudgetThreshold=None, NotificationThresholdAmount=None
    )

    assert read(payload) == (
        "Budget Test_actual_cost_budget: 11,111.00 USD",
        "Spent 11,111.00 USD",
    )


# --- never raises, always fits ----------------------------------------------------------------

# Text a body may hold: no NUL, no lone surrogate (parsing refuses those, tested there).
texts = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"))
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | texts,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(texts, children, max_size=4),
    max_leaves=16,
)
SERVICES = [
    "Platform",
    "Log Alerts V2",
    "Log Analytics",
    "Application Insights",
    "Activity Log - Administrative",
    "Activity Log - Security",
    "Activity Log - Autoscale",
    "Activity Log - Policy",
    "ServiceHealth",
    "Resource Health",
    "CostAlerts",
    "SmartDetector",
    "Prometheus",
    "Something new",
]
KEYS = sorted(
    {
        key
        for path in AZURE.glob("*.json")
        if not path.name.startswith("legacy-")
        for key in (json.loads(path.read_text())["data"].get("alertContext") or {})
    }
    | {"condition", "properties", "AlertData", "labels"}
)


@settings(max_examples=300, deadline=None)
@given(
    service=st.sampled_from(SERVICES),
    context=st.dictionaries(st.sampled_from(KEYS), json_values, max_size=6),
    targets=st.sampled_from([None, [], ["/subscriptions/x/resourceGroups/r/providers/a/b/c"]]),
)
def test_headlines_never_raise_on_any_context(
    service: str, context: dict[str, Any], targets: Any
) -> None:
    payload = with_essentials(STATIC, monitoringService=service, alertTargetIDs=targets)
    payload["data"]["alertContext"] = context

    alert = parse(payload)
    title, condition = incident_title(alert), condition_line(alert)

    assert 0 < len(title) <= 255
    assert len(condition) <= 500
    assert "\n" not in title + condition


def test_headlines_fall_back_when_a_reader_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(alert: ParsedAlert, ctx: dict[str, Any]) -> str:
        raise KeyError("a shape nobody foresaw")

    monkeypatch.setattr(headlines, "_metric_title", broken)
    monkeypatch.setattr(headlines, "_metric_condition", broken)
    alert = parse(load_fixture(STATIC))

    assert incident_title(alert) == "test-metricAlertRule on test-storageAccount"
    assert condition_line(alert) == ""


def test_headlines_say_nothing_about_a_context_they_do_not_know() -> None:
    payload = with_essentials(STATIC, monitoringService="Something new")
    payload["data"]["alertContext"] = {"whatever": 1}

    assert read(payload) == ("test-metricAlertRule on test-storageAccount", "")


def test_incident_title_and_condition_fit_their_columns() -> None:
    title, condition = read(with_criterion(STATIC, metricName="M" * 400, searchQuery=None))

    assert len(title) <= 255
    assert title.startswith("M" * 79)
    assert len(condition) <= 500


@pytest.mark.parametrize(
    ("value", "text"),
    [("PT5M", "5 min"), ("PT1H", "1 h"), ("P1DT2H", "1 d 2 h"), ("PT30S", "30 s"), ("5m", "5m")],
)
def test_duration_reads_iso_8601(value: str, text: str) -> None:
    assert headlines.duration(value) == text


def test_number_and_text_ignore_values_of_the_wrong_type() -> None:
    assert headlines.number(True) == ""
    assert headlines.number(1e20) == "100000000000000000000.000".rstrip("0").rstrip(".")
    assert headlines.text({"a": 1}) == ""
    assert headlines.text(["a"]) == ""
    assert headlines.text("a\n  b") == "a b"


def test_incident_title_of_autoscale_names_a_failed_scale_action() -> None:
    payload = with_context("activity-log-autoscale.json", "Activity Log - Autoscale")
    payload["data"]["alertContext"]["status"] = "Failed"

    assert read(payload)[0] == "Autoscale scale up 9 → 10 instances (Failed) on ai-orion-int-fe"
