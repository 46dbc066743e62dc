"""A new alert's link and targets are worked out once, however many places write them."""

import json
from typing import Any

import pytest

from integrations import headlines, parsing, summaries
from integrations.parsing import parse_alert
from integrations.summaries import incident_description, incident_title, portal_url
from tests.helpers import ALERTS_MANAGEMENT, STATIC, vm_id, with_essentials


def _counting(monkeypatch: pytest.MonkeyPatch, module: Any, name: str) -> list[Any]:
    calls: list[Any] = []
    real = getattr(module, name)

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, counted)
    return calls


def _parsed() -> parsing.ParsedAlert:
    payload = with_essentials(
        STATIC, alertId=ALERTS_MANAGEMENT + "once-1", alertTargetIDs=[vm_id("vm-once")]
    )
    return parse_alert(json.dumps(payload).encode())


def test_alert_portal_url_quotes_an_alert_id_once(monkeypatch: pytest.MonkeyPatch) -> None:
    parsing.alert_portal_url.cache_clear()
    quoted = _counting(monkeypatch, parsing, "quote")
    alert = _parsed()  # parsing checks the link's length
    link = portal_url(alert)
    assert link in incident_description(alert)
    assert link == parsing.PORTAL_ALERT_URL + parsing.quote(alert.alert_id, safe="")
    assert len(quoted) == 2  # the first call, and the line above


def test_resource_ref_parses_a_target_once_for_title_and_description(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    headlines.resource_ref.cache_clear()
    parsed = _counting(monkeypatch, headlines, "parse_resource_id")
    # Wherever the description's module would parse (it asks headlines' cache instead).
    monkeypatch.setattr(summaries, "parse_resource_id", headlines.parse_resource_id, raising=False)
    alert = _parsed()
    assert "vm-once" in incident_title(alert)
    assert "Resource: vm-once (microsoft.compute/virtualmachines)" in incident_description(alert)
    assert len(parsed) == 1
