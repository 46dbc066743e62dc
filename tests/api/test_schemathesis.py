"""The server keeps to its OpenAPI document: Schemathesis against a live server.

A real HTTP server (pytest-django's live server, on the test database: SQLite or
PostgreSQL) is seeded with a superuser's token, incidents from real payloads, a CI and
connections. Schemathesis loads /api/schema/ from it and calls every operation with
generated requests (valid and invalid), checking that nothing answers 5xx and that every
answer (status code, content type, body) is one the document describes.

Bounded: a fixed seed, the coverage phase (boundary and invalid values, a fixed set) and
25 fuzzed examples per operation; about 30 seconds. Destructive calls are harmless to later
ones: a deleted or closed object answers 404 or 409, which the document describes. The
webhook is called too: without an Entra ID token it can only answer 401, 404, 413 or 415.
"""

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from pytest_django.live_server_helper import LiveServer
from rest_framework.authtoken.models import Token
from rest_framework.throttling import SimpleRateThrottle

from integrations.models import Connection
from tests.factories import AssignmentGroupFactory, ConfigurationItemFactory
from tests.helpers import BUDGET, RESOURCE_HEALTH, STATIC, TENANT_ID, fire

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
    ]
)
MAX_EXAMPLES = 25  # per operation, in the fuzzing phase (the coverage phase is fixed)
# A hard stop for a hung run, not a speed check: 75 operations give ~6,500 cases, 4.5 min
# on this 2-core machine when idle (263 s on 2026-12-02), so 300 s cut runs short.
TIMEOUT_SECONDS = 900
SEED = 20261126


@pytest.fixture
def seeded(post_alert: Any, connection: Connection) -> str:
    """Data for the generated requests to meet; return a superuser's API token."""
    for n, name in enumerate((RESOURCE_HEALTH, STATIC, BUDGET)):
        fire(post_alert, name, f"/live/{n}")
    Connection.objects.create(slug="spare", name="Spare", tenant_id=TENANT_ID, audiences=["a"])
    ConfigurationItemFactory(name="core-switch", azure_resource_id=None, ci_class="net/switch")
    AssignmentGroupFactory(name="Cloud ops")
    root = get_user_model().objects.create_superuser("schemathesis", "", "unused")
    return Token.objects.create(user=root).key


def test_the_server_keeps_to_its_openapi_document(
    live_server: LiveServer, seeded: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Thousands of requests from one user within a minute are the point here.
    monkeypatch.setattr(
        SimpleRateThrottle, "THROTTLE_RATES", {"anon": "100000/min", "user": "100000/min"}
    )
    command = [
        str(SCHEMATHESIS),
        "run",
        f"{live_server.url}/api/schema/?format=json",
        "--header",
        f"Authorization: Token {seeded}",
        # A new connection per request: with keep-alive, the live server and the client's
        # delayed ACKs cost ~40 ms per request (Nagle), 5x the request itself.
        "--header",
        "Connection: close",
        "--checks",
        CHECKS,
        "--max-examples",
        str(MAX_EXAMPLES),
        "--seed",
        str(SEED),
        "--phases",
        "examples,coverage,fuzzing",
        "--workers",
        "1",
        "--generation-database",
        "none",
        "--request-timeout",
        "20",
        "--suppress-health-check",
        "all",
        "--no-color",
    ]
    result = subprocess.run(  # noqa: S603 - our own venv's schemathesis, fixed arguments
        command,
        cwd=tmp_path,  # no config file of ours is picked up; reports stay out of the repo
        env=os.environ.copy(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT_SECONDS,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-20000:]
    assert " failed" not in output, output[-20000:]
