"""Load-balancer probes: /healthz (alive) and /readyz (the database answers)."""

import logging
from unittest import mock

import pytest
from django.db import OperationalError, connections
from django.test import Client
from pytest_django import Settings as SettingsWrapper

# Probes come with the backend's address (or anything) as Host, never the public name.
ODD_HOSTS = ["10.0.0.5:8000", "evil", "[::1]:8000", "itsm.contoso.com"]


@pytest.mark.parametrize("host", ODD_HOSTS)
def test_healthz_answers_whatever_the_host_and_logs_nothing(
    client: Client, caplog: pytest.LogCaptureFixture, host: str
) -> None:
    with caplog.at_level(logging.INFO):
        response = client.get("/healthz", HTTP_HOST=host)
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


def test_healthz_answers_head(client: Client) -> None:
    assert client.head("/healthz", HTTP_HOST="10.0.0.5").status_code == 200


def test_other_paths_still_refuse_unknown_hosts(client: Client) -> None:
    assert client.get("/healthz/x", HTTP_HOST="evil").status_code == 400
    assert client.get("/api/incidents/", HTTP_HOST="evil").status_code == 400


def test_probes_are_not_redirected_to_https(client: Client, settings: SettingsWrapper) -> None:
    settings.SECURE_SSL_REDIRECT = True
    assert client.get("/healthz", HTTP_HOST="10.0.0.5:8000").status_code == 200
    with mock.patch("core.views._database_answers", return_value=True):
        assert client.get("/readyz", HTTP_HOST="10.0.0.5:8000").status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("host", ODD_HOSTS)
def test_readyz_answers_ok_when_the_database_does(
    client: Client, caplog: pytest.LogCaptureFixture, host: str
) -> None:
    with caplog.at_level(logging.INFO):
        response = client.get("/readyz", HTTP_HOST=host)
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


@pytest.mark.django_db
def test_readyz_answers_503_when_the_database_is_down(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    with mock.patch.object(connections["default"], "cursor", side_effect=OperationalError("down")):
        response = client.get("/readyz", HTTP_HOST="10.0.0.5:8000")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable"}
    assert response["Retry-After"] == "5"
    assert "readyz.database_unavailable" in caplog.text
    assert client.get("/readyz").status_code == 200  # and ready again once it answers
