"""Deploy checks (`manage.py check --deploy`): what must not stay live in production."""

from unittest import mock

import pytest
from django.core import checks
from django.db import OperationalError
from pytest_django import Settings as SettingsWrapper

from integrations.models import Connection
from tests.helpers import TENANT_ID


def _ids(*, deploy: bool) -> list[str]:
    return [m.id for m in checks.run_checks(include_deployment_checks=deploy)]


def _connection(slug: str, jwks_uri: str | None) -> Connection:
    return Connection.objects.create(
        slug=slug, name=slug, tenant_id=TENANT_ID, audiences=["a"], jwks_uri=jwks_uri
    )


@pytest.mark.django_db
def test_http_key_set_check_flags_every_plain_http_connection() -> None:
    _connection("demo", "http://127.0.0.1:8000/dev/jwks.json")
    _connection("local", "HTTP://localhost:9000/keys")
    _connection("contoso", "https://login.microsoftonline.com/common/discovery/v2.0/keys")
    _connection("fabrikam", None)  # Entra ID's default, https
    _connection("old", "http://127.0.0.1:8000/dev/jwks.json")
    Connection.objects.filter(slug="old").update(enabled=False)  # refuses every delivery
    found = [
        m for m in checks.run_checks(include_deployment_checks=True) if m.id == "integrations.W001"
    ]
    assert [m.obj for m in found] == ["demo", "local"]
    assert all(m.level == checks.WARNING for m in found)
    assert "plain http" in found[0].msg
    assert "prepare_demo" in found[0].hint


@pytest.mark.django_db
def test_http_key_set_check_runs_only_with_deploy() -> None:
    _connection("demo", "http://127.0.0.1:8000/dev/jwks.json")
    assert "integrations.W001" in _ids(deploy=True)
    assert "integrations.W001" not in _ids(deploy=False)


@pytest.mark.django_db
def test_http_key_set_check_is_silent_when_the_database_cannot_be_read() -> None:
    with mock.patch.object(Connection.objects, "filter", side_effect=OperationalError("down")):
        assert "integrations.W001" not in _ids(deploy=True)


@pytest.mark.django_db
def test_dotenv_secret_key_check_warns_when_dotenv_supplied_the_key(
    settings: SettingsWrapper,
) -> None:
    settings.DOTENV_VARIABLES = ("DJANGO_DEBUG", "DJANGO_SECRET_KEY")
    assert "integrations.W002" in _ids(deploy=True)
    assert "integrations.W002" not in _ids(deploy=False)
    settings.DOTENV_VARIABLES = ("DJANGO_DEBUG",)
    assert "integrations.W002" not in _ids(deploy=True)
