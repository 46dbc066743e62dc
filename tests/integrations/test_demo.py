"""The offline demo, end to end over real HTTP: prepare_demo, then send_test_alert."""

import io
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from pytest_django import Settings as SettingsWrapper
from pytest_django.live_server_helper import LiveServer

from incidents.models import Incident
from integrations import jwks
from integrations.demo import DEMO_CORRELATION_RULE, SAMPLES_DIR, sample_names
from integrations.management.commands.send_test_alert import (
    FOLLOW_UPS,
    sample_description,
    storm_payloads,
)
from integrations.models import Alert, CorrelationRule, Delivery
from tests.helpers import AZURE, LOG_V2, is_postgres, load_fixture

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def demo(settings: SettingsWrapper, tmp_path: Path, live_server: LiveServer) -> str:
    settings.DEBUG = True
    settings.DEV_SIGNING_KEY_PATH = tmp_path / "dev-key.pem"
    jwks.clear_cache()
    out = io.StringIO()
    call_command("prepare_demo", base_url=live_server.url, stdout=out)
    assert "Created the operator account: operator /" in out.getvalue()
    yield live_server.url
    jwks.clear_cache()


def _send(url: str, *args: str) -> str:
    out = io.StringIO()
    call_command("send_test_alert", "--url", url, *args, stdout=out)
    return out.getvalue()


def test_send_test_alert_opens_then_resolves_an_incident(demo: str) -> None:
    out = _send(demo)
    assert out.startswith("201 created: incident INC")
    incident = Incident.objects.get()
    assert incident.number in out
    assert incident.state == "new"
    assert incident.configuration_items.get().name == "test-storageAccount"
    delivery = Delivery.objects.get()
    assert delivery.caller_app_id == "461e8683-5575-4561-ac7f-899cc907d62a"

    out = _send(demo, "--resolve")
    assert out.startswith("200 resolved")
    incident.refresh_from_db()
    assert incident.state == "resolved"
    assert incident.journal.filter(actor_name="Azure Monitor", to_state="resolved").exists()


def test_send_test_alert_every_sample_is_accepted(demo: str) -> None:
    # A sample that continues an event (same trackingId or resource) may join its incident.
    # Every Service Health and Resource Health sample shares its event with another one.
    chained = {*FOLLOW_UPS, *(n for n in sample_names() if "health" in n)}
    for name in sample_names():
        out = _send(demo, "--sample", name)
        assert out.startswith("201 created" if name not in chained else "20"), (name, out)
    # A recovery with no open incident is ignored: no alert.
    assert Alert.objects.count() <= len(sample_names())
    assert Incident.objects.count() >= len(set(sample_names()) - chained)


def test_send_test_alert_sample_keeps_its_id_when_asked(demo: str) -> None:
    first = _send(demo, "--sample", "log-v2", "--keep-id")
    again = _send(demo, "--sample", "log-v2", "--keep-id")

    assert first.startswith("201 created")
    assert again.startswith("200 duplicate")
    alert = Alert.objects.get()
    assert alert.alert_id == load_fixture(LOG_V2)["data"]["essentials"]["alertId"]
    assert f"alert ID: {alert.alert_id}" in again


def test_send_test_alert_file_keeps_its_id_unless_told(demo: str, tmp_path: Path) -> None:
    path = tmp_path / "alert.json"
    path.write_bytes((AZURE / "resource-health-degraded.json").read_bytes())

    assert _send(demo, "--file", str(path)).startswith("201 created")
    assert _send(demo, "--file", str(path)).startswith("200 duplicate")
    assert _send(demo, "--file", str(path), "--fresh-id").startswith("20")

    ids = set(Alert.objects.values_list("alert_id", flat=True))
    assert len(ids) == 2
    assert (
        load_fixture("azure/resource-health-degraded.json")["data"]["essentials"]["alertId"] in ids
    )


def test_send_test_alert_file_sends_bytes_as_written(demo: str, tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_bytes(b'{"schemaId": "azureMonitorCommonAlertSchema", "data": ')

    with pytest.raises(CommandError, match=r"^400: The body is not valid JSON"):
        _send(demo, "--file", str(path))
    with pytest.raises(CommandError, match="is not JSON: --fresh-id needs it"):
        _send(demo, "--file", str(path), "--fresh-id")
    path.write_text('{"data": []}')
    with pytest.raises(CommandError, match="needs a JSON object with data.essentials"):
        _send(demo, "--file", str(path), "--fresh-id")
    with pytest.raises(CommandError, match="Cannot read"):
        _send(demo, "--file", str(tmp_path / "missing.json"))
    assert Delivery.objects.filter(status_code=400).count() == 1
    assert not Alert.objects.exists()


def test_send_test_alert_storm_fires_one_rule_on_many_machines(demo: str) -> None:
    # SQLite takes one writer at a time: concurrent deliveries wait or are spooled (202).
    concurrency = "3" if is_postgres() else "1"
    out = _send(demo, "--storm", "6", "--concurrency", concurrency)

    # The demo's correlation rule (prepare_demo) makes the storm one incident.
    assert out.startswith("Storm: 6 alerts of rule test-cpu-storm on 6 VMs in ")
    assert "  201 created: 1\n" in out
    assert "  200 grouped: 5\n" in out
    assert out.endswith("incidents: 1\n")
    incident = Incident.objects.get()
    assert incident.alert_count == 6
    assert incident.configuration_items.count() == 6
    alerts = Alert.objects.all()
    assert {a.alert_rule for a in alerts} == {"test-cpu-storm"}
    assert len({a.alert_id for a in alerts}) == 6
    assert len({a.target_ids[0] for a in alerts}) == 6
    assert all(a.condition.startswith("Percentage CPU (Average) ") for a in alerts)


def test_send_test_alert_severity_sets_the_priority(demo: str) -> None:
    out = _send(demo, "--severity", "Sev0")
    assert out.startswith("201 created")
    incident = Incident.objects.get()
    assert (incident.severity, incident.priority) == ("Sev0", 1)


def test_send_test_alert_metric_flaps_on_its_third_firing(demo: str) -> None:
    # The README's flapping demo: fire, resolve, fire, resolve, fire.
    answers = [_send(demo, *args).split(":", 1)[0] for args in ([], ["--resolve"]) * 2]
    assert answers == ["201 created", "200 resolved", "201 created", "200 resolved"]
    assert _send(demo).startswith("200 reopened")
    second = Incident.objects.order_by("pk")[1]
    assert (second.state, second.is_flapping, second.alert_count) == ("in_progress", True, 2)


def test_send_test_alert_storm_refuses_odd_sizes(demo: str) -> None:
    with pytest.raises(CommandError, match="--storm takes 1 to"):
        _send(demo, "--storm", "0")
    with pytest.raises(CommandError, match="--concurrency takes 1 to 64"):
        _send(demo, "--storm", "2", "--concurrency", "0")


def test_send_test_alert_storm_reports_an_unreachable_server(demo: str) -> None:
    with pytest.raises(CommandError, match="2 of 2 deliveries were not accepted"):
        _send("http://127.0.0.1:9", "--storm", "2")


def test_send_test_alert_resolves_a_named_alert(demo: str) -> None:
    _send(demo, "--sample", "log-v2")
    first = Alert.objects.get()
    _send(demo, "--sample", "metric")
    _send(demo, "--resolve", first.alert_id)
    first.refresh_from_db()
    assert first.monitor_condition == "Resolved"
    assert Incident.objects.filter(state="new").count() == 1


def test_send_test_alert_explains_what_is_missing(demo: str) -> None:
    with pytest.raises(CommandError, match="No alert to resolve"):
        _send(demo, "--resolve")
    with pytest.raises(CommandError, match="No sample 'nope'"):
        _send(demo, "--sample", "nope")
    with pytest.raises(CommandError, match="No connection 'other'"):
        _send(demo, "--connection", "other")


def test_dev_key_set_is_not_served_without_debug(
    demo: str, settings: SettingsWrapper, client
) -> None:
    assert client.get("/dev/jwks.json", REMOTE_ADDR="127.0.0.1").status_code == 200
    assert client.get("/dev/jwks.json", REMOTE_ADDR="10.0.0.5").status_code == 404
    settings.DEBUG = False
    assert client.get("/dev/jwks.json", REMOTE_ADDR="127.0.0.1").status_code == 404


def test_prepare_demo_makes_the_storm_rule_once(demo: str, live_server: LiveServer) -> None:
    rule = CorrelationRule.objects.get(name=DEMO_CORRELATION_RULE)
    assert rule.connection is not None
    assert (rule.match["alert_rules"], rule.connection.slug) == (["test-cpu-storm"], "demo")
    out = io.StringIO()
    call_command("prepare_demo", base_url=live_server.url, stdout=out)
    assert f"Demo correlation rule '{DEMO_CORRELATION_RULE}': exists." in out.getvalue()
    assert CorrelationRule.objects.count() == 1
    # Other samples still open their own incidents.
    assert _send(demo).startswith("201 created")
    assert _send(demo, "--sample", "log-v2").startswith("201 created")


def test_prepare_demo_refuses_without_debug(settings: SettingsWrapper) -> None:
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DJANGO_DEBUG=1"):
        call_command("prepare_demo")


def test_send_test_alert_lists_what_each_sample_is() -> None:
    out = io.StringIO()
    call_command("send_test_alert", "--list-samples", stdout=out)
    lines = out.getvalue().splitlines()

    assert len(lines) == len(sample_names())
    assert any(
        line.startswith("metric ")
        and line.endswith("Platform: Transactions 100 > 0 on test-storageAccount")
        for line in lines
    )
    assert sample_description("service-health-update") == (
        "ServiceHealth: SQL Database, West Europe: Connectivity issues "
        "[after service-health-active: same trackingId, an update]"
    )


def test_storm_payloads_name_one_rule_and_different_machines() -> None:
    payloads = storm_payloads(3)

    essentials = [p["data"]["essentials"] for p in payloads]
    assert len({e["alertId"] for e in essentials}) == 3
    assert [e["configurationItems"] for e in essentials] == [
        ["vm-storm-001"],
        ["vm-storm-002"],
        ["vm-storm-003"],
    ]
    assert {e["alertRule"] for e in essentials} == {"test-cpu-storm"}
    assert all(e["alertTargetIDs"][0].endswith(e["configurationItems"][0]) for e in essentials)


def test_follow_up_samples_are_the_fixtures_of_the_same_names() -> None:
    names = {*FOLLOW_UPS, "service-health-active", "service-health-maintenance-planned"}

    for name in names:
        assert (SAMPLES_DIR / f"{name}.json").read_bytes() == (
            AZURE / f"{name}.json"
        ).read_bytes(), name
