"""Every API error is JSON `{"detail", "code"}`; throttling spares the webhook."""

import subprocess
import sys
from typing import Any

import pytest
from django.test import RequestFactory
from rest_framework.exceptions import ValidationError
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from cmdb.models import ConfigurationItem
from core.api import exception_handler
from core.views import server_error
from incidents.api import views as incident_views
from integrations.models import Alert, Delivery
from tests.helpers import ROOT, STATIC, client_as, with_essentials

pytestmark = pytest.mark.django_db


def _assert_error(response: Any, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) >= {"detail", "code"}
    assert body["code"] == code
    return body


@pytest.mark.parametrize(
    "url", ["/api/nothing-here/", "/api/incidents/42/", "/api/incidents/INC0001001/nope/"]
)
def test_unknown_api_urls_answer_json_404(viewer: APIClient, url: str) -> None:
    _assert_error(viewer.get(url), 404, "not_found")
    _assert_error(APIClient().get(url), 404, "not_found")


def test_unknown_pages_outside_the_api_stay_html(client: Any) -> None:
    response = client.get("/nothing-here/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_wrong_method_answers_json_405(operator: APIClient) -> None:
    _assert_error(operator.delete("/api/incidents/"), 405, "method_not_allowed")
    _assert_error(operator.delete("/api/incidents/INC0001001/"), 405, "method_not_allowed")
    _assert_error(operator.get("/api/incidents/INC0001001/start/"), 405, "method_not_allowed")
    _assert_error(operator.put("/api/alerts/1/", {}, format="json"), 405, "method_not_allowed")


def test_a_body_that_is_not_json_answers_415(operator: APIClient) -> None:
    response = operator.post("/api/incidents/", {"title": "form"})  # multipart
    body = _assert_error(response, 415, "unsupported_media_type")
    assert "multipart/form-data" in body["detail"]


def test_malformed_json_answers_400(operator: APIClient) -> None:
    response = operator.post("/api/incidents/", "{", content_type="application/json")
    _assert_error(response, 400, "parse_error")


def test_validation_errors_keep_messages_per_field(operator: APIClient) -> None:
    response = operator.post("/api/incidents/", {"impact": 7}, format="json")
    body = _assert_error(response, 400, "invalid")
    assert set(body["errors"]) == {"title", "impact"}
    assert all(isinstance(m, str) for m in body["errors"]["title"])


def test_a_crash_answers_json_500_without_details(
    viewer: APIClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken() -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(incident_views, "incident_list", broken)
    viewer.raise_request_exception = False
    response = viewer.get("/api/incidents/")
    body = _assert_error(response, 500, "server_error")
    assert "secret" not in body["detail"]


def test_docs_pages_are_served_to_anyone_without_internet(client: Any) -> None:
    for url in ("/api/docs/", "/api/redoc/"):
        response = client.get(url)
        assert response.status_code == 200
        assert b"cdn.jsdelivr" not in response.content


def test_the_schema_is_public(anonymous: APIClient) -> None:
    response = anonymous.get("/api/schema/?format=json")
    assert response.status_code == 200
    assert "/api/incidents/" in response.json()["paths"]


@pytest.fixture
def low_rates(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {"anon": "2/min", "user": "3/min"})


@pytest.mark.usefixtures("low_rates")
def test_api_users_are_throttled_with_json_429(viewer: APIClient) -> None:
    for _ in range(3):
        assert viewer.get("/api/incidents/").status_code == 200
    response = viewer.get("/api/incidents/")
    body = _assert_error(response, 429, "throttled")
    assert int(response["Retry-After"]) > 0
    assert "throttled" in body["detail"].lower()
    # Each user has their own count.
    assert client_as("viewer", "other").get("/api/incidents/").status_code == 200


@pytest.mark.usefixtures("low_rates")
def test_the_webhook_is_never_throttled(post_alert: Any, connection: Any) -> None:
    """Azure stops calling an endpoint for 15 minutes after failed retries: never a 429."""
    statuses = [
        post_alert(with_essentials(STATIC, alertId=f"/t/{n % 3}")).status_code for n in range(12)
    ]
    assert statuses == [201, 201, 201] + [200] * 9
    assert post_alert(STATIC, token="not-a-jwt").status_code == 401  # refused, not throttled


def test_throttle_rates_come_from_the_environment() -> None:
    code = (
        "import django; from django.conf import settings; "
        "print(settings.REST_FRAMEWORK['DEFAULT_THROTTLE_RATES'])"
    )
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-c", code],
        cwd="/",
        env={
            "PYTHONPATH": str(ROOT),
            "DJANGO_SETTINGS_MODULE": "itsm.settings",
            "ITSM_DOTENV_PATH": "",  # never the developer's `.env`
            "DJANGO_SECRET_KEY": "x" * 50,
            "API_THROTTLE_ANON": "5/minute",
            "API_THROTTLE_USER": "100/second",
        },
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "{'anon': '5/minute', 'user': '100/second'}"


def test_the_browsable_api_renders_every_page(superuser: APIClient, incidents: dict) -> None:
    """A person with a session sees HTML pages (with forms), not errors."""
    number, ci, alert = incidents["vm"], ConfigurationItem.objects.first(), Alert.objects.first()
    urls = [
        "/api/incidents/",
        f"/api/incidents/{number}/",
        f"/api/incidents/{number}/journal/",
        "/api/configuration-items/",
        f"/api/configuration-items/{ci.pk}/",
        f"/api/configuration-items/{ci.pk}/incidents/",
        "/api/alerts/",
        f"/api/alerts/{alert.pk}/",
        "/api/connections/",
        "/api/connections/contoso/",
        "/api/deliveries/",
        f"/api/deliveries/{Delivery.objects.first().pk}/",
    ]
    for url in urls:
        response = superuser.get(url, HTTP_ACCEPT="text/html")
        assert response.status_code == 200, url
        assert response["Content-Type"].startswith("text/html"), url


def test_a_list_of_validation_errors_is_kept_under_non_field_errors() -> None:
    response = exception_handler(ValidationError(["Not like this."]), {})
    assert response.data == {
        "detail": "The request is not valid.",
        "code": "invalid",
        "errors": {"non_field_errors": ["Not like this."]},
    }


def test_crashes_outside_the_api_keep_the_html_page() -> None:
    response = server_error(RequestFactory().get("/admin/"))
    assert response.status_code == 500
    assert not response["Content-Type"].startswith("application/json")


def test_options_and_head_need_the_read_permission(viewer: APIClient, incidents: dict) -> None:
    url = f"/api/incidents/{incidents['vm']}/journal/"
    assert viewer.options(url).status_code == 200
    assert viewer.head(url).status_code == 200
    assert client_as("nobody").options(url).status_code == 403
