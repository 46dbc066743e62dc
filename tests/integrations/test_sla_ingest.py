"""SLA clocks on the webhook's path: opened with the incident, re-targeted by a rise."""

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection as db
from django.test.utils import CaptureQueriesContext

from incidents.models import Incident
from integrations.models import Connection, CorrelationRule
from tests.helpers import STATIC, alert_id, vm_id, with_essentials
from tests.integrations.test_ingest import data_queries

pytestmark = pytest.mark.django_db


def _alert(vm: str, severity: str) -> dict[str, Any]:
    return with_essentials(
        STATIC,
        alertId=alert_id(),
        severity=severity,
        alertRule="cpu-high",
        alertTargetIDs=[vm_id(vm)],
        configurationItems=[vm],
    )


def test_new_incident_from_azure_has_its_clocks(connection: Connection, post_alert: Any) -> None:
    number = post_alert(_alert("vm1", "Sev1")).json()["incident"]
    incident = Incident.objects.get(number=number)
    assert incident.sla_respond_by == incident.opened_at + timedelta(minutes=30)  # P2
    assert incident.sla_resolve_by == incident.opened_at + timedelta(hours=8)
    assert incident.sla_due_at is not None


def test_grouped_alert_raising_the_priority_retargets_the_clocks_without_a_query_more(
    connection: Connection, post_alert: Any
) -> None:
    CorrelationRule.objects.create(name="storms", group_by=["alert_rule"], match={})
    number = post_alert(_alert("vm1", "Sev3")).json()["incident"]  # P4: 8 h to respond
    with CaptureQueriesContext(db) as same:
        assert post_alert(_alert("vm2", "Sev3")).status_code == 200  # grouped, no rise
    with CaptureQueriesContext(db) as rise:
        assert post_alert(_alert("vm3", "Sev0")).status_code == 200  # grouped, P1

    incident = Incident.objects.get(number=number)
    assert incident.priority == 1
    assert incident.sla_respond_minutes == 15
    assert incident.sla_respond_by == incident.opened_at + timedelta(minutes=15)
    assert incident.sla_resolve_by == incident.opened_at + timedelta(hours=4)
    assert len(data_queries(rise)) == len(data_queries(same))
