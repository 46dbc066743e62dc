"""The CMDB API refuses resource IDs its unique index cannot hold, with a 400 (PostgreSQL)."""

import pytest
from rest_framework.test import APIClient

from cmdb.models import ConfigurationItem

pytestmark = pytest.mark.django_db


def test_configuration_item_create_refuses_resource_id_over_1024_bytes(
    operator: APIClient,
) -> None:
    resource_id = "/subscriptions/s/" + "\U0001f600" * 1000  # 1,017 characters

    response = operator.post(
        "/api/configuration-items/", {"azure_resource_id": resource_id}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["code"] == "resource_id_too_long"
    assert "1024 bytes" in response.json()["detail"]
    assert not ConfigurationItem.objects.exists()
