"""Who may do what, for every operation of the API (the webhook has its own tests).

Roles (tests.helpers.ROLES): anonymous, nobody (signed in, no permission), viewer,
operator, staff (an operator who may use the console), superuser.
"""

import re
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from cmdb.models import ConfigurationItem
from incidents.models import AssignmentGroup, Incident
from integrations.maintenance import maintenance_window_create
from integrations.merging import incident_merge
from integrations.models import Alert, AssignmentRule, Connection, CorrelationRule, Delivery
from tests.helpers import ROLES, TENANT_ID, client_as

pytestmark = pytest.mark.django_db

READ = (401, 403, 200, 200, 200, 200)
STAFF_READ = (401, 403, 403, 403, 200, 200)
MISSING = (401, 403, 404, 404, 404, 404)


def _write(ok: int) -> tuple[int, ...]:
    return (401, 403, 403, ok, ok, ok)


def _superuser_only(ok: int) -> tuple[int, ...]:
    return (401, 403, 403, 403, 403, ok)


SPEC = {"slug": "fabrikam", "tenant_id": TENANT_ID, "audiences": ["api://fab"]}
WINDOW = {"name": "w", "starts_at": "2030-01-01T20:00:00Z", "ends_at": "2030-01-01T23:00:00Z"}

# (method, path, body, expected status per role in ROLES order)
CASES: list[tuple[str, str, Any, tuple[int, ...]]] = [
    ("get", "/api/incidents/", None, READ),
    ("post", "/api/incidents/", {"title": "By hand"}, _write(201)),
    ("get", "/api/incidents/{number}/", None, READ),
    ("get", "/api/incidents/INC0999999/", None, MISSING),
    ("patch", "/api/incidents/{number}/", {"impact": 1}, _write(200)),
    ("post", "/api/incidents/{number}/assign/", {"assigned_to": None}, _write(200)),
    ("post", "/api/incidents/{number}/start/", None, _write(200)),
    ("post", "/api/incidents/INC0999999/start/", None, (401, 403, 403, 404, 404, 404)),
    ("post", "/api/incidents/{number}/hold/", {"reason": "vendor"}, _write(200)),
    ("post", "/api/incidents/{number}/resolve/", {"resolution_code": "solved"}, _write(200)),
    ("post", "/api/incidents/{resolved}/close/", None, _write(200)),
    ("post", "/api/incidents/{number}/cancel/", {"reason": "noise"}, _write(200)),
    ("post", "/api/incidents/{resolved}/reopen/", {"reason": "again"}, _write(200)),
    ("get", "/api/incidents/{number}/journal/", None, READ),
    ("post", "/api/incidents/{number}/journal/", {"message": "Note"}, _write(201)),
    ("get", "/api/configuration-items/", None, READ),
    ("post", "/api/configuration-items/", {"name": "sw", "ci_class": "net/sw"}, _write(201)),
    ("get", "/api/configuration-items/{ci}/", None, READ),
    ("get", "/api/configuration-items/999999/", None, MISSING),
    ("put", "/api/configuration-items/{ci}/", {"name": "a", "ci_class": "b"}, _write(200)),
    ("patch", "/api/configuration-items/{ci}/", {"name": "renamed"}, _write(200)),
    ("get", "/api/configuration-items/{ci}/incidents/", None, READ),
    ("get", "/api/alerts/", None, READ),
    ("get", "/api/alerts/{alert}/", None, READ),
    ("get", "/api/connections/", None, STAFF_READ),
    ("post", "/api/connections/", SPEC, _superuser_only(201)),
    ("get", "/api/connections/contoso/", None, STAFF_READ),
    ("put", "/api/connections/contoso/", {**SPEC, "slug": "contoso"}, _superuser_only(200)),
    ("patch", "/api/connections/contoso/", {"enabled": False}, _superuser_only(200)),
    ("delete", "/api/connections/spare/", None, _superuser_only(204)),
    ("get", "/api/deliveries/", None, STAFF_READ),
    ("get", "/api/deliveries/{delivery}/", None, STAFF_READ),
    ("post", "/api/deliveries/{delivery}/replay/", None, STAFF_READ),
    ("get", "/api/assignment-groups/", None, READ),
    ("post", "/api/assignment-groups/", {"name": "New team"}, _superuser_only(201)),
    ("get", "/api/assignment-groups/{group}/", None, READ),
    ("put", "/api/assignment-groups/{group}/", {"name": "Renamed"}, _superuser_only(200)),
    ("patch", "/api/assignment-groups/{group}/", {"description": "d"}, _superuser_only(200)),
    ("delete", "/api/assignment-groups/{spare_group}/", None, _superuser_only(204)),
    ("get", "/api/assignment-rules/", None, STAFF_READ),
    (
        "post",
        "/api/assignment-rules/",
        {"name": "n", "assignment_group": "Web"},
        _superuser_only(201),
    ),
    ("get", "/api/assignment-rules/{rule}/", None, STAFF_READ),
    (
        "put",
        "/api/assignment-rules/{rule}/",
        {"name": "r", "assignment_group": "Web"},
        _superuser_only(200),
    ),
    ("patch", "/api/assignment-rules/{rule}/", {"enabled": False}, _superuser_only(200)),
    ("delete", "/api/assignment-rules/{rule}/", None, _superuser_only(204)),
    ("post", "/api/assignment-rules/test/", {"delivery": "{delivery}"}, STAFF_READ),
    ("get", "/api/notification-channels/", None, STAFF_READ),
    (
        "post",
        "/api/notification-channels/",
        {"name": "n", "kind": "slack", "target": "https://hooks.example.test/x"},
        _superuser_only(201),
    ),
    ("get", "/api/notification-channels/{channel}/", None, STAFF_READ),
    ("patch", "/api/notification-channels/{channel}/", {"enabled": False}, _superuser_only(200)),
    ("delete", "/api/notification-channels/{spare_channel}/", None, _superuser_only(204)),
    ("post", "/api/notification-channels/{unreachable_channel}/test/", None, _superuser_only(200)),
    ("get", "/api/notification-rules/", None, STAFF_READ),
    (
        "post",
        "/api/notification-rules/",
        {"channel": "ch", "events": ["incident_opened"]},
        _superuser_only(201),
    ),
    ("get", "/api/notification-rules/{notification_rule}/", None, STAFF_READ),
    (
        "patch",
        "/api/notification-rules/{notification_rule}/",
        {"max_priority": 2},
        _superuser_only(200),
    ),
    ("delete", "/api/notification-rules/{notification_rule}/", None, _superuser_only(204)),
    ("get", "/api/incidents/{number}/notifications/", None, READ),
    ("get", "/api/sla-targets/", None, STAFF_READ),
    ("get", "/api/sla-targets/1/", None, STAFF_READ),
    ("patch", "/api/sla-targets/1/", {"respond_minutes": 10}, _superuser_only(200)),
    ("get", "/api/maintenance-windows/", None, READ),
    ("post", "/api/maintenance-windows/", WINDOW, _write(201)),
    ("get", "/api/maintenance-windows/{window}/", None, READ),
    ("put", "/api/maintenance-windows/{window}/", WINDOW, _write(200)),
    ("patch", "/api/maintenance-windows/{window}/", {"reason": "r"}, _write(200)),
    ("delete", "/api/maintenance-windows/{spare_window}/", None, _write(204)),
    ("post", "/api/maintenance-windows/{window}/end/", None, _write(200)),
    ("get", "/api/maintenance-windows/{window}/alerts/", None, READ),
    ("get", "/api/correlation-rules/", None, STAFF_READ),
    (
        "post",
        "/api/correlation-rules/",
        {"name": "n", "group_by": ["target"]},
        _superuser_only(201),
    ),
    ("get", "/api/correlation-rules/{correlation_rule}/", None, STAFF_READ),
    (
        "put",
        "/api/correlation-rules/{correlation_rule}/",
        {"name": "c", "group_by": ["target"]},
        _superuser_only(200),
    ),
    (
        "patch",
        "/api/correlation-rules/{correlation_rule}/",
        {"enabled": False},
        _superuser_only(200),
    ),
    ("delete", "/api/correlation-rules/{correlation_rule}/", None, _superuser_only(204)),
    ("post", "/api/incidents/{number}/merge/", {"into": "{resolved}"}, _write(200)),
    ("post", "/api/incidents/{number}/split/", {"alert_ids": ["{split_alert}"]}, _write(201)),
    ("get", "/api/schema/", None, (200, 200, 200, 200, 200, 200)),
]


@pytest.fixture
def world(incidents: dict, connection: Connection, operator: APIClient) -> dict[str, Any]:
    """One of everything, and the values to put in the paths."""
    Connection.objects.create(slug="spare", name="s", tenant_id=TENANT_ID, audiences=["a"])
    operator.post(
        f"/api/incidents/{incidents['storage']}/resolve/",
        {"resolution_code": "solved"},
        format="json",
    )
    # The VM's incident holds the budget's alert too, so it can be split.
    merged = incident_merge(
        incident=Incident.objects.get(number=incidents["budget"]),
        into=Incident.objects.get(number=incidents["vm"]),
        actor="test",
    )
    web = AssignmentGroup.objects.create(name="Web")
    now = timezone.now()
    window, spare_window = (
        maintenance_window_create(name=n, starts_at=now - hour, ends_at=now + hour)
        for n, hour in (("w", timedelta(hours=1)), ("spare", timedelta(hours=1)))
    )
    return {
        "number": incidents["vm"],
        "resolved": incidents["storage"],
        "ci": ConfigurationItem.objects.first().pk,
        "alert": Alert.objects.first().pk,
        "delivery": Delivery.objects.first().pk,
        "group": web.pk,
        "spare_group": AssignmentGroup.objects.create(name="Spare").pk,
        "rule": AssignmentRule.objects.create(name="r", assignment_group=web).pk,
        "window": window.pk,
        "spare_window": spare_window.pk,
        "correlation_rule": CorrelationRule.objects.create(name="c", group_by=["target"]).pk,
        **_notification_world(),
        "split_alert": Alert.objects.get(incident=merged.target, alert_id="/a/3").alert_id,
    }


def _notification_world() -> dict[str, Any]:
    from notifications.services import notification_channel_create, notification_rule_create

    channel = notification_channel_create(name="ch", kind="slack", target="https://h.test/")
    spare = notification_channel_create(name="spare", kind="slack", target="https://h.test/")
    # A closed loopback port: the test's try fails at once, without leaving the machine.
    unreachable = notification_channel_create(
        name="down", kind="webhook", target="http://127.0.0.1:9/"
    )
    rule = notification_rule_create(channel=channel, events=["incident_opened"])
    return {
        "channel": channel.pk,
        "spare_channel": spare.pk,
        "unreachable_channel": unreachable.pk,
        "notification_rule": rule.pk,
    }


def _fill(value: Any, world: dict[str, Any]) -> Any:
    """A body value with the world's values put in (`{delivery}` as an id)."""
    if value == "{delivery}":
        return int(value.format(**world))
    if isinstance(value, str):
        return value.format(**world)
    if isinstance(value, list):
        return [_fill(v, world) for v in value]
    return value


@pytest.mark.parametrize(("role", "index"), [(r, i) for i, r in enumerate(ROLES)])
@pytest.mark.parametrize(
    ("method", "path", "body", "expected"), CASES, ids=[f"{m} {p}" for m, p, _, _ in CASES]
)
def test_permissions(
    world: dict, role: str, index: int, method: str, path: str, body: Any, expected: tuple
) -> None:
    client = client_as(role, f"{role}-2")
    url = path.format(**world)
    if isinstance(body, dict):
        body = {k: _fill(v, world) for k, v in body.items()}
    response = getattr(client, method)(url, body, format="json")
    assert response.status_code == expected[index], response.content
    if response.status_code >= 400:
        assert set(response.json()) == {"detail", "code"}
        assert response.json()["code"] in ("not_authenticated", "permission_denied", "not_found")
    if response.status_code == 401:
        assert response["WWW-Authenticate"] == "Token"


def test_a_user_without_view_permission_cannot_tell_numbers_apart(world: dict) -> None:
    """403 for a known and an unknown number alike: nothing to learn by guessing."""
    client = client_as("nobody")
    known = client.get(f"/api/incidents/{world['number']}/")
    unknown = client.get("/api/incidents/INC0999999/")
    assert (known.status_code, known.json()) == (unknown.status_code, unknown.json())


def _template(path: str) -> str:
    """/api/incidents/INC0001001/start/ and /api/incidents/{number}/start/ alike."""
    variable = re.compile(r"\{.*\}|INC[0-9]+|[0-9]+|contoso|spare")
    return "/".join("{}" if variable.fullmatch(part) else part for part in path.split("/"))


def test_every_operation_of_the_schema_is_in_the_matrix() -> None:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    operations = {
        (method, _template(path))
        for path, item in schema["paths"].items()
        for method in item
        if "integrations/azure-monitor" not in path
    }
    covered = {(method, _template(path)) for method, path, _, _ in CASES}
    assert operations - covered == set()
