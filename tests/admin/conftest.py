"""Fixtures of the console tests: a signed-in client per role, and incidents opened by Azure.

Roles are the groups of migration integrations.0003 (`operators`, `viewers`), given to
staff users as `manage.py grant_role` does; `staff` is a staff user with no role.
"""

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
from django.contrib import messages
from django.contrib.auth.models import Group
from django.db import connection as db_connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from console.roles import OPERATORS, VIEWERS
from incidents.models import Incident
from integrations.models import Connection
from tests.conftest import with_essentials
from tests.factories import UserFactory

STATIC = "azure/platform-metric-static-threshold-fired.json"
SUBSCRIPTION = "aaaa0a0a-bb1b-cc2c-dd3d-eeeeee4e4e4e"
INCIDENTS = "/admin/incidents/incident/"


def vm_id(name: str, resource_group: str = "rg-web") -> str:
    return (
        f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{resource_group}/providers/"
        f"Microsoft.Compute/virtualMachines/{name}"
    )


def alert_id() -> str:
    return (
        f"/subscriptions/{SUBSCRIPTION}/providers/Microsoft.AlertsManagement/alerts/{uuid.uuid4()}"
    )


def make_staff(username: str, role: str | None = None, **extra: Any) -> Any:
    user = UserFactory(username=username, is_staff=True, **extra)
    if role is not None:
        user.groups.add(Group.objects.get(name=role))
    return user


def signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def operator(db: None) -> Any:
    return make_staff("olga", OPERATORS)


@pytest.fixture
def viewer(db: None) -> Any:
    return make_staff("victor", VIEWERS)


@pytest.fixture
def operator_client(operator: Any) -> Client:
    return signed_in(operator)


@pytest.fixture
def viewer_client(viewer: Any) -> Client:
    return signed_in(viewer)


@pytest.fixture
def staff_client(db: None) -> Client:
    return signed_in(make_staff("stan"))


@pytest.fixture
def superuser_client(db: None) -> Client:
    return signed_in(make_staff("root", is_superuser=True))


Fire = Callable[..., Incident]


@pytest.fixture
def fire(post_alert: Any, connection: Connection) -> Fire:
    """Send a new Azure alert through the webhook; return the incident it opened.

    `targets` are VM names (each becomes a CI); other keywords change the essentials.
    """

    def fire(
        *targets: str,
        fixture: str = STATIC,
        fired_at: datetime | None = None,
        **essentials: Any,
    ) -> Incident:
        essentials.setdefault("alertId", alert_id())
        if targets:
            essentials["alertTargetIDs"] = [vm_id(name) for name in targets]
            essentials["configurationItems"] = list(targets)
        if fired_at is not None:
            essentials["firedDateTime"] = fired_at.isoformat().replace("+00:00", "Z")
        response = post_alert(with_essentials(fixture, **essentials))
        assert response.status_code in (200, 201), response.content
        return Incident.objects.get(number=response.json()["incident"])

    return fire


@pytest.fixture
def incident(fire: Fire) -> Incident:
    return fire("vm-web-1", fired_at=timezone.now())


def count_queries(client: Client, url: str) -> int:
    """How many SQL queries a GET of `url` runs (it must answer 200)."""
    with CaptureQueriesContext(db_connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(ctx.captured_queries)


def messages_of(response: Any) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


def errors_of(response: Any) -> list[str]:
    if not response.context:
        return []
    return [str(m) for m in response.context["messages"] if m.level == messages.ERROR]
