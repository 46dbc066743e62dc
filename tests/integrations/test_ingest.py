"""Accepted alerts: one incident per Azure alert, its CIs, priority, lifecycle and deliveries."""

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from django.db import connection as db
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from cmdb.models import ConfigurationItem
from cmdb.services import ci_upsert_for_resources
from incidents.choices import IncidentState, JournalKind, ResolutionCode
from incidents.models import Incident, JournalEntry
from incidents.services import incident_cancel, incident_close, incident_resolve, incident_start
from integrations.choices import (
    AZURE_MONITOR_ACTION_GROUP_APP_ID,
    AZURE_MONITOR_ACTOR,
    DeliveryOutcome,
    MonitorCondition,
)
from integrations.models import Alert, Connection, Delivery
from tests.helpers import (
    AUDIENCE,
    AZURE,
    CLIENT_ID,
    LOG_V2,
    RESOLVED_FIRST,
    STATIC,
    TENANT_ID,
    TEST_JWKS_URI,
    load_fixture,
    make_token,
    with_essentials,
)
from tests.helpers import SUBSCRIPTION as SUB

STATIC_ESSENTIALS = load_fixture(STATIC)["data"]["essentials"]
STATIC_TARGET = STATIC_ESSENTIALS["alertTargetIDs"][0]
NUMBER = re.compile(r"^INC\d{7}$")
VM_CLASS = "microsoft.compute/virtualmachines"
VM_TYPE = "Microsoft.Compute/virtualMachines"

# sample -> (CI classes of its targets, severity, priority, state, title)
SAMPLES: dict[str, tuple[list[str], str | None, int, str, str]] = {
    "activity-log-administrative-fired.json": (
        [VM_CLASS],
        "Sev4",
        5,
        IncidentState.NEW,
        "Microsoft.Compute/virtualMachines/restart Succeeded on test-VM",
    ),
    "budget-costalerts-actual-fired.json": (
        [],
        None,
        4,
        IncidentState.NEW,
        "Budget Test_actual_cost_budget: 11,111.00 of 50.00 USD",
    ),
    "budget-costalerts-forecasted-fired.json": (
        [],
        None,
        4,
        IncidentState.NEW,
        "Budget Test_forcasted_budget: forecast 1,111.11 of 50.00 USD",
    ),
    "budget-costalerts-test-delivery-confirmation.json": (
        [],
        None,
        4,
        IncidentState.NEW,
        "Budget Test_forcasted_budget: forecast 1,111.11 of 50.00 USD",
    ),
    "log-alerts-v2-fired-resource-logs.json": (
        [VM_CLASS],
        "Sev4",
        5,
        IncidentState.NEW,
        "AcmeRule: Count 0 < 1 on testvm",
    ),
    "log-alerts-v2-fired.json": (
        ["microsoft.operationalinsights/workspaces"],
        "Sev4",
        5,
        IncidentState.NEW,
        "test-logAlertRule-v2: Count 3 > 0 on test-logAnalyticsWorkspace",
    ),
    "log-analytics-v1-metric-measurement-fired.json": (
        ["microsoft.operationalinsights/workspaces"],
        "Sev4",
        5,
        IncidentState.NEW,
        "test-logAlertRule-v1-metricMeasurement: value 2 > 0 on test-logAnalyticsWorkspace",
    ),
    "log-analytics-v1-number-of-results-fired.json": (
        ["microsoft.operationalinsights/workspaces"],
        "Sev4",
        5,
        IncidentState.NEW,
        "test-logAlertRule-v1-numResults: results 1 > 0 on test-logAnalyticsWorkspace",
    ),
    "platform-availability-test-fired.json": (
        ["microsoft.insights/components"],
        "Sev4",
        5,
        IncidentState.NEW,
        "Availability test test-availabilityTest-test-applicationInsights failing in 5 locations "
        "(> 2)",
    ),
    "platform-metric-dynamic-threshold-fired.json": (
        ["microsoft.storage/storageaccounts"],
        "Sev4",
        5,
        IncidentState.NEW,
        "Transactions 78.09 > 0.3 (dynamic) on test-storageAccount",
    ),
    # Resolved arriving first (the Fired message was lost): the incident is kept, resolved.
    "platform-metric-resolved-no-alertruleid.json": (
        [VM_CLASS],
        "Sev3",
        4,
        IncidentState.RESOLVED,
        "Percentage CPU 7.727 (threshold > 25) on wcus-r2-gen2",
    ),
    "platform-metric-resolved.json": (
        [VM_CLASS],
        "Sev3",
        4,
        IncidentState.RESOLVED,
        "Percentage CPU 7.727 (threshold > 25) on wcus-r2-gen2",
    ),
    "platform-metric-static-threshold-fired.json": (
        ["microsoft.storage/storageaccounts"],
        "Sev4",
        5,
        IncidentState.NEW,
        "Transactions 100 > 0 on test-storageAccount",
    ),
    "resource-health-fired.json": (
        [VM_CLASS],
        "Sev4",
        5,
        IncidentState.NEW,
        "test-VM Unavailable (user initiated)",
    ),
    "service-health-fired-2021-variant.json": (
        ["microsoft.resources/subscriptions"],
        "Sev4",
        5,
        IncidentState.RESOLVED,  # stage Resolved
        "Azure Service Name, Global: Test Action Group - Test Service Health Alert",
    ),
    "service-health-fired.json": (
        ["microsoft.resources/subscriptions"],
        "Sev4",
        5,
        IncidentState.RESOLVED,  # stage Resolved
        "AzureServiceName, Global: TestActionGroup-TestServiceHealthAlert",
    ),
    "smart-detector-fired.json": (
        ["microsoft.insights/components"],
        "Sev4",
        5,
        IncidentState.NEW,
        "Dependency Performance Degradation Detector: 0.45 sec on test-applicationInsights",
    ),
    "third-party/prometheus-fired.json": (
        ["microsoft.monitor/accounts"],
        "Sev4",
        5,
        IncidentState.NEW,
        "Average node CPU utilization is greater than 80%: 12.7m on aks0001",
    ),
}

# Later messages of a Service Health or Resource Health event, written by us (SOURCES.md):
# what they do depends on what came before, so the lifecycle tests post them in order.
FOLLOW_UPS = {
    "resource-health-available.json",
    "resource-health-degraded.json",
    "resource-health-unknown.json",
    "resource-health-updated-null.json",
    "service-health-active.json",
    "service-health-maintenance-complete.json",
    "service-health-maintenance-planned.json",
    "service-health-rca.json",
    "service-health-resolved.json",
    "service-health-update.json",
}

_TRANSACTION_CONTROL = (
    "SAVEPOINT",
    "RELEASE SAVEPOINT",
    "ROLLBACK TO SAVEPOINT",
    "BEGIN",
    "COMMIT",
)


def data_queries(context: CaptureQueriesContext) -> list[str]:
    """The statements that read or write rows.

    Inside a `django_db` test the service's atomic blocks become savepoints; in production
    they are BEGIN/COMMIT. Neither is work the code chose to do, so neither is counted.
    """
    return [
        q["sql"]
        for q in context.captured_queries
        if not q["sql"].lstrip().upper().startswith(_TRANSACTION_CONTROL)
    ]


def resolved(name: str, **changes: Any) -> dict[str, Any]:
    return with_essentials(name, monitorCondition="Resolved", **changes)


def snapshot(incident: Incident) -> dict[str, Any]:
    """What must not change when a message changes nothing."""
    incident.refresh_from_db()
    return {
        "state": incident.state,
        "updated_at": incident.updated_at,
        "resolved_at": incident.resolved_at,
        "closed_at": incident.closed_at,
        "resolution_code": incident.resolution_code,
        "resolution_notes": incident.resolution_notes,
        "journal": list(incident.journal.values_list("pk", flat=True)),
        "cis": sorted(incident.configuration_items.values_list("pk", flat=True)),
    }


@pytest.fixture
def operator(django_user_model: Any) -> Any:
    return django_user_model.objects.create_user(username="operator", password="x")


# --- every monitoring service opens an incident -------------------------------------------


def test_ingest_samples_cover_every_complete_fixture() -> None:
    on_disk = {
        str(p.relative_to(AZURE))
        for p in [*AZURE.glob("*.json"), *AZURE.glob("third-party/*.json")]
        if not p.name.startswith("legacy-")
    }

    assert on_disk - FOLLOW_UPS == set(SAMPLES)


@pytest.mark.django_db
@pytest.mark.parametrize("name", SAMPLES, ids=str)
def test_alert_ingest_opens_incident_for_sample(
    connection: Connection, post_alert: Any, name: str
) -> None:
    ci_classes, severity, priority, state, title = SAMPLES[name]
    essentials = load_fixture(f"azure/{name}")["data"]["essentials"]
    targets = essentials.get("alertTargetIDs") or []

    response = post_alert(f"azure/{name}")

    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "created"
    assert NUMBER.match(body["incident"])
    assert body["alert_id"] == essentials["alertId"]
    assert body["incident_state"] == state
    incident = Incident.objects.get()
    assert incident.number == body["incident"]
    assert incident.title == title
    assert incident.severity == severity
    assert incident.priority == priority
    assert incident.state == state
    assert essentials["alertId"] in incident.description
    cis = list(incident.configuration_items.order_by("pk"))
    assert [ci.ci_class for ci in cis] == ci_classes
    assert [ci.azure_resource_id for ci in cis] == [t.lower() for t in targets]
    assert [ci.name for ci in cis] == [t.rstrip("/").rsplit("/", 1)[-1] for t in targets]
    assert ConfigurationItem.objects.count() == len(targets)
    alert = Alert.objects.get()
    assert alert.incident == incident
    assert alert.alert_id == essentials["alertId"]
    assert alert.monitor_condition == essentials["monitorCondition"]
    assert alert.target_ids == targets
    assert alert.configuration_items == (essentials.get("configurationItems") or [])


@pytest.mark.django_db
def test_alert_ingest_journals_opening_by_azure_monitor(
    connection: Connection, post_alert: Any
) -> None:
    post_alert(STATIC)

    entry = JournalEntry.objects.get()
    assert entry.actor_name == AZURE_MONITOR_ACTOR
    assert entry.actor is None
    assert entry.kind == JournalKind.OPENED
    assert entry.to_state == IncidentState.NEW
    assert "test-metricAlertRule" in entry.message


@pytest.mark.django_db
def test_alert_ingest_keeps_alert_details(connection: Connection, post_alert: Any) -> None:
    post_alert(RESOLVED_FIRST)

    alert = Alert.objects.get()
    essentials = load_fixture(RESOLVED_FIRST)["data"]["essentials"]
    assert alert.alert_rule == "WCUS-R2-Gen2"
    assert alert.alert_rule_id == essentials["alertRuleId"]
    assert alert.severity == "Sev3"
    assert alert.signal_type == "Metric"
    assert alert.monitoring_service == "Platform"
    assert alert.fired_at == datetime(2019, 3, 22, 13, 58, 24, 371321, tzinfo=UTC)
    assert alert.resolved_at == datetime(2019, 3, 22, 14, 3, 16, 224631, tzinfo=UTC)
    assert alert.portal_url.startswith("https://portal.azure.com/#blade/")


@pytest.mark.django_db
def test_alert_ingest_opens_incident_at_fired_time(connection: Connection, post_alert: Any) -> None:
    post_alert(STATIC)

    assert Incident.objects.get().opened_at == datetime(2025, 4, 15, 18, 17, 12, 851000, tzinfo=UTC)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("severity", "priority"),
    [("Sev0", 1), ("Sev1", 2), ("Sev2", 3), ("Sev3", 4), ("Sev4", 5), (None, 4)],
)
def test_alert_ingest_sets_priority_from_severity(
    connection: Connection, post_alert: Any, severity: str | None, priority: int
) -> None:
    response = post_alert(with_essentials(STATIC, severity=severity))

    assert response.status_code == 201
    incident = Incident.objects.get()
    assert incident.severity == severity
    assert incident.priority == priority


@pytest.mark.django_db
def test_alert_ingest_gives_absent_severity_priority_4(
    connection: Connection, post_alert: Any
) -> None:
    post_alert(with_essentials(STATIC, severity=...))

    assert Incident.objects.get().priority == 4


@pytest.mark.django_db
def test_alert_ingest_opens_one_incident_per_connection(
    connection: Connection, post_alert: Any
) -> None:
    Connection.objects.create(
        slug="fabrikam",
        name="Fabrikam",
        tenant_id=TENANT_ID,
        audiences=[AUDIENCE, CLIENT_ID],
        jwks_uri=TEST_JWKS_URI,
    )

    first = post_alert(STATIC)
    second = post_alert(STATIC, slug="fabrikam")

    assert first.status_code == second.status_code == 201
    assert first.json()["incident"] != second.json()["incident"]
    assert Alert.objects.count() == 2
    assert ConfigurationItem.objects.count() == 1  # the resource is the same


# --- configuration items ------------------------------------------------------------------


@pytest.mark.django_db
def test_alert_ingest_links_existing_ci_case_insensitively(
    connection: Connection, post_alert: Any
) -> None:
    earlier = timezone.now() - timedelta(days=30)
    (existing,) = ci_upsert_for_resources(resource_ids=[STATIC_TARGET.upper()], seen_at=earlier)

    post_alert(STATIC)

    ci = ConfigurationItem.objects.get()
    assert ci.pk == existing.pk
    assert ci.azure_resource_id == STATIC_TARGET.lower()
    assert ci.first_seen_at == earlier
    assert ci.last_seen_at > earlier
    assert list(Incident.objects.get().configuration_items.all()) == [ci]


@pytest.mark.django_db
def test_alert_ingest_links_one_ci_for_targets_differing_in_case(
    connection: Connection, post_alert: Any
) -> None:
    targets = [STATIC_TARGET, STATIC_TARGET.upper(), STATIC_TARGET + "/"]

    response = post_alert(with_essentials(STATIC, alertTargetIDs=targets))

    assert response.status_code == 201
    assert ConfigurationItem.objects.count() == 1
    assert Incident.objects.get().configuration_items.count() == 1


@pytest.mark.django_db
def test_alert_ingest_links_every_target(connection: Connection, post_alert: Any) -> None:
    targets = [
        STATIC_TARGET,
        f"/subscriptions/{SUB}/resourceGroups/data/providers/Microsoft.Sql/servers/sql-1"
        "/databases/orders",
        f"/subscriptions/{SUB}/resourceGroups/test-RG",
    ]

    post_alert(with_essentials(STATIC, alertTargetIDs=targets))

    classes = set(Incident.objects.get().configuration_items.values_list("ci_class", flat=True))
    assert classes == {
        "microsoft.storage/storageaccounts",
        "microsoft.sql/servers/databases",
        "microsoft.resources/resourcegroups",
    }


@pytest.mark.django_db
def test_alert_ingest_shares_ci_between_incidents(connection: Connection, post_alert: Any) -> None:
    post_alert(STATIC)
    post_alert(
        with_essentials(STATIC, alertId="second-alert", alertTargetIDs=[STATIC_TARGET.upper()])
    )

    ci = ConfigurationItem.objects.get()
    assert ci.incidents.count() == 2


def _vm(name: str, group: str = "test-RG") -> str:
    return f"/subscriptions/{SUB}/resourceGroups/{group}/providers/{VM_TYPE}/{name}"


def _log_v2_ci_classes() -> set[str]:
    return set(Incident.objects.get().configuration_items.values_list("ci_class", flat=True))


@pytest.mark.django_db
def test_alert_ingest_keeps_configuration_item_names_without_ci(
    connection: Connection, post_alert: Any
) -> None:
    post_alert(LOG_V2)

    assert Alert.objects.get().configuration_items == ["test-computer"]
    assert _log_v2_ci_classes() == {"microsoft.operationalinsights/workspaces"}
    assert not ConfigurationItem.objects.filter(name__iexact="test-computer").exists()


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["test-computer", "TEST-Computer"])
def test_alert_ingest_links_ci_named_by_log_alert_when_unique(
    connection: Connection, post_alert: Any, name: str
) -> None:
    (vm,) = ci_upsert_for_resources(resource_ids=[_vm(name)], seen_at=timezone.now())

    post_alert(LOG_V2)

    cis = Incident.objects.get().configuration_items.all()
    assert vm in cis
    assert {ci.ci_class for ci in cis} == {"microsoft.operationalinsights/workspaces", VM_CLASS}
    assert Alert.objects.get().configuration_items == ["test-computer"]


@pytest.mark.django_db
def test_alert_ingest_skips_ci_name_that_is_ambiguous(
    connection: Connection, post_alert: Any
) -> None:
    ci_upsert_for_resources(
        resource_ids=[_vm("test-computer", "rg-a"), _vm("test-computer", "rg-b")],
        seen_at=timezone.now(),
    )

    post_alert(LOG_V2)

    assert _log_v2_ci_classes() == {"microsoft.operationalinsights/workspaces"}
    assert Alert.objects.get().configuration_items == ["test-computer"]


# --- lifecycle: repeats, resolution, late and stale messages --------------------------------


@pytest.mark.django_db
def test_alert_ingest_repeat_fired_changes_nothing(connection: Connection, post_alert: Any) -> None:
    number = post_alert(STATIC).json()["incident"]
    incident = Incident.objects.get()
    before = snapshot(incident)

    response = post_alert(STATIC)

    assert response.status_code == 200
    assert response.json() == {
        "status": "duplicate",
        "incident": number,
        "incident_state": IncidentState.NEW,
        "alert_id": STATIC_ESSENTIALS["alertId"],
    }
    assert snapshot(incident) == before
    assert Incident.objects.count() == 1
    assert Alert.objects.get().monitor_condition == MonitorCondition.FIRED


@pytest.mark.django_db
def test_alert_ingest_resolved_resolves_incident(connection: Connection, post_alert: Any) -> None:
    number = post_alert(STATIC).json()["incident"]

    response = post_alert(resolved(STATIC, resolvedDateTime="2025-04-15T18:47:12.1234567Z"))

    assert response.status_code == 200
    assert response.json()["status"] == "resolved"
    assert response.json()["incident"] == number
    assert response.json()["incident_state"] == IncidentState.RESOLVED
    incident = Incident.objects.get()
    resolved_at = datetime(2025, 4, 15, 18, 47, 12, 123456, tzinfo=UTC)
    assert incident.state == IncidentState.RESOLVED
    assert incident.resolved_at == resolved_at
    assert incident.resolution_code == ResolutionCode.RESOLVED_BY_SOURCE
    entry = incident.journal.get(to_state=IncidentState.RESOLVED)
    assert entry.actor_name == AZURE_MONITOR_ACTOR
    assert entry.from_state == IncidentState.NEW
    alert = Alert.objects.get()
    assert alert.monitor_condition == MonitorCondition.RESOLVED
    assert alert.resolved_at == resolved_at


@pytest.mark.django_db
def test_alert_ingest_resolved_without_time_uses_arrival(
    connection: Connection, post_alert: Any
) -> None:
    post_alert(STATIC)
    before = timezone.now()

    post_alert(resolved(STATIC, resolvedDateTime=...))

    incident = Incident.objects.get()
    assert incident.state == IncidentState.RESOLVED
    assert before <= incident.resolved_at <= timezone.now()


@pytest.mark.django_db
def test_alert_ingest_repeat_resolved_changes_nothing(
    connection: Connection, post_alert: Any
) -> None:
    post_alert(STATIC)
    post_alert(resolved(STATIC, resolvedDateTime="2025-04-15T18:47:12Z"))
    incident = Incident.objects.get()
    before = snapshot(incident)

    response = post_alert(resolved(STATIC, resolvedDateTime="2025-04-15T18:59:00Z"))

    assert response.status_code == 200
    assert response.json()["status"] == "duplicate"
    assert snapshot(incident) == before
    assert Alert.objects.get().resolved_at == datetime(2025, 4, 15, 18, 47, 12, tzinfo=UTC)


@pytest.mark.django_db
def test_alert_ingest_resolved_before_fired_opens_resolved_incident(
    connection: Connection, post_alert: Any
) -> None:
    response = post_alert(RESOLVED_FIRST)

    assert response.status_code == 201
    assert response.json()["status"] == "created"
    assert response.json()["incident_state"] == IncidentState.RESOLVED
    incident = Incident.objects.get()
    assert incident.state == IncidentState.RESOLVED
    assert incident.resolved_at == datetime(2019, 3, 22, 14, 3, 16, 224631, tzinfo=UTC)
    assert incident.resolution_code == ResolutionCode.RESOLVED_BY_SOURCE
    assert incident.journal.filter(
        actor_name=AZURE_MONITOR_ACTOR, to_state=IncidentState.RESOLVED
    ).exists()


@pytest.mark.django_db
def test_alert_ingest_fired_after_resolved_first_is_stale(
    connection: Connection, post_alert: Any
) -> None:
    post_alert(RESOLVED_FIRST)
    incident = Incident.objects.get()
    before = snapshot(incident)

    response = post_alert(
        with_essentials(RESOLVED_FIRST, monitorCondition="Fired", resolvedDateTime=...)
    )

    assert response.status_code == 200
    assert response.json()["status"] == "stale"
    assert response.json()["incident"] == incident.number
    assert snapshot(incident) == before
    assert Alert.objects.get().monitor_condition == MonitorCondition.RESOLVED


@pytest.mark.django_db
def test_alert_ingest_late_fired_after_resolve_is_stale(
    connection: Connection, post_alert: Any
) -> None:
    post_alert(STATIC)
    post_alert(resolved(STATIC))
    incident = Incident.objects.get()
    before = snapshot(incident)

    response = post_alert(STATIC)

    assert response.status_code == 200
    assert response.json()["status"] == "stale"
    assert snapshot(incident) == before
    assert Incident.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("operator_action", ["close", "cancel"])
def test_alert_ingest_resolved_leaves_operator_decision_alone(
    connection: Connection, post_alert: Any, operator: Any, operator_action: str
) -> None:
    post_alert(STATIC)
    incident = Incident.objects.get()
    if operator_action == "close":
        incident_resolve(incident=incident, actor=operator, resolution_code=ResolutionCode.SOLVED)
        incident_close(incident=incident, actor=operator)
    else:
        incident_cancel(incident=incident, actor=operator, reason="false alarm")
    before = snapshot(incident)

    response = post_alert(resolved(STATIC, resolvedDateTime="2025-04-15T18:47:12Z"))

    assert response.status_code == 200
    assert response.json()["incident_state"] == before["state"]
    assert snapshot(incident) == before
    assert not incident.journal.filter(actor_name=AZURE_MONITOR_ACTOR, to_state="resolved").exists()
    alert = Alert.objects.get()
    assert alert.monitor_condition == MonitorCondition.RESOLVED
    assert alert.resolved_at == datetime(2025, 4, 15, 18, 47, 12, tzinfo=UTC)


@pytest.mark.django_db
def test_alert_ingest_resolved_keeps_operator_resolution(
    connection: Connection, post_alert: Any, operator: Any
) -> None:
    post_alert(STATIC)
    incident = Incident.objects.get()
    incident_resolve(
        incident=incident,
        actor=operator,
        resolution_code=ResolutionCode.WORKAROUND,
        resolution_notes="Restarted it.",
    )
    before = snapshot(incident)

    post_alert(resolved(STATIC))

    assert snapshot(incident) == before
    assert incident.resolution_code == ResolutionCode.WORKAROUND


@pytest.mark.django_db
def test_alert_ingest_resolved_resolves_incident_in_progress(
    connection: Connection, post_alert: Any, operator: Any
) -> None:
    post_alert(STATIC)
    incident_start(incident=Incident.objects.get(), actor=operator)

    response = post_alert(resolved(STATIC))

    incident = Incident.objects.get()
    assert response.json()["status"] == "resolved"
    assert incident.state == IncidentState.RESOLVED
    assert incident.journal.get(actor_name=AZURE_MONITOR_ACTOR, to_state="resolved").from_state == (
        IncidentState.IN_PROGRESS
    )


# --- query counts -------------------------------------------------------------------------


@pytest.mark.django_db
def test_alert_ingest_queries_do_not_grow_with_targets(
    connection: Connection, post_alert: Any
) -> None:
    post_alert("azure/activity-log-administrative-fired.json")  # warm up: key set, caches
    twenty = [f"{STATIC_TARGET}-{i}" for i in range(20)]
    # Without configurationItems, so only the number of targets differs.
    one = with_essentials(STATIC, alertId="one-target", configurationItems=...)
    many = with_essentials(STATIC, alertId="twenty", alertTargetIDs=twenty, configurationItems=...)

    with CaptureQueriesContext(db) as one_target:
        assert post_alert(one).status_code == 201
    with CaptureQueriesContext(db) as twenty_targets:
        response = post_alert(many)

    assert response.status_code == 201
    assert (
        Incident.objects.get(number=response.json()["incident"]).configuration_items.count() == 20
    )
    assert len(data_queries(twenty_targets)) == len(data_queries(one_target))
    assert len(twenty_targets.captured_queries) == len(one_target.captured_queries)


@pytest.mark.django_db
def test_alert_ingest_repeat_uses_at_most_four_queries(
    connection: Connection, post_alert: Any
) -> None:
    post_alert(STATIC)

    with CaptureQueriesContext(db) as repeat:
        assert post_alert(STATIC).status_code == 200

    assert len(data_queries(repeat)) <= 4


# --- deliveries ---------------------------------------------------------------------------


def _field_values(row: Any) -> list[str | bytes]:
    values: list[str | bytes] = []
    for field in row._meta.concrete_fields:
        value = getattr(row, field.attname)
        values.append(bytes(value) if isinstance(value, memoryview | bytes) else str(value))
    return values


@pytest.mark.django_db
@pytest.mark.parametrize("version", ["1.0", "2.0"])
def test_alert_ingest_stores_delivery_as_received_without_token(
    connection: Connection, post_alert: Any, signing_key: Any, version: str
) -> None:
    raw = (AZURE / "platform-metric-static-threshold-fired.json").read_bytes()
    token = make_token(signing_key, version=version)
    claims = jwt.decode(token, options={"verify_signature": False})

    post_alert(raw, token=token)

    delivery = Delivery.objects.get()
    assert bytes(delivery.body) == raw
    assert delivery.content_type == "application/json"
    assert delivery.outcome == DeliveryOutcome.CREATED
    assert delivery.status_code == 201
    assert delivery.alert == Alert.objects.get()
    assert delivery.reported_alert_id == STATIC_ESSENTIALS["alertId"]
    assert delivery.caller_app_id == AZURE_MONITOR_ACTION_GROUP_APP_ID
    assert delivery.caller_object_id == claims["oid"]
    assert delivery.caller_tenant_id == TENANT_ID
    signature = token.rsplit(".", 1)[1]
    for row in (delivery, Alert.objects.get(), Incident.objects.get()):
        for value in _field_values(row):
            secret = (
                (token, signature)
                if isinstance(value, str)
                else (token.encode(), signature.encode())
            )
            assert all(part not in value for part in secret)


@pytest.mark.django_db
def test_alert_ingest_stores_every_accepted_delivery_with_its_outcome(
    connection: Connection, post_alert: Any
) -> None:
    bodies = [STATIC, STATIC, resolved(STATIC), resolved(STATIC), STATIC]
    sent = [json.dumps(load_fixture(b) if isinstance(b, str) else b).encode() for b in bodies]

    statuses = [post_alert(body).status_code for body in sent]

    deliveries = list(Delivery.objects.order_by("pk"))
    assert statuses == [201, 200, 200, 200, 200]
    assert [d.outcome for d in deliveries] == [
        "created",
        "duplicate",
        "resolved",
        "duplicate",
        "stale",
    ]
    assert [d.status_code for d in deliveries] == statuses
    assert [bytes(d.body) for d in deliveries] == sent
    assert {d.alert_id for d in deliveries} == {Alert.objects.get().pk}


@pytest.mark.django_db
def test_delivery_receive_refuses_an_alert_naming_no_subscription_when_some_are_allowed(
    connection: Connection, post_alert: Any
) -> None:
    connection.allowed_subscriptions = [STATIC_TARGET.split("/")[2].lower()]
    connection.save()
    payload = with_essentials(STATIC, alertId="no-subscription-here", alertTargetIDs=[])

    response = post_alert(payload)

    assert response.status_code == 403
    assert response.json()["code"] == "subscription_not_allowed"
    assert "names no subscription" in response.json()["detail"]
    assert not Incident.objects.exists()
    assert Delivery.objects.get().status_code == 403
