"""Fixtures of the REST API tests: a client per role, seeded data, a query counter.

Roles: anonymous; `nobody` (signed in, no permission); `viewer` and `operator` (the
groups of migration integrations.0003, not staff: API-only users); `staff` (an operator
who may use the console, hence the staff-only endpoints); `superuser`.
"""

import importlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.apps import apps
from django.contrib.auth.management import create_permissions
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.management import create_contenttypes
from django.core.cache import cache
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from integrations.models import Connection, Delivery
from tests.conftest import with_essentials
from tests.factories import UserFactory

ROLES = ("anonymous", "nobody", "viewer", "operator", "staff", "superuser")

VM_ID = (
    "/subscriptions/aaaa0a0a-bb1b-cc2c-dd3d-eeeeee4e4e4e/resourcegroups/test-RG/providers/"
    "microsoft.compute/virtualmachines/test-VM"
)
RESOURCE_HEALTH = "azure/resource-health-fired.json"
STATIC = "azure/platform-metric-static-threshold-fired.json"
BUDGET = "azure/budget-costalerts-actual-fired.json"
LOG_V2 = "azure/log-alerts-v2-fired.json"


@pytest.fixture(autouse=True)
def _fresh_throttle_counts() -> Iterator[None]:
    """Throttle counters live in the process-wide cache: start every test from zero."""
    cache.clear()
    yield
    cache.clear()


def client_for(user: Any) -> APIClient:
    """An API client that authenticates as `user` with a DRF token, as scripts do."""
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


# The roles as migration integrations.0003 creates them.
ROLE_PERMISSIONS = importlib.import_module("integrations.migrations.0003_roles").ROLE_PERMISSIONS


def role_group(name: str) -> Group:
    """The `operators` or `viewers` group; made again as the migration makes it when a
    transactional test flushed the database."""
    group, created = Group.objects.get_or_create(name=name)
    if created:
        # A flush without post_migrate (after a serialized-rollback test) also removes
        # content types and permissions: make them as `migrate` does (idempotent).
        for app_config in apps.get_app_configs():
            create_contenttypes(app_config, verbosity=0)
            create_permissions(app_config, verbosity=0)
        for dotted in ROLE_PERMISSIONS[name]:
            app_label, codename = dotted.split(".")
            group.permissions.add(
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
            )
    return group


def make_user(role: str, username: str | None = None) -> Any:
    """A user in a role (see the module docstring); None for anonymous."""
    if role == "anonymous":
        return None
    user = UserFactory(username=username or role)
    if role in ("viewer", "operator", "staff"):
        user.groups.add(role_group("viewers" if role == "viewer" else "operators"))
    if role == "staff":
        user.is_staff = True
    if role == "superuser":
        user.is_staff = user.is_superuser = True
    user.save()
    return user


def client_as(role: str, username: str | None = None) -> APIClient:
    user = make_user(role, username)
    return APIClient() if user is None else client_for(user)


@pytest.fixture
def anonymous() -> APIClient:
    return APIClient()


@pytest.fixture
def viewer(db: None) -> APIClient:
    return client_as("viewer", "vera")


@pytest.fixture
def operator(db: None) -> APIClient:
    return client_as("operator", "olga")


@pytest.fixture
def staff(db: None) -> APIClient:
    return client_as("staff", "sam")


@pytest.fixture
def superuser(db: None) -> APIClient:
    return client_as("superuser", "root")


def fire(post_alert: Any, name: str, alert_id: str, **essentials: Any) -> str:
    """Post a fixture as a new alert (its own alertId); return the incident number."""
    response = post_alert(with_essentials(name, alertId=alert_id, **essentials))
    assert response.status_code == 201, response.json()
    return response.json()["incident"]


@pytest.fixture
def incidents(post_alert: Any, connection: Connection) -> dict[str, str]:
    """Three incidents from real payloads: a VM (Sev1), a storage account, a budget."""
    return {
        "vm": fire(post_alert, RESOURCE_HEALTH, "/a/1", severity="Sev1"),
        "storage": fire(post_alert, STATIC, "/a/2"),
        "budget": fire(post_alert, BUDGET, "/a/3"),
    }


@pytest.fixture
def delivery(post_alert: Any, connection: Connection) -> Delivery:
    """One stored delivery (it opened an incident)."""
    fire(post_alert, STATIC, "/d/1")
    return Delivery.objects.get()


def count_queries(client: APIClient, url: str) -> int:
    """How many SQL queries one GET of `url` takes (it must answer 200)."""
    with CaptureQueriesContext(db_connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, response.content
    return len(ctx.captured_queries)


def assert_constant_queries(client: APIClient, url: str, add_rows: Callable[[], None]) -> None:
    """The query count of `url` does not grow with the rows `add_rows` adds."""
    before = count_queries(client, url)
    add_rows()
    assert count_queries(client, url) == before


def results(response: Any) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.content
    return response.json()["results"]
