"""The offline demo: a connection validated against a local development key."""

import json
import uuid
from pathlib import Path
from typing import Any

from django.utils import timezone

from .correlation_rules import correlation_rule_create
from .models import Connection, CorrelationRule
from .services import connection_upsert

DEMO_SLUG = "demo"
DEMO_TENANT_ID = "00000000-0000-4000-8000-00000000d3e0"
DEMO_AUDIENCE = "api://itsm-demo"
SAMPLES_DIR = Path(__file__).parent / "samples"


def demo_connection_ensure(*, base_url: str) -> tuple[Connection, str]:
    """Create or update the demo connection, whose key set is served by this app in DEBUG."""
    return connection_upsert(
        slug=DEMO_SLUG,
        values={
            "name": "Demo (offline, development signing key)",
            "tenant_id": DEMO_TENANT_ID,
            "audiences": [DEMO_AUDIENCE],
            "jwks_uri": f"{base_url.rstrip('/')}/dev/jwks.json",
            "enabled": True,
        },
    )


# The rule `send_test_alert --storm` fires (one metric rule on many VMs of rg-storm).
DEMO_STORM_RULE = "test-cpu-storm"
DEMO_CORRELATION_RULE = "demo: one incident per storm of test-cpu-storm"


def demo_correlation_rule_ensure(*, connection: Connection) -> str:
    """Make sure the demo groups `--storm` into one incident; "created" or "exists".

    It matches only the storm's rule, so every other sample still opens its own incident.
    An operator's changes to it are kept.
    """
    if CorrelationRule.objects.filter(name=DEMO_CORRELATION_RULE).exists():
        return "exists"
    correlation_rule_create(
        values={
            "name": DEMO_CORRELATION_RULE,
            "position": 10,
            "enabled": True,
            "connection": connection,
            "match": {"alert_rules": [DEMO_STORM_RULE]},
            "group_by": ["alert_rule", "resource_group"],
            "window_minutes": 10,
            "max_age_minutes": 120,
            "resolve_on": "all",
        }
    )
    return "created"


def sample_names() -> list[str]:
    return sorted(p.stem for p in SAMPLES_DIR.glob("*.json"))


def sample_payload(name: str) -> dict[str, Any]:
    path = SAMPLES_DIR / f"{name}.json"
    if name not in sample_names():
        raise ValueError(f"No sample {name!r}; choose one of: {', '.join(sample_names())}.")
    return json.loads(path.read_text())


def _azure_time() -> str:
    return timezone.now().strftime("%Y-%m-%dT%H:%M:%S.%f0Z")  # 7 digits, as Azure sends


def fired_payload(name: str) -> dict[str, Any]:
    """A sample as a new alert: a fresh alertId (in the sample's subscription), fired now."""
    payload = sample_payload(name)
    essentials = payload["data"]["essentials"]
    subscription = essentials["alertId"].split("/")[2]
    essentials["alertId"] = (
        f"/subscriptions/{subscription}/providers/Microsoft.AlertsManagement/alerts/{uuid.uuid4()}"
    )
    essentials["monitorCondition"] = "Fired"
    essentials["firedDateTime"] = _azure_time()
    essentials.pop("resolvedDateTime", None)
    return payload


def resolved_payload(fired: dict[str, Any]) -> dict[str, Any]:
    """The Resolved message Azure sends for a fired alert."""
    essentials = fired["data"]["essentials"]
    essentials["monitorCondition"] = "Resolved"
    essentials["resolvedDateTime"] = _azure_time()
    return fired
