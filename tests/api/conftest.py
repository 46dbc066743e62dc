"""Fixtures of the REST API tests: a client per role, seeded data, a query counter.

The roles are tests.helpers.ROLES (see the comment there).
"""

from typing import Any

import pytest
from rest_framework.test import APIClient

from integrations.models import Connection, Delivery
from tests.helpers import BUDGET, RESOURCE_HEALTH, STATIC, client_as, fire


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
