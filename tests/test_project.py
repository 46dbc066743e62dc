import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

from tests.helpers import ROOT


def test_healthz_answers_without_the_database(client: Client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def _settings_with(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; from django.conf import settings; print(settings.DEBUG)",
        ],
        cwd="/",
        env={
            "PYTHONPATH": str(ROOT),
            "DJANGO_SETTINGS_MODULE": "itsm.settings",
            "ITSM_DOTENV_PATH": "",  # never the developer's `.env`
            **env,
        },
        capture_output=True,
        text=True,
        check=False,
    )


def test_settings_require_a_secret_key_when_debug_is_off() -> None:
    result = _settings_with({"DJANGO_DEBUG": "0"})
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY must be set" in result.stderr


def test_settings_accept_the_documented_production_environment() -> None:
    result = _settings_with({"DJANGO_DEBUG": "0", "DJANGO_SECRET_KEY": "x" * 50})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


@pytest.mark.django_db
def test_api_docs_are_served_offline(admin_client: Client) -> None:
    for url in ("/api/docs/", "/api/redoc/"):
        page = admin_client.get(url)
        assert page.status_code == 200
        assert b"cdn.jsdelivr" not in page.content


PRODUCTION_ENV = {
    "DJANGO_DEBUG": "0",
    "DJANGO_SECRET_KEY": "k" * 20 + "-production-secret-key-of-fifty-chars",
    "DJANGO_ALLOWED_HOSTS": "itsm.contoso.com",
    "DJANGO_CSRF_TRUSTED_ORIGINS": "https://itsm.contoso.com",
    "DJANGO_BEHIND_TLS_PROXY": "1",
    "DJANGO_SSL_REDIRECT": "1",
    "DJANGO_HSTS_SECONDS": "31536000",
    "DJANGO_HSTS_INCLUDE_SUBDOMAINS": "1",
    "DJANGO_HSTS_PRELOAD": "1",
}


def _manage(tmp_path: Path, *args: str, **env: str | None) -> subprocess.CompletedProcess:
    """`manage.py ARGS` in the documented production environment, on a database in tmp_path;
    a variable given as None is left out."""
    environment = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "itsm.settings",
        "ITSM_DOTENV_PATH": "",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "SPOOL_DIR": str(tmp_path / "spool"),
        "DEV_SIGNING_KEY_PATH": str(tmp_path / "dev-key.pem"),
        **PRODUCTION_ENV,
        **env,
    }
    return subprocess.run(  # noqa: S603
        [sys.executable, str(ROOT / "manage.py"), *args],
        cwd=tmp_path,
        env={name: value for name, value in environment.items() if value is not None},
        capture_output=True,
        text=True,
        check=False,
    )


DEPLOY_CHECK = ("check", "--deploy", "--fail-level", "WARNING")


def test_deploy_check_is_clean_under_the_documented_production_environment(
    tmp_path: Path,
) -> None:
    result = _manage(tmp_path, *DEPLOY_CHECK)  # on a database not migrated yet, too
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_deploy_check_warns_when_the_secret_key_came_from_dotenv(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("DJANGO_SECRET_KEY=" + "d" * 50 + "\n")
    result = _manage(tmp_path, *DEPLOY_CHECK, DJANGO_SECRET_KEY=None, ITSM_DOTENV_PATH=str(dotenv))
    assert result.returncode != 0
    assert "integrations.W002" in result.stderr
    assert "DJANGO_SECRET_KEY came from a .env file" in result.stderr


def test_demo_is_refused_in_production_and_flagged_when_left_over(tmp_path: Path) -> None:
    assert _manage(tmp_path, "migrate", "-v", "0").returncode == 0
    refused = _manage(tmp_path, "prepare_demo")
    assert refused.returncode != 0
    assert "DJANGO_DEBUG=1" in refused.stderr
    assert not (tmp_path / "dev-key.pem").exists()
    assert "no issues" in _manage(tmp_path, *DEPLOY_CHECK).stdout

    # A demo prepared in development, then the host goes to production.
    assert _manage(tmp_path, "prepare_demo", DJANGO_DEBUG="1").returncode == 0
    result = _manage(tmp_path, *DEPLOY_CHECK)
    assert result.returncode != 0
    assert "(integrations.W001) Connection 'demo' fetches its signing keys over plain http" in (
        result.stderr
    )


def test_healthz_is_not_redirected_to_https(
    client: Client, settings: pytest.FixtureRequest
) -> None:
    settings.SECURE_SSL_REDIRECT = True
    assert client.get("/healthz").status_code == 200
    assert client.get("/api/incidents/").status_code == 301


def _project_copy_with_dotenv(tmp_path: Path, dotenv: str) -> Path:
    """A copy of the project package beside a hostile `.env`, so nothing is written to ROOT."""
    project = tmp_path / "project"
    for package in ("itsm", "core"):  # the settings import the base package
        shutil.copytree(
            ROOT / package, project / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    (project / ".env").write_text(dotenv)
    return project


HOSTILE_DOTENV = "DJANGO_DEBUG=1\nDJANGO_SECRET_KEY=from-the-developers-dotenv\n"
PRINT_SETTINGS = (
    "import django; from django.conf import settings; "
    "print(settings.DEBUG, settings.SECRET_KEY, settings.DOTENV_VARIABLES)"
)


def test_test_settings_never_read_the_developers_dotenv(tmp_path: Path) -> None:
    project = _project_copy_with_dotenv(tmp_path, HOSTILE_DOTENV)
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-c", PRINT_SETTINGS],
        cwd=project,
        env={"PYTHONPATH": str(project), "DJANGO_SETTINGS_MODULE": "itsm.settings_test"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[:2] == [
        "False",
        "test-only-secret-key-0123456789-abcdefghijklmnop",
    ]


def test_settings_read_dotenv_and_record_what_it_supplied(tmp_path: Path) -> None:
    """The positive control: the same copy with the project's settings reads the file."""
    project = _project_copy_with_dotenv(tmp_path, HOSTILE_DOTENV)
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-c", PRINT_SETTINGS],
        cwd=project,
        env={"PYTHONPATH": str(project), "DJANGO_SETTINGS_MODULE": "itsm.settings"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        "True from-the-developers-dotenv ('DJANGO_DEBUG', 'DJANGO_SECRET_KEY')"
    )


def test_subprocesses_of_the_tests_inherit_the_no_dotenv_rule() -> None:
    """gunicorn and manage.py started by tests (with `**os.environ`) read no `.env` either."""
    assert os.environ["ITSM_DOTENV_PATH"] == ""
