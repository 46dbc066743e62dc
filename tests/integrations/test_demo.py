"""The offline demo, end to end over real HTTP: prepare_demo, then send_test_alert."""

import io
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from pytest_django import Settings as SettingsWrapper
from pytest_django.live_server_helper import LiveServer

from incidents.models import Incident
from integrations import jwks
from integrations.demo import sample_names
from integrations.models import Alert, Delivery

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


def test_send_test_alert_every_sample_opens_an_incident(demo: str) -> None:
    for name in sample_names():
        assert _send(demo, "--sample", name).startswith("201 created"), name
    assert Incident.objects.count() == len(sample_names())
    assert Alert.objects.count() == len(sample_names())


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


def test_prepare_demo_refuses_without_debug(settings: SettingsWrapper) -> None:
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DJANGO_DEBUG=1"):
        call_command("prepare_demo")
