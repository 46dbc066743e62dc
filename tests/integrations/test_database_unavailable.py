import pytest
from django.db import OperationalError

from incidents.models import Incident
from integrations.api import views


@pytest.mark.django_db
def test_webhook_answers_503_with_retry_after_when_the_database_is_down(
    post_alert,
    connection,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def down(**kwargs: object) -> None:
        raise OperationalError("connection refused")

    monkeypatch.setattr(views, "connection_get_for_webhook", down)
    response = post_alert("azure/resource-health-fired.json")
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert response.json()["code"] == "database_unavailable"
    assert not Incident.objects.exists()


@pytest.mark.django_db
def test_webhook_answers_503_when_the_database_fails_mid_delivery(
    post_alert,
    connection,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def down(**kwargs: object) -> None:
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(views, "delivery_receive", down)
    response = post_alert("azure/resource-health-fired.json")
    assert response.status_code == 503
    assert not Incident.objects.exists()
