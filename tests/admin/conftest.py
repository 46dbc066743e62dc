"""Fixtures of the console tests: a signed-in client per role, and incidents opened by Azure.

Roles are the groups of migration integrations.0003 (`operators`, `viewers`), given to
staff users as `manage.py grant_role` does; `staff` is a staff user with no role.
"""

from datetime import datetime
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from console.roles import OPERATORS, VIEWERS
from incidents.models import Incident
from integrations.models import Connection
from tests.helpers import STATIC, Fire, alert_id, make_staff, signed_in, vm_id, with_essentials


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
