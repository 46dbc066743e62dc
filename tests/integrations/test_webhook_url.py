"""The webhook URL works with and without its trailing slash: Azure does not follow a 301."""

import json
from typing import Any

import pytest

from tests.helpers import STATIC, load_fixture, make_token


def _post(post_alert: Any, path: str, body: str) -> Any:
    return post_alert.client.generic(
        "POST",
        path,
        body,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {make_token(post_alert.key)}",
    )


@pytest.mark.django_db
@pytest.mark.parametrize("append_slash", [True, False])
@pytest.mark.parametrize(
    "path", ["/api/integrations/azure-monitor/contoso/", "/api/integrations/azure-monitor/contoso"]
)
def test_webhook_url_ingests_with_and_without_trailing_slash(
    connection: Any, post_alert: Any, settings: Any, append_slash: bool, path: str
) -> None:
    settings.APPEND_SLASH = append_slash
    response = _post(post_alert, path, json.dumps(load_fixture(STATIC)))
    assert response.status_code == 201, response.content


@pytest.mark.django_db
def test_webhook_url_without_slash_answers_404_for_unknown_slug(
    connection: Any, post_alert: Any
) -> None:
    response = _post(post_alert, "/api/integrations/azure-monitor/nobody", "{}")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
